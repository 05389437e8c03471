"""compare: run folders -> one table of plain rows. No printing, no TensorFlow, no pandas.

A row maps column -> raw value. The default columns are the run's name, id and status, the config
keys whose values differ between the runs (dotted paths: model.layers.1.units), the metrics
(train/val/test x loss and every compiled metric), params and training_seconds.

--metric final (default) or best: see expkit/run_metrics.py, which reads what each run got.

Seed groups: runs whose resolved configs are equal apart from experiment.seed become one row with
`n` and, for each numeric result column X, the mean in X and the sample standard deviation (n-1) in
`X.std` (blank when n=1). Filters apply to single runs, before grouping.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from expkit.errors import ExpkitError, suggest
from expkit.analysis.filters import normalize_key, parse_filter
from expkit.analysis.values import (  # noqa: F401  (flow, format_number: re-exported for diff/render)
    data_identity, flow, format_number, is_number, mean_and_std, seed_group_key)
from expkit.runstore import SEED_KEY, Run, config_hash, load_runs
from expkit.analysis.run_metrics import (  # noqa: F401  (re-exported: lower_is_better, default_descending...)
    RESULT_KEYS, default_descending, is_metric, lower_is_better, metric_keys, run_info, run_results)

NO_STD = ("params",)  # a function of the config: equal within a seed group
_MISSING = object()


@dataclass
class ComparisonTable:
    """`rows` are plain dicts holding exactly `columns` (in order); None is a blank. A grouped table
    has `n` and, beside each numeric result X (a mean), its sample std in `X.std`."""

    columns: list[str]
    rows: list[dict]
    grouped: bool = False
    metric: str = "final"
    problems: list[str] = field(default_factory=list)

    def to_pandas(self):
        try:
            import pandas as pd
        except ImportError:
            raise ImportError("ComparisonTable.to_pandas() needs pandas, which is not installed: "
                              "pip install pandas (or use table.rows, a list of dicts)") from None
        return pd.DataFrame(self.rows, columns=self.columns)

    def __repr__(self) -> str:
        from expkit.analysis.render import render
        return render(self, "table")

    def _repr_markdown_(self) -> str:
        from expkit.analysis.render import render
        return render(self, "markdown")



class Record:
    """Everything filterable about one run: its flat config, and what run.json and results.json add
    (name, id, status, train.loss, params...). Holds the config without copying it: 10,000 copies
    would cost a quarter of a second."""

    __slots__ = ("flat", "extra")

    def __init__(self, flat: dict, extra: dict):
        self.flat, self.extra = flat, extra

    def get(self, key: str, default: Any = None) -> Any:
        value = self.extra.get(key, _MISSING)
        return self.flat.get(key, default) if value is _MISSING else value

    def __contains__(self, key: str) -> bool:
        return key in self.extra or key in self.flat

    def to_dict(self) -> dict:
        return {**self.flat, **self.extra}


def differing_keys(records: list[dict], keys: Iterable[str]) -> list[str]:
    """The keys whose value is not the same in every record (a key absent from some counts)."""
    out = []
    for key in keys:
        values = [rec.get(key, _MISSING) for rec in records]
        if values.count(values[0]) != len(values):
            out.append(key)
    return out


def _config_keys(runs: list[Run]) -> list[str]:
    """Every config key of any run, in config order (a third layer's keys after the second's)."""
    seen: dict[str, None] = {}
    for shape in dict.fromkeys(tuple(run.flat_config) for run in runs):  # most runs share one key set
        seen.update(dict.fromkeys(shape))
    rank: dict[str, int] = {}
    for key in seen:
        for part in key.split("."):
            rank.setdefault(part, len(rank))
    return sorted(seen, key=lambda k: [(0, int(p), 0) if p.isdigit() else (1, 0, rank[p]) for p in k.split(".")])


def _check_key(key: str, known: list[str], what: str) -> None:
    if key not in known:
        raise ExpkitError(f"{what}: no run has the key {key!r}{suggest(key, known)}; keys look like "
                          "model.layers.1.units, compile.optimizer.learning_rate, test.accuracy, status")


def sort_records(records: list, key: str, descending: bool) -> list[dict]:
    """Blank values last whatever the direction; numbers before text."""
    present = [r for r in records if r.get(key) is not None]
    blank = [r for r in records if r.get(key) is None]

    def order(rec):
        value = rec.get(key)
        if is_number(value):
            return (0, value, "")
        return (1, 0, value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str))
    return sorted(present, key=order, reverse=descending) + blank


def seed_signatures(records: list[Record], differing: list[str], runs: list[Run] | None = None) -> dict[str, list[int]]:
    """Record indexes by seed group. Two runs are in one group when their configs are equal apart from
    experiment.seed; keys equal in every run cannot split groups, so comparing the differing keys is
    enough (and much cheaper than hashing every config). A file dataset counts by its content
    (data_identity), not by where it lies."""
    keys = [k for k in differing if k != SEED_KEY]
    if runs is not None and "dataset.path" not in keys and any(data_identity(run) for run in runs):
        keys.append("dataset.path")  # the same path may hold changed data
    path_at = keys.index("dataset.path") if "dataset.path" in keys and runs is not None else None
    groups: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        values = [rec.get(k, "\0absent") for k in keys]
        if path_at is not None:
            values[path_at] = data_identity(runs[i]) or values[path_at]
        groups.setdefault(json.dumps(values, default=str), []).append(i)
    return groups


def key_groups(records: list[Record], key: str) -> dict[str, list[int]]:
    """Record indexes by the value of one key (--group-by experiment.name)."""
    groups: dict[str, list[int]] = {}
    for i, rec in enumerate(records):
        groups.setdefault(json.dumps(rec.get(key), default=str), []).append(i)
    return groups


def seed_groups(records: list[Record], runs: list[Run], groups: dict[str, list[int]], numeric: list[str],
                varying: Iterable[str] = ()) -> list[dict]:
    """One row per group: n, mean and sample std of each numeric result, the seeds and run ids as
    lists, and `group`, the config_hash of the group's config without its seed. `varying` config keys
    may differ inside a group (--group-by KEY): a key that does is blank in the group's row."""
    rows = []
    for members in groups.values():
        recs = [records[i] for i in members]
        row = recs[0].to_dict()  # seed groups: every other config key is equal within the group
        for key in varying:
            if len({json.dumps(rec.get(key), default=str) for rec in recs}) > 1:
                row[key] = None
        row.update(n=len(recs), group=seed_group_key(runs[members[0]]))
        for key in numeric:
            mean, std = mean_and_std([rec.get(key) for rec in recs])
            row[key] = mean
            if key not in NO_STD:
                row[f"{key}.std"] = std
        for key in (SEED_KEY, "start_time", "error"):
            values = [rec.get(key) for rec in recs]
            row[key] = values[0] if values.count(values[0]) == len(values) else values
        row["id"] = [rec.get("id") for rec in recs]
        statuses = [rec.get("status") for rec in recs]
        row["status"] = statuses[0] if len(set(statuses)) == 1 else ", ".join(
            f"{statuses.count(s)} {s}" for s in dict.fromkeys(statuses))
        rows.append(row)
    return rows


