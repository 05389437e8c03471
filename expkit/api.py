"""The Python API for notebooks and scripts: the same training, sweeps, run reader and comparison table
as the CLI, as Python objects.

    import expkit
    run = expkit.train("configs/mnist_fast.yaml", overrides=["training.epochs=1"], runs_dir="runs")
    run.results["test"]["accuracy"]                        # a Run: .path, .config, .results, .info
    run = expkit.train({"experiment": {"name": "x"}, ...})  # or a config as a dict
    run = expkit.resume("runs/20260101-120000-x-ab12")     # continue a killed/interrupted/failed run
    result = expkit.sweep("configs/toy2d_hidden_units.yaml", runs_dir="runs")   # .sweep_dir, .statuses
    runs = expkit.load_runs("runs/")                       # list[Run]: .config, .flat_config, .results, .info
    table = expkit.compare_runs("runs/my_sweep", sort="test.accuracy", filters=["status=completed"])
    table.rows, table.columns                              # plain dicts and column names
    table.to_pandas()                                      # a DataFrame, when pandas is installed

A folder that is not a readable run is skipped with a warning (the CLI prints one line instead).
"""
from __future__ import annotations

import warnings
from pathlib import Path
from typing import Iterable

from expkit.analysis import compare as _compare
from expkit.analysis.compare import ComparisonTable
from expkit.runstore import Run, read_run
from expkit.sweep.driver import sweep
from expkit.runstore import load_runs as _load_runs

__all__ = ["ComparisonTable", "Run", "compare_runs", "load_runs", "resume", "sweep", "train"]


def train(config: str | Path | dict, overrides: Iterable[str] = (), runs_dir: str | Path = "runs",
          name: str | None = None) -> Run:
    """Validate, build and train one config (a YAML file, or the same content as a dict); returns the
    finished run. Raises ExpkitError for bad input and TrainingFailed when training fails, as the CLI
    exits 2 and 1."""
    from expkit.config import load_config
    from expkit.training import train as _train
    loaded = load_config(_config_file(config), list(overrides), name=name)
    return read_run(_train(loaded, Path(runs_dir)))


def resume(run_dir: str | Path) -> Run:
    """Continue an interrupted, killed (stale) or failed run in its folder from its last finished epoch,
    as `expkit resume RUN` does; returns the finished run."""
    from expkit.training import resume as _resume
    return read_run(_resume(Path(run_dir)))


def _config_file(config: str | Path | dict) -> Path:
    """A dict is written to a YAML file first, so that errors point at a line as they do for files."""
    if not isinstance(config, dict):
        return Path(config)
    import tempfile

    import yaml
    handle = tempfile.NamedTemporaryFile("w", suffix=".yaml", prefix="expkit-config-", delete=False)
    with handle:
        yaml.safe_dump(config, handle, sort_keys=False)
    return Path(handle.name)


def load_runs(paths: str | Path | Iterable[str | Path]) -> list[Run]:
    """Every run under `paths` (run folders, or folders holding runs; globs are expanded), oldest first."""
    if isinstance(paths, (str, Path)):
        paths = [paths]
    problems: list[str] = []
    runs = _load_runs(paths, problems)
    _warn(problems)
    return runs


def compare_runs(paths_or_runs: str | Path | Iterable[str | Path | Run], *, sort: str | None = None,
                 descending: bool | None = None, filters: Iterable[str] | str = (), metric: str = "final",
                 group_by_seed: bool | None = None, columns: Iterable[str] | str | None = None,
                 all_columns: bool = False, group_by: str | None = None) -> ComparisonTable:
    """The table `expkit compare` prints, as data. Arguments mirror the command's options:

    sort="test.accuracy" (accuracy-like descending, loss-like ascending; descending=True/False overrides),
    filters=["test.accuracy>0.9", "model.layers.1.units=128"], metric="final" | "best",
    group_by_seed=None (on when some runs differ only by seed) | True | False,
    columns=["name", "model.*", "test.accuracy"] or all_columns=True,
    group_by="experiment.name" (one row per value of a key, mean ± std, as --group-by)."""
    table = _compare.compare_runs(paths_or_runs, sort=sort, descending=descending, filters=filters, metric=metric,
                                  group_by_seed=group_by_seed, columns=columns, all_columns=all_columns,
                                  group_by=group_by)
    _warn(table.problems)
    return table


def _warn(problems: list[str]) -> None:
    for problem in problems:
        warnings.warn(f"skipped {problem}", stacklevel=3)
