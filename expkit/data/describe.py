"""A dataset's input shape, class count and task without loading it (named sets), for
`expkit validate --build`, `expkit summary` and input_shape inference, and the preprocessing front
training will put into the model (model/preprocessing.py), so those commands build the model that
training saves. File datasets are loaded to find out."""
from __future__ import annotations

from expkit.config.dataset import FILE_DATASETS
import numpy as np

from expkit.data.prepare import Preprocessor, check_labels, load_splits, resolve_scale, sample_shape
from expkit.data.raw import CLASSIFICATION, REGRESSION
from expkit.errors import DataError

# name -> (sample shape as read, num_classes, task, kind); shape None: it comes from the config.
NAMED_INPUTS = {
    "mnist": ((28, 28), 10, CLASSIFICATION, "image"),
    "fashion_mnist": ((28, 28), 10, CLASSIFICATION, "image"),
    "cifar10": ((32, 32, 3), 10, CLASSIFICATION, "image"),
    "cifar100": ((32, 32, 3), 100, CLASSIFICATION, "image"),
    "imdb": (None, 2, CLASSIFICATION, "sequence"),
    "reuters": (None, 46, CLASSIFICATION, "sequence"),
    "boston_housing": ((13,), None, REGRESSION, "tabular"),
    "california_housing": ((8,), None, REGRESSION, "tabular"),
    "digits": ((64,), 10, CLASSIFICATION, "tabular"),
    "iris": ((4,), 3, CLASSIFICATION, "tabular"),
    "wine": ((13,), 3, CLASSIFICATION, "tabular"),
    "breast_cancer": ((30,), 2, CLASSIFICATION, "tabular"),
    "diabetes": ((10,), None, REGRESSION, "tabular"),
    "xor": ((2,), 2, CLASSIFICATION, "tabular"),
    "moons": ((2,), 2, CLASSIFICATION, "tabular"),
    "circles": ((2,), 2, CLASSIFICATION, "tabular"),
    "spirals": ((2,), 2, CLASSIFICATION, "tabular"),
    "linear": (None, None, REGRESSION, "tabular"),
    "house_prices": ((3,), None, REGRESSION, "tabular"),
    "series": (None, None, REGRESSION, "tabular"),
    "skipgram": ((2,), 2, CLASSIFICATION, "sequence"),  # [word, context] token ids
}


def describe_input(cfg, first_layer: str | None = None) -> tuple[tuple[int, ...], int | None, str]:
    """(input shape after preprocessing, num_classes or None, task)."""
    return describe_model_input(cfg, first_layer)[:3]


def describe_model_input(cfg, first_layer: str | None = None, raw_inputs: bool = True):
    """(input shape after preprocessing, num_classes or None, task, front): `front` is the Preprocessor whose
    layers training puts at the front of the model when it takes raw inputs (`raw_inputs`), else None.
    Named sets: decided from the known raw shape and dtype, with placeholder statistics (a standardization
    is one Rescaling, the same layer and no parameters whatever its numbers)."""
    if cfg.name == "tfrecord":  # from the feature spec: the files are read when training starts
        from expkit.data.tfrecord_splits import describe_records
        return (*describe_records(cfg, first_layer), None)
    if cfg.name in FILE_DATASETS:
        splits = load_splits(cfg, seed=0, first_layer=first_layer, raw_inputs=raw_inputs)
        front = splits.preprocessor if getattr(splits.preprocessor, "in_model", False) else None
        return splits.input_shape, splits.num_classes, splits.task, front
    if cfg.name not in NAMED_INPUTS:
        raise DataError(f"unknown dataset '{cfg.name}'")
    shape, num_classes, task, kind = NAMED_INPUTS[cfg.name]
    if cfg.name in ("imdb", "reuters"):
        shape = (cfg.sequence_length,)
    elif cfg.name == "series":
        shape = (cfg.sequence_length or 50, 1)
    elif cfg.name == "linear":
        shape = (cfg.features,)
    check_labels(cfg, task)
    # Named images are uint8 pixels, the rest float arrays (what `scale: auto` decides by).
    scale = resolve_scale(cfg, kind, np.dtype("uint8" if kind == "image" else "float64"))
    prepared = sample_shape(shape, cfg, first_layer)
    front = None
    if raw_inputs and kind != "sequence":
        stats = (np.zeros(shape, np.float32), np.ones(shape, np.float32)) if scale == "standardize" else (None, None)
        front = Preprocessor(scale, kind, tuple(shape), tuple(prepared), *stats, task=task, in_model=True)
    return prepared, num_classes, task, front