def _choose_columns(requested: Iterable[str], known: list[str]) -> list[str]:
    from fnmatch import fnmatchcase
    out: list[str] = []
    for raw in requested:
        key = normalize_key(raw)
        if any(ch in key for ch in "*?["):
            matched = [k for k in known if fnmatchcase(k, key)]
            if not matched:
                raise ExpkitError(f"--columns: {raw!r} matches no key{suggest(key.replace('*', ''), known)}")
            out += matched
            continue
        _check_key(key, known, "--columns")
        out.append(key)
    return list(dict.fromkeys(out))


def compare_runs(source: str | Path | Iterable[str | Path | Run], *, sort: str | None = None,
                 descending: bool | None = None, filters: Iterable[str] | str = (), metric: str = "final",
                 group_by_seed: bool | None = None, columns: Iterable[str] | str | None = None,
                 all_columns: bool = False, group_by: str | None = None) -> ComparisonTable:
    """The comparison table of the runs under `source` (folders, or Run objects already loaded).

    sort: a column (test.accuracy); accuracy-like descending, loss-like ascending unless `descending`.
    filters: 'KEY OP VALUE' strings, all must hold. metric: 'final' (results.json) or 'best'.
    group_by_seed: None groups when some runs differ only by seed. group_by: one row per value of this key
    (experiment.name), with the same means and stds. columns: exactly these (globs ok).
    Bad folders are skipped and described in `table.problems`."""
    import gc
    paused = gc.isenabled()
    gc.disable()  # reading 10,000 runs makes ~10^6 acyclic objects: collection passes cost a quarter of the time
    try:
        return _compare(source, sort, descending, filters, metric, group_by_seed, columns, all_columns, group_by)
    finally:
        if paused:
            gc.enable()


