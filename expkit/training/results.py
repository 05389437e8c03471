"""Which epoch the saved model is, and the train/val metrics of that epoch, from metrics.csv.

EarlyStopping(restore_best_weights) hands back the weights of its best epoch at the end of fit, so the
saved model (and the test metrics, evaluated on it) are that epoch's, not the last one's. results.json
then reports the train/val metrics of the same epoch, says which (`weights_epoch`, `metrics_epoch`),
and names the best epoch by the monitored metric (`best_epoch`, `best_monitor`): compare --metric best
uses that epoch when it ranks by the same metric.
"""
from __future__ import annotations

import math

CSV_SKIP = ("epoch", "learning_rate", "epoch_seconds")


def epoch_results(rows: list[dict], callbacks: list) -> dict:
    """train/val metrics of the epoch whose weights the model holds, and where they come from."""
    if not rows:
        return {"train": {}, "val": {}}
    last = int(rows[-1]["epoch"])
    weights_epoch, best_epoch, monitor = last, None, None
    for callback in callbacks:
        kind = type(callback).__name__
        if kind == "EarlyStopping" and callback.best is not None:
            best_epoch, monitor = int(callback.best_epoch) + 1, callback.monitor
            if callback.restore_best_weights and callback.best_weights is not None:
                weights_epoch = best_epoch
        elif kind == "AtomicModelCheckpoint" and best_epoch is None and getattr(callback, "best_epoch", 0):
            best_epoch, monitor = int(callback.best_epoch), callback.monitor
    if best_epoch is None:  # no callback judged: the lowest validation loss (training loss without validation)
        monitor = "val_loss" if rows[0].get("val_loss") is not None else "loss"
        scored = [r for r in rows if r.get(monitor) is not None and math.isfinite(r[monitor])]
        best_epoch = int(min(scored, key=lambda r: r[monitor])["epoch"]) if scored else None
    row = next((r for r in rows if r.get("epoch") == weights_epoch), rows[-1])
    out = {
        "train": {k: v for k, v in row.items() if k not in CSV_SKIP and not k.startswith("val_") and v is not None},
        "val": {k[4:]: v for k, v in row.items() if k.startswith("val_") and v is not None},
        "weights_epoch": weights_epoch, "metrics_epoch": weights_epoch, "best_epoch": best_epoch,
        "best_monitor": monitor,
    }
    if weights_epoch != last:
        out["metrics_note"] = (f"train/val metrics are epoch {weights_epoch}'s, whose weights EarlyStopping "
                               f"restored (the last epoch run was {last}); test metrics and model.keras are "
                               f"that epoch's too")
    return out
