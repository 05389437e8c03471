"""What a run got, read from its folder: the metrics (final, or the best epoch's), params and times,
and which way each metric is better. No TensorFlow.

--metric final takes the metrics from results.json: the last epoch for train/val, and the test set
evaluated once after training. --metric best reads metrics.csv and takes the epoch with the best
validation value of the main metric (the training value when a run has no validation split), and
reports that epoch's train/val metrics in `best_epoch`, `train.*`, `val.*`; when the run recorded which
epoch its EarlyStopping or ModelCheckpoint judged best on that same metric (results.json `best_epoch`,
`best_monitor`), that epoch. Test metrics exist only for the saved weights, so best has none. Runs that
did not finish (stale, failed, interrupted) show their finished epochs' best under --metric best.
"""
from __future__ import annotations

import math
from typing import Iterable

from expkit.runstore import Run
from expkit.runstore.metric_kind import LOSS_WORDS, lower_is_better  # noqa: F401  (re-exported)

SPLITS = ("train", "val", "test")
RESULT_KEYS = ("params", "epochs_run", "training_seconds", "samples_per_second")
HIGHER_IS_BETTER = ("samples_per_second",)
CSV_SKIP = ("epoch", "learning_rate", "epoch_seconds")


def is_metric(key: str) -> bool:
    return key.split(".", 1)[0] in SPLITS and "." in key


def default_descending(key: str) -> bool:
    """Accuracy-like metrics (and throughput) best first; losses, config keys and times ascending."""
    if is_metric(key):
        return not lower_is_better(key)
    return key in HIGHER_IS_BETTER


def metric_keys(result_keys: Iterable[str]) -> list[str]:
    """best_epoch, then train.*, val.*, test.*; loss first within a split, then metrics as first seen."""
    names = [k for k in result_keys if is_metric(k) or k == "best_epoch"]
    order = {split: i for i, split in enumerate(SPLITS)}
    return sorted(names, key=lambda k: (-1, 0, 0) if k == "best_epoch" else
                  (order[k.split(".", 1)[0]], k.split(".", 1)[1] != "loss", names.index(k)))


def run_info(run: Run) -> dict:
    info = run.info
    return {"name": run.name, "id": run.id, "status": run.status, "start_time": info.get("start_time"),
            "error": info.get("error")}


def run_results(run: Run, metric: str = "final", main: str = "loss") -> dict:
    """Metrics (train.loss, val.accuracy, ...), params and times. With metric="final", empty unless the
    run completed (or was pruned by a search: stopped early on purpose, its results are real); with "best", the finished epochs of an unfinished run (stale, failed, interrupted)
    count too: its status column says it did not finish, and epochs_run how far it got."""
    if run.status not in ("completed", "pruned"):
        if metric != "best":
            return {}
        out = best_epoch_metrics(run, main)
        return {**out, "epochs_run": len(run.metrics_csv())} if out else {}
    results = run.results or {}
    out = {}
    if metric == "best":
        out.update(best_epoch_metrics(run, main))
    else:
        for split in SPLITS:
            for name, value in (results.get(split) or {}).items():
                out[f"{split}.{name}"] = value
    for key in RESULT_KEYS:
        if key in results:
            out[key] = results[key]
    return out


def best_epoch_metrics(run: Run, main: str) -> dict:
    """The metrics.csv row with the best val_<main> (else <main> without validation, else val_loss or
    loss when the run did not record <main>), as best_epoch, train.* and val.*; the earliest epoch wins a tie."""
    rows = run.metrics_csv()
    column = next((c for c in (f"val_{main}", main, "val_loss", "loss") if rows and c in rows[0]), None)
    scored = [row for row in rows if column and row.get(column) is not None and math.isfinite(row[column])]
    if not scored:
        return {}
    pick = min if lower_is_better(column) else max
    best = pick(scored, key=lambda row: row[column])
    recorded = (run.results or {}).get("best_epoch")
    if (run.results or {}).get("best_monitor") == column and isinstance(recorded, int):
        # The epoch the run's own EarlyStopping/ModelCheckpoint judged best (and whose weights it may
        # hold): it can differ from the plain minimum when min_delta or a baseline applied.
        best = next((row for row in scored if row.get("epoch") == recorded), best)
    out = {"best_epoch": int(best["epoch"]) if best.get("epoch") is not None else None}
    for name, value in best.items():
        if name in CSV_SKIP:
            continue
        out[f"val.{name[4:]}" if name.startswith("val_") else f"train.{name}"] = value
    return out
