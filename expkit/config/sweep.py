"""The `sweep:` section: which variants of an experiment `expkit sweep` runs."""
from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field, NonNegativeInt, PositiveInt, field_validator, model_validator

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


class SearchSpec(Spec):
    """Search with an objective: Optuna proposes each trial's values, learning from the trials before."""

    objective: str = Field(pattern=r"^(train|val|test)\.[A-Za-z_][A-Za-z0-9_]*$", description=(
        "The metric to optimise, as compare names it: val.accuracy, val.loss, test.accuracy (final values)."))
    direction: Literal["max", "min"] | None = Field(None, description=(
        "max or min; default: min for loss-like metrics (loss, mse, *error...), else max, as compare sorts."))
    sampler: Literal["tpe", "cmaes", "gp", "random", "grid"] = Field("tpe", description=(
        "Optuna's sampler: tpe, cmaes (needs the cmaes package), gp (needs torch), random, or grid "
        "(choice and int_uniform params only; trials capped at the grid's size)."))
    trials: PositiveInt = Field(description="How many trials the study runs in all (a resumed search runs the rest).")
    params: dict[str, RandomParam] = Field(min_length=1, description=(
        "Dotted config path -> its range, as in random.params: uniform, log_uniform, int_uniform, choice."))
    pruner: Literal["none", "median", "hyperband", "successive_halving"] = Field("none", description=(
        "Optuna's pruner, judging the objective at the end of each epoch (the step); a pruned run stops "
        "early and is recorded as status: pruned."))
    warmup_epochs: NonNegativeInt = Field(2, description=(
        "The pruner first judges a trial at the end of this epoch (the first epochs of a good learning rate "
        "can look like a bad one's); hyperband and successive_halving put their first rung there."))
    startup_trials: NonNegativeInt = Field(5, description=(
        "Trials sampled at random before tpe/gp model the results, and completed before median prunes."))
    seed: int | None = Field(None, description="The sampler's seed; default: experiment.seed.")

    @field_validator("params")
    @classmethod
    def _dotted(cls, params):
        return _check_keys(params)

    @model_validator(mode="after")
    def _prunable(self):
        if self.pruner != "none" and self.objective.startswith("test."):
            raise KeyProblem("pruner", f"cannot judge {self.objective} during training (the test set is "
                             "evaluated once at the end); use a val.* objective or pruner: none")
        if self.sampler == "grid":
            ranges = [k for k, p in self.params.items() if p.uniform or p.log_uniform]
            if ranges:
                raise KeyProblem("sampler", f"grid needs choice or int_uniform params, got a real range for "
                                 f"{', '.join(ranges)}; use choice: [...] or another sampler")
        return self


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
        "Repeat every point with these seeds: a count N (seeds 0..N-1) or a list. Default: experiment.seed only. "
        "With search, each trial runs once per seed and its objective is their mean."))
    search: SearchSpec | None = Field(None, description=(
        "Search with an objective (Optuna): trials proposed by a sampler, pruned by a pruner; instead of "
        "grid, random and variants."))

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

    @model_validator(mode="after")
    def _search_alone(self):
        if self.search is not None:
            others = [k for k in ("grid", "random", "variants") if getattr(self, k)]
            if others:
                raise KeyProblem("search", f"cannot be combined with {', '.join(others)}: a search proposes "
                                 "its own points; move fixed values to the config or --set")
        return self
