"""`training.class_weight`: per-class loss weights for Keras' fit, from the config or the training split;
`dataset.sample_weight`: per-example weights (a CSV column), split with their rows."""
from __future__ import annotations

import dataclasses

import numpy as np

from expkit.errors import DataError, suggest


def class_counts(y_train: np.ndarray, num_classes: int) -> np.ndarray:
    """How many training labels each class has (sparse indices, one-hot rows, or one-hot per time step:
    every step counts)."""
    labels = y_train.argmax(axis=-1) if y_train.dtype.kind == "f" else y_train
    return np.bincount(labels.reshape(-1).astype(np.int64), minlength=num_classes)


def _check_per_step(y_train: np.ndarray) -> None:
    """Keras' class_weight (tf_dataset_adapter.make_class_weight_map_fn) reads a 2-D target as one-hot rows:
    for class indices per step, shape (N, T), it would take the argmax over the time steps and weight
    each sequence by the class numbered like its largest label's step. One-hot per step (N, T, classes) it
    reads right: an argmax over the classes, a weight per step."""
    if y_train.ndim == 2 and y_train.dtype.kind in "iu":
        raise DataError(f"training.class_weight: the targets hold a class per time step, shape {y_train.shape}, "
                        "which Keras' class_weight misreads as one-hot rows (it would weight whole sequences by "
                        "the wrong class); set dataset.labels: one_hot with categorical_crossentropy (Keras then "
                        "weights each step), or remove training.class_weight")


def resolve_class_weight(spec, y_train: np.ndarray, task: str, num_classes: int | None,
                         class_names: list[str] | None) -> dict[int, float] | None:
    """{class index: weight} for model.fit, or None. `balanced`: n_samples / (n_classes * count), the
    weighting scikit-learn calls balanced, so every class adds the same total weight to the loss."""
    if spec is None:
        return None
    if task != "classification" or not num_classes:
        raise DataError("training.class_weight weights classes, but this dataset is a regression task; "
                        "remove training.class_weight")
    _check_per_step(y_train)
    counts = class_counts(y_train, num_classes)
    if spec == "balanced":
        empty = [str(i) for i in np.flatnonzero(counts == 0)]
        if empty:
            raise DataError(f"training.class_weight 'balanced': class(es) {', '.join(empty)} have no training "
                            "samples, so they cannot be balanced; give the weights by hand")
        return {i: float(counts.sum() / (num_classes * count)) for i, count in enumerate(counts)}
    names = class_names or [str(i) for i in range(num_classes)]
    weights = {i: 1.0 for i in range(num_classes)}
    for key, weight in spec.items():
        index = _class_index(key, names, num_classes)
        weights[index] = float(weight)
    return weights


def _class_index(key, names: list[str], num_classes: int) -> int:
    if str(key) in names:
        return names.index(str(key))
    if isinstance(key, int) or str(key).lstrip("-").isdigit():
        index = int(key)
        if 0 <= index < num_classes:
            return index
    raise DataError(f"training.class_weight: no class '{key}'{suggest(str(key), names)}; the classes are "
                    f"{', '.join(names)} (by name, or index 0..{num_classes - 1})")


def split_sample_weights(raw, cfg, seed: int, split) -> tuple:
    """(w_train, w_val, w_test) for raw.sample_weight (one per x_train row): `split` (prepare's) taken over
    row numbers holds out the same rows as over the data, so each weight follows its row."""
    if raw.sample_weight is None:
        return None, None, None
    rows = dataclasses.replace(raw, x_train=np.arange(len(raw.x_train)), decoding=None)
    train, _, val, _, test, _ = split(rows, cfg, seed)
    return tuple(None if r is None else raw.sample_weight[r] for r in (train, val, test))
