"""sweep.json (the points, their values and statuses), the keys a sweep varies and their HParams domains."""
from __future__ import annotations

import json
import os
from pathlib import Path

from expkit.config.sweep import SweepConfig
from expkit.runstore import write_json
from expkit.sweep.points import Point


def write_manifest(sweep_dir: Path, file: Path, spec: SweepConfig, points: list[Point], extra: list[str],
                   statuses: dict[int, dict]) -> None:
    write_json(sweep_dir / "sweep.json", {
        "name": sweep_dir.name, "config": str(file), "overrides": extra,
        "sweep": spec.model_dump(mode="json", exclude_none=True),
        "varying_keys": varying_keys(points),
        "points": [{"index": p.index, "hash": p.hash, "values": p.values, "overrides": p.overrides,
                    **statuses.get(p.index, {})} for p in points],
    })


def varying_keys(points: list[Point]) -> list[str]:
    keys: list[str] = []
    for point in points:
        keys += [k for k in point.values if k not in keys]
    return [k for k in keys if len({json.dumps(p.values.get(k), sort_keys=True) for p in points}) > 1]


def hparam_domains(spec: SweepConfig, points: list[Point]) -> dict[str, dict]:
    """What each varying key could take, for TensorBoard's HParams: grid and choice values are
    discrete, random ranges are intervals."""
    domains: dict[str, dict] = {}
    for key in varying_keys(points):
        if spec.random and key in spec.random.params:
            param = spec.random.params[key]
            if param.choice is not None:
                domains[key] = {"values": param.choice}
            else:
                low, high = param.uniform or param.log_uniform or param.int_uniform
                domains[key] = {"min": low, "max": high}
        else:
            domains[key] = {"values": list(dict.fromkeys(p.values.get(k) for p in points for k in [key]))}
    return domains


def child_env(keys: list[str], domains: dict[str, dict]) -> dict[str, str]:
    """Tells each training process which keys vary in its sweep (for the HParams dashboard)."""
    return {**os.environ, "EXPKIT_SWEEP_HPARAMS": json.dumps({"keys": keys, "domains": domains}, default=str)}


def search_domains(search) -> dict[str, dict]:
    """The HParams domains of a search's params: choices are discrete, ranges intervals."""
    return {key: {"values": p.choice} if p.choice is not None
            else dict(zip(("min", "max"), p.uniform or p.log_uniform or p.int_uniform))
            for key, p in search.params.items()}