def _compare(source, sort, descending, filters, metric, group_by_seed, columns, all_columns, group_by) -> ComparisonTable:
    if metric not in ("final", "best"):
        raise ExpkitError(f"metric must be 'final' or 'best', got {metric!r}")
    runs, problems = _gather(source)
    if not runs:
        where = "; ".join(problems[:3]) + ("; ..." if len(problems) > 3 else "") if problems else "the paths given"
        raise ExpkitError(f"no runs found ({where}): a run folder holds run.json; "
                          "make one with `expkit train CONFIG`")
    sort = normalize_key(sort) if sort else None
    if metric == "best" and sort and sort.startswith("test."):
        raise ExpkitError(f"--sort {sort}: test metrics are measured once, on the final weights, so --metric best "
                          f"has none; sort by val.{sort[5:]} or use --metric final")
    main = sort.split(".", 1)[1] if sort and is_metric(sort) else "loss"
    results = [run_results(run, metric, main) for run in runs]
    result_keys = list(dict.fromkeys(k for res in results for k in res))
    records = [Record(run.flat_config, {**run_info(run), **res}) for run, res in zip(runs, results)]
    config_keys = _config_keys(runs)
    known = ["name", "id", "status", "start_time", "error", *config_keys, *result_keys]
    records, runs = _apply_filters(records, runs, filters, known)
    differing = differing_keys([run.flat_config for run in runs], config_keys) if runs else []
    numeric = metric_keys(result_keys) + [k for k in RESULT_KEYS if k in result_keys]
    if group_by:
        group_by = normalize_key(group_by)
        _check_key(group_by, known, "--group-by")
        if group_by_seed is False:
            raise ExpkitError(f"--group-by {group_by} and --no-group-by-seed disagree; give one of them")
        groups, group_by_seed = key_groups(records, group_by), True
    else:
        groups = seed_signatures(records, differing, runs) if group_by_seed or group_by_seed is None else {}
    if group_by_seed is None:
        group_by_seed = SEED_KEY in differing and len(groups) < len(records)
    rows = seed_groups(records, runs, groups, numeric, differing if group_by else ()) if group_by_seed else records
    known += ["n", "group"] if group_by_seed else []
    if sort:
        _check_key(sort, known, "--sort")
        rows = sort_records(rows, sort, default_descending(sort) if descending is None else descending)
    if columns is not None:
        chosen = _choose_columns(columns.split(",") if isinstance(columns, str) else columns, known)
    else:
        chosen = _default_columns(records, config_keys if all_columns else differing, numeric, group_by_seed, group_by)
        if group_by:  # a key that varies inside every group says nothing about the groups
            chosen = [c for c in chosen if c in ("name", "id", "status", group_by) or c not in config_keys
                      or any(row.get(c) is not None for row in rows)]
    if group_by_seed:
        chosen = [c for k in chosen for c in ((k, f"{k}.std") if k in numeric and k not in NO_STD else (k,))]
    rows = [{c: row.get(c) for c in chosen} for row in rows]
    return ComparisonTable(chosen, rows, grouped=bool(group_by_seed), metric=metric, problems=problems)


def _apply_filters(records: list[Record], runs: list[Run], filters, known: list[str]):
    parsed = [parse_filter(f) for f in ([filters] if isinstance(filters, str) else filters)]
    for f in parsed:
        _check_key(f.key, known, f"--filter {f.text!r}")
    if not parsed:
        return records, runs
    keep = [i for i, rec in enumerate(records) if all(f.matches(rec) for f in parsed)]
    return [records[i] for i in keep], [runs[i] for i in keep]


def _default_columns(records: list[Record], config_columns: list[str], numeric: list[str], grouped: bool,
                     group_by: str | None = None) -> list[str]:
    # A grouped row keeps its runs' ids (the text table shows them compactly: first id +N).
    head = ["name", "n", "id", "status"] if grouped else ["name", "id", "status"]
    same_as_name = group_by == "experiment.name" and all(rec.get("name") == rec.get(group_by) for rec in records)
    head += [group_by] if group_by and group_by not in head and not same_as_name else []
    config = [k for k in config_columns if k not in ("experiment.name", group_by) and not (grouped and k == SEED_KEY)]
    results = [k for k in numeric if k not in ("epochs_run", "samples_per_second")]
    if "epochs_run" in numeric and len({rec.get("epochs_run") for rec in records if "epochs_run" in rec}) > 1:
        results.insert(results.index("params") if "params" in results else len(results), "epochs_run")
    return head + config + results


def _gather(source) -> tuple[list[Run], list[str]]:
    problems: list[str] = []
    if isinstance(source, (str, Path)):
        source = [source]
    items = list(source)
    given = [item for item in items if isinstance(item, Run)]
    paths = [item for item in items if not isinstance(item, Run)]
    return given + (load_runs(paths, problems) if paths else []), problems
