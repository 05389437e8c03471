"""Small facts about values that compare, diff, filters, render and plot all need, written once."""
from __future__ import annotations

import json
import math
import re
from typing import Any

from expkit.runstore import SEED_KEY, config_hash


def is_number(value: Any) -> bool:
    """An int or float, not a bool (True is an int to Python, never a metric to us)."""
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def mean_and_std(values: list[Any]) -> tuple[float | None, float | None]:
    """Mean and sample standard deviation (n - 1) of the finite numbers; std None below two."""
    numbers = [v for v in values if is_number(v) and math.isfinite(v)]
    if not numbers:
        return None, None
    mean = sum(numbers) / len(numbers)
    if len(numbers) < 2:
        return mean, None
    return mean, math.sqrt(sum((x - mean) ** 2 for x in numbers) / (len(numbers) - 1))


def data_identity(run) -> str | None:
    """The content hash of a run's data file (run.json's data_fingerprint), None for named datasets and
    runs from before fingerprints. Grouping uses it instead of dataset.path, so moving the data folder
    does not split a seed group."""
    fingerprint = run.info.get("data_fingerprint")
    return fingerprint.get("sha256") if isinstance(fingerprint, dict) else None


def seed_group_key(run) -> str:
    """Runs whose configs are equal apart from experiment.seed (and, for file data, whose data has the
    same content wherever it lies) share this key (one seed group)."""
    config, sha = run.config, data_identity(run)
    if sha and isinstance(config.get("dataset"), dict):
        config = {**config, "dataset": {**config["dataset"], "path": sha}}
    return config_hash(config, ignore=[SEED_KEY])


def format_number(value: float) -> str:
    """Metrics compactly: 4 decimals from 0.1 up (0.9512, 1.0000, 12.3457), 4 significant digits below
    (0.001234, 1.2e-05) and for large values (1.235e+06)."""
    if value != value or value in (math.inf, -math.inf):
        return str(value)
    if value == 0:
        return "0"
    if 0.1 <= abs(value) < 1e6:
        return f"{value:.4f}"
    return f"{value:.4g}"


def flow(value: Any) -> str:
    """A config value the way it reads in YAML flow style: {type: Dense, units: 10}, [toy, xor], null."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value)
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {flow(v)}" for k, v in value.items()) + "}"
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(flow(v) for v in value) + "]"
    text = str(value)
    plain = re.fullmatch(r"[A-Za-z_][\w./-]*", text) and text.lower() not in ("null", "true", "false", "yes", "no",
                                                                              "on", "off", "none")
    return text if plain else json.dumps(text)
