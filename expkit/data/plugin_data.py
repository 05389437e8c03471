"""A dataset a plugin provides (config/plugins.py): its function's arrays as RawData."""
from __future__ import annotations

import numpy as np

from expkit.config.plugins import plugin_for, plugin_object
from expkit.data.raw import CLASSIFICATION, REGRESSION, RawData
from expkit.errors import DataError

KINDS = ("image", "tabular", "sequence")


def is_plugin_dataset(name: str) -> bool:
    return plugin_for("datasets", name) is not None


def load_plugin_dataset(cfg, seed: int) -> RawData:
    plugin = plugin_for("datasets", cfg.name)
    where = f"dataset '{cfg.name}' of plugin '{plugin.module}'"
    data = plugin_object("datasets", cfg.name)(cfg, seed)
    if hasattr(data, "as_numpy_iterator"):  # a tf.data pipeline of (x, y): read it whole
        pairs = list(data.unbatch().as_numpy_iterator()) if _batched(data) else list(data.as_numpy_iterator())
        data = {"x_train": np.stack([x for x, _ in pairs]), "y_train": np.stack([y for _, y in pairs])}
    if not isinstance(data, dict) or "x_train" not in data or "y_train" not in data:
        raise DataError(f"{where}: expected a mapping with x_train and y_train (and optionally x_test, y_test, "
                        f"x_val, y_val, task, kind, class_names), got {type(data).__name__}")
    arrays = {k: None if data.get(k) is None else np.asarray(data[k])
              for k in ("x_train", "y_train", "x_test", "y_test", "x_val", "y_val")}
    for x, y in (("x_train", "y_train"), ("x_test", "y_test"), ("x_val", "y_val")):
        if (arrays[x] is None) != (arrays[y] is None) or (arrays[x] is not None and len(arrays[x]) != len(arrays[y])):
            raise DataError(f"{where}: {x} and {y} must both be given, with one label per sample")
    y = arrays["y_train"]
    task = data.get("task") or (CLASSIFICATION if np.issubdtype(y.dtype, np.integer) else REGRESSION)
    kind = data.get("kind") or ("image" if arrays["x_train"].ndim >= 3 else "tabular")
    if task not in (CLASSIFICATION, REGRESSION) or kind not in KINDS:
        raise DataError(f"{where}: task must be classification or regression and kind one of {', '.join(KINDS)}, "
                        f"got task={task!r}, kind={kind!r}")
    classes = data.get("class_names")
    count = (len(classes) if classes else int(y.max()) + 1) if task == CLASSIFICATION else None
    return RawData(x_train=arrays["x_train"], y_train=y, task=task, kind=kind, source=f"{where} (seed {seed})",
                   num_classes=count, class_names=list(classes) if classes else None,
                   x_test=arrays["x_test"], y_test=arrays["y_test"], x_val=arrays["x_val"], y_val=arrays["y_val"])


def _batched(dataset) -> bool:
    spec = dataset.element_spec
    first = spec[0] if isinstance(spec, tuple) else spec
    return bool(first.shape.rank) and first.shape[0] is None
