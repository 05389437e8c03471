"""The `sweep:` section: which variants of an experiment `expkit sweep` runs."""
from __future__ import annotations

import re
from typing import Any

from pydantic import Field, PositiveInt, field_validator, model_validator

from expkit.config.base import KeyProblem, Spec, require_unique_names

KEY_PATTERN = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*(\.([A-Za-z_][A-Za-z0-9_]*|\d+))*$")


def _check_keys(mapping: dict) -> dict:
    for key in mapping:
        if not KEY_PATTERN.match(str(key)):
            raise ValueError(f"'{key}' is not a dotted config path such as model.layers.1.units")
    return mapping


class RandomParam(Spec):
    """One randomly sampled key: exactly one of uniform, log_uniform, int_uniform, choice."""

    uniform: tuple[float, float] | None = Field(None, description="[low, high]: uniform real numbers.")
    log_uniform: tuple[float, float] | None = Field(None, description=(
        "[low, high], both > 0: uniform in log space (learning rates, weight decay)."))
    int_uniform: tuple[int, int] | None = Field(None, description="[low, high]: integers, both ends included.")
    choice: list[Any] | None = Field(None, min_length=1, description="Values picked with equal probability.")

    @model_validator(mode="after")
    def _exactly_one(self):
        given = [k for k in ("uniform", "log_uniform", "int_uniform", "choice") if getattr(self, k) is not None]
        if len(given) != 1:
            raise ValueError("give exactly one of uniform, log_uniform, int_uniform or choice"
                             + (f", got {', '.join(given)}" if given else ""))
        bounds = getattr(self, given[0]) if given[0] != "choice" else None
        if bounds is not None and bounds[0] >= bounds[1]:
            raise KeyProblem(given[0], f"needs low < high, got {list(bounds)}")
        if given[0] == "log_uniform" and bounds[0] <= 0:
            raise KeyProblem("log_uniform", f"needs low > 0, got {bounds[0]}")
        return self


class RandomSearch(Spec):
    samples: PositiveInt = Field(description="How many random points to draw (seeded by experiment.seed).")
    params: dict[str, RandomParam] = Field(min_length=1, description="Dotted config path -> its range.")

    @field_validator("params")
    @classmethod
    def _dotted(cls, params):
        return _check_keys(params)


class Variant(Spec):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description=(
        "Short name; the runs of this variant are named <experiment>-<variant>."))
    set: dict[str, Any] = Field(default_factory=dict, description=(
        "Overrides for this variant, as with --set: dotted path -> value (a whole list of layers is fine)."))

    @field_validator("set")
    @classmethod
    def _dotted(cls, overrides):
        return _check_keys(overrides)


class SweepConfig(Spec):
    name: str | None = Field(None, pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description=(
        "The sweep's folder under the runs folder; default: the config file's name."))
    variants: list[Variant] | None = Field(None, min_length=1, description=(
        "Named sets of overrides (an ablation: no hidden layer / hidden ReLU / + L2 / + dropout)."))
    grid: dict[str, list[Any]] = Field(default_factory=dict, description=(
        "Dotted config path -> the values to try; every combination is a point."))
    random: RandomSearch | None = Field(None, description="Random search: `samples` points drawn from `params`.")
    seeds: PositiveInt | list[int] | None = Field(None, description=(
        "Repeat every point with these seeds: a count N (seeds 0..N-1) or a list. Default: experiment.seed only."))

    @field_validator("grid")
    @classmethod
    def _non_empty_values(cls, grid):
        _check_keys(grid)
        for key, values in grid.items():
            if not values:
                raise ValueError(f"grid key '{key}' has no values")
        return grid

    @field_validator("variants")
    @classmethod
    def _unique_names(cls, variants):
        return require_unique_names(variants, "variant")
