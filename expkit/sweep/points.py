"""Sweeps: expand a config's variants, grid, random samples and seeds into points, validate every
point before training any, and run them in fresh processes, skipping points that already completed.

A point's identity is runstore's `identify`: the config keys that differ from the defaults and the
content of its data files, recorded as `identity` in each run.json, so re-running a sweep finds the
runs it already made in its folder, whatever their folder names, even after a schema default was added
or the data folder moved. Runs from before (no identity recorded) match by the hash of their whole
resolved config, as they always did.
"""
from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from expkit.config.loader import LoadedConfig, load_config, resolved_data
from expkit.config.sweep import RandomParam, SweepConfig
from expkit.errors import ConfigError, ExpkitError
from expkit.runstore import SEED_KEY, Run, config_hash, identify, load_runs


@dataclass
class Point:
    index: int
    overrides: list[str]                  # --set items, in order
    values: dict[str, Any]                # the swept keys' values at this point
    loaded: LoadedConfig | None = None
    hash: str = ""
    legacy_hash: str = ""                 # the whole resolved config's hash: matches runs from before identities
    existing: list[Run] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)  # extra environment for its process (a search trial's identity)

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={_short(v)}" for k, v in self.values.items()) or "(base config)"

    @property
    def done(self) -> bool:
        return any(r.status == "completed" for r in self.existing)


def _short(value: Any) -> str:
    text = json.dumps(value) if isinstance(value, (list, dict)) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _yaml_value(value: Any) -> str:
    return yaml.safe_dump(value, default_flow_style=True, width=1_000_000).strip().removesuffix("\n...")


def merge_cli(spec: SweepConfig | None, grid: dict[str, list], random: dict[str, RandomParam],
              samples: int | None, seeds: int | list[int] | None, name: str | None) -> SweepConfig:
    """The file's sweep section with the command line's --grid/--random/--samples/--seeds on top."""
    spec = spec or SweepConfig()
    data = spec.model_dump(exclude_none=True)
    data["grid"] = {**data.get("grid", {}), **grid}
    if random or samples:
        params = {**(spec.random.params if spec.random else {}), **random}
        count = samples or (spec.random.samples if spec.random else None)
        if not params or not count:
            raise ExpkitError("random search needs both --random KEY=KIND:LOW:HIGH (or a sweep.random.params "
                              "section) and --samples N")
        data["random"] = {"samples": count, "params": {k: v.model_dump(exclude_none=True) for k, v in params.items()}}
    if seeds is not None:
        data["seeds"] = seeds
    if name:
        data["name"] = name
    return SweepConfig.model_validate(data)


def draw(param: RandomParam, rng) -> Any:
    """One value of `param` from `rng`, a numpy Generator."""
    if param.choice is not None:
        return param.choice[int(rng.integers(len(param.choice)))]
    if param.int_uniform is not None:
        return int(rng.integers(param.int_uniform[0], param.int_uniform[1] + 1))
    if param.log_uniform is not None:
        low, high = param.log_uniform
        return float(f"{math.exp(rng.uniform(math.log(low), math.log(high))):.6g}")
    return float(f"{rng.uniform(*param.uniform):.6g}")


def expand(spec: SweepConfig, base_seed: int, base_name: str) -> list[Point]:
    """Every point: variants x grid x random samples x seeds, in a fixed order (the same every time)."""
    variants = spec.variants or [None]
    grid_keys = list(spec.grid)
    grid = list(itertools.product(*spec.grid.values())) if grid_keys else [()]
    samples: list[dict] = [{}]
    if spec.random:
        import numpy as np  # here, not at the top: compare and the API must not load numpy
        rng = np.random.default_rng(base_seed)  # the same sweep draws the same points: re-runs resume
        samples = [{k: draw(p, rng) for k, p in spec.random.params.items()} for _ in range(spec.random.samples)]
    seeds: list[int | None] = [None]
    if spec.seeds is not None:
        seeds = list(range(spec.seeds)) if isinstance(spec.seeds, int) else list(spec.seeds)
    points = []
    for variant, combo, sample, seed in itertools.product(variants, grid, samples, seeds):
        values: dict[str, Any] = {}
        overrides: list[str] = []
        if variant is not None:
            values["experiment.name"] = f"{base_name}-{variant.name}"
            overrides.append(f"experiment.name={base_name}-{variant.name}")
            overrides += [f"{k}={_yaml_value(v)}" for k, v in variant.set.items()]
        for key, value in [*zip(grid_keys, combo), *sample.items()]:
            values[key] = value
            overrides.append(f"{key}={_yaml_value(value)}")
        if seed is not None:
            values[SEED_KEY] = seed
            overrides.append(f"{SEED_KEY}={seed}")
        points.append(Point(len(points) + 1, overrides, values))
    return points


def validate_points(file: Path, points: list[Point], extra: list[str]) -> None:
    """Load every point's config; all the problems of all points are raised together."""
    failures = []
    for point in points:
        try:
            point.loaded = load_config(file, [*extra, *point.overrides])
            point.hash = identify(point.loaded.config)[0]
            point.legacy_hash = config_hash(resolved_data(point.loaded.config))
        except ConfigError as exc:
            failures.append(f"point {point.index} ({point.label}):\n  " + str(exc).replace("\n", "\n  "))
    if failures:
        raise ExpkitError(f"{len(failures)} of {len(points)} sweep points are invalid; nothing was trained:\n"
                          + "\n".join(failures))
    seen: dict[str, int] = {}
    for point in points:
        if point.hash in seen:
            raise ExpkitError(f"points {seen[point.hash]} and {point.index} resolve to the same config "
                              f"({point.label}): the sweep repeats itself; remove the duplicate values")
        seen[point.hash] = point.index


def _identity_of_older_run(run: Run) -> str | None:
    """A run from before identities were recorded: its config read with today's schema, or None when
    today's schema refuses it (then only the whole-config hash can match it)."""
    from pydantic import ValidationError
    from expkit.config.experiment import ExperimentConfig
    try:
        return identify(ExperimentConfig.model_validate(run.config))[0]
    except (ValidationError, ValueError, TypeError, OSError):
        return None


def attach_existing(points: list[Point], sweep_dir: Path) -> None:
    """Find the runs each point already has in the sweep folder (by config hash)."""
    if not sweep_dir.is_dir():
        return
    by_identity: dict[str, list[Run]] = {}
    by_legacy: dict[str, list[Run]] = {}
    for run in load_runs([sweep_dir]):
        if isinstance(run.info.get("identity"), str):
            by_identity.setdefault(run.info["identity"], []).append(run)
        else:
            identity = _identity_of_older_run(run)
            (by_identity if identity else by_legacy).setdefault(identity or config_hash(run.config), []).append(run)
    for point in points:
        point.existing = by_identity.get(point.hash, []) + by_legacy.get(point.legacy_hash, [])
