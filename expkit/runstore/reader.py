"""Reading run folders back (any format_version so far): the small files only, never TensorFlow. Used by compare, diff, sweep and plot."""
from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from expkit.errors import ExpkitError
from expkit.runstore.folder import BadRun, RunFolder
from expkit.runstore.liveness import process_gone
from expkit.runstore.shapes import check_run

STATUSES = ("running", "completed", "pruned", "failed", "interrupted", "stale")


@dataclass
class Run:
    """One run folder as plain data."""

    path: Path
    info: dict                      # run.json
    config: dict                    # the resolved config (config.json, else config.yaml)
    results: dict | None = None     # results.json; None while running, or when it failed
    _flat: dict | None = field(default=None, repr=False)

    @property
    def id(self) -> str:
        return self.info.get("id", self.path.name)

    @property
    def name(self) -> str:
        return self.info.get("name", "")

    @property
    def status(self) -> str:
        """run.json's status, except that a 'running' run whose process is gone is 'stale' (killed,
        or its machine went down): `expkit resume` continues it."""
        status = self.info.get("status", "unknown")
        if status == "running" and process_gone(self.info):
            return "stale"
        return status

    @property
    def seed(self) -> int | None:
        return self.config.get("experiment", {}).get("seed")

    @property
    def flat_config(self) -> dict[str, Any]:
        """Dotted paths to leaf values: {'model.layers.1.units': 128, 'compile.optimizer.name': 'adam'}."""
        if self._flat is None:
            self._flat = flatten(self.config)
        return self._flat

    def metric(self, split: str, name: str) -> float | None:
        """A final metric from results.json, e.g. metric('test', 'accuracy')."""
        return ((self.results or {}).get(split) or {}).get(name)

    def metrics_csv(self) -> list[dict[str, float]]:
        """metrics.csv as rows of floats (read on demand: only `--metric best` and plots need it)."""
        return read_metrics(RunFolder(self.path).metrics_csv)


def read_metrics(path: Path) -> list[dict[str, float | None]]:
    """metrics.csv as rows of floats ([] when there is none); BadRun when it cannot be read."""
    import csv
    if not path.is_file():
        return []
    try:
        with path.open(newline="", encoding="utf-8") as f:
            rows = [{k: _float(v) for k, v in row.items()} for row in csv.DictReader(f)]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise BadRun(f"{path.parent}: metrics.csv is unreadable ({exc})") from None
    if any(None in row for row in rows):  # DictReader files values beyond the header under None
        raise BadRun(f"{path.parent}: metrics.csv has a row with more values than its header names")
    return rows


def _float(value: str) -> float | None:
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def flatten(data: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts and lists to dotted keys; list items by position (model.layers.1.units)."""
    out: dict[str, Any] = {}
    if isinstance(data, dict):
        items = data.items()
    elif isinstance(data, list) and data and any(isinstance(v, (dict, list)) for v in data):
        items = ((str(i), v) for i, v in enumerate(data))
    else:
        out[prefix] = data
        return out
    for key, value in items:
        path = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, (dict, list)) and value:
            out.update(flatten(value, path))
        else:
            out[path] = value
    return out


def read_run(path: Path) -> Run:
    """One run folder; raises BadRun saying which file is missing or corrupt."""
    folder = RunFolder(path)
    info = folder.read_json(folder.run_json, required=True)
    run = Run(path=folder.path, info=info, config=folder.read_config(), results=folder.read_json(folder.results_json))
    check_run(run.path, run.info, run.config, run.results)
    return run


RUN_FILES = ("config.json", "config.yaml", "results.json", "metrics.csv")  # a run folder without run.json


def expand_globs(items: Iterable[str | Path]) -> list[Path]:
    """A glob the shell did not expand (quoted, or on Windows) is expanded here."""
    out: list[Path] = []
    for item in items:
        text = str(item)
        if not Path(text).exists() and any(ch in text for ch in "*?["):
            import glob
            matches = sorted(glob.glob(text))
            if not matches:
                raise ExpkitError(f"{text}: matches no file or folder")
            out += [Path(m) for m in matches]
        else:
            out.append(Path(item))
    return out


def load_runs(paths: Iterable[str | Path], problems: list[str] | None = None) -> list[Run]:
    """Every run named or found below the folders named (runs/, a sweep folder), oldest first.

    A folder that looks like a run but has no run.json, or whose files are corrupt, is skipped with
    a line in `problems`. Files and folders without runs that a glob named beside runs
    (runs/my_sweep/* names sweep.json and logs/) are passed over, and said only when nothing named
    holds a run. A path that does not exist is an error.
    """
    problems = [] if problems is None else problems
    found: list[Path] = []
    passed_over: list[str] = []
    paths = expand_globs(paths)
    for path in paths:
        if not path.exists():
            raise ExpkitError(f"{path}: no such file or folder")
    for path in paths:
        if not path.is_dir():
            passed_over.append(f"{path}: a file, not a run folder")
            continue
        if (path / "run.json").is_file():
            found.append(path)
            continue
        before, reported = len(found), len(problems)
        for root, dirs, files in os.walk(path):
            if "run.json" in files:
                found.append(Path(root))
                dirs[:] = []  # a run's own subfolders (tb/) hold no runs
            elif any(name in files for name in RUN_FILES):
                problems.append(f"{root}: not a run folder (no run.json)")
                dirs[:] = []
            else:
                dirs[:] = sorted(d for d in dirs if d != "tb")
        if len(found) == before and len(problems) == reported:
            passed_over.append(f"{path}: holds no run folder (a run folder holds run.json)")
    runs = []
    for path in dict.fromkeys(found):
        try:
            runs.append(read_run(path))
        except BadRun as exc:
            problems.append(str(exc))
    if not runs:
        problems += passed_over
    return sorted(runs, key=lambda r: (r.info.get("start_time") or "", r.id))


def require_runs(paths: list[str | Path], report: Callable[[str], None] | None = None) -> list[Run]:
    """load_runs for a command that works on the runs it is given (plot, mlflow-sync): each folder
    skipped is said as a 'skipped ...' line (on stderr unless `report` takes it), and finding no run
    at all is an error."""
    problems: list[str] = []
    runs = load_runs(paths, problems)
    for problem in problems:
        (report or _to_stderr)(f"skipped {problem}")
    if not runs:
        raise ExpkitError(f"no runs found in {', '.join(map(str, paths))} (a run folder holds run.json)")
    return runs


def _to_stderr(line: str) -> None:
    import sys
    print(line, file=sys.stderr)


def config_hash(config: dict, ignore: Iterable[str] = ()) -> str:
    """A short stable hash of a resolved config, leaving out the dotted keys in `ignore`.
    With ignore=("experiment.seed",) runs that differ only by seed hash alike (seed groups);
    with nothing ignored it is a sweep point's identity."""
    import hashlib
    flat = {k: v for k, v in flatten(config).items() if k not in set(ignore)}
    text = json.dumps(flat, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


SEED_KEY = "experiment.seed"
