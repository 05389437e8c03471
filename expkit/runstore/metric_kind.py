"""Which way a metric is better, from its name alone: shared by compare (sorting, best epochs) and
by sweep's search (an objective's default direction), which must not import each other."""
from __future__ import annotations

LOSS_WORDS = ("loss", "error", "mse", "mae", "mape", "msle", "crossentropy", "hinge", "divergence",
              "poisson", "logcosh", "huber")


def lower_is_better(key: str) -> bool:
    """Loss-like metrics sort ascending: loss, mse, mae, rmse, *_error, *crossentropy..."""
    name = key.rsplit(".", 1)[-1].lower()
    return any(word in name for word in LOSS_WORDS)
