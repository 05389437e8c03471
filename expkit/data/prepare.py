"""From raw arrays to the train / validation / test splits a model trains on.

Order of operations, all deterministic given the seed:
1. test split: the data's own (mnist, cifar, imdb, npz with x_test, ...), else `test_split` of
   the samples, held out after a seeded shuffle (stratified by class for classification);
2. `limit`: the first N training samples; `test_limit`: the first N test samples;
3. validation: the data's own (npz with x_val), else `validation_size` samples, or
   ceil(`validation_split` x N), held out from the (limited) training set after a seeded
   shuffle (stratified by class for classification). Training samples keep the shuffled order;
   a class per time step (labels of shape (N, T)) is not stratified: a plain seeded shuffle;
4. scaling, fitted on the final training split only (never validation or test);
5. flatten, then channel axis; x becomes float32 (token sequences stay int32);
6. labels: int64 class indices (sparse) or float32 one-hot; regression targets float32.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from expkit.data.raw import CLASSIFICATION, REGRESSION, RawData, random_generator
from expkit.data.sources import load_raw
from expkit.errors import DataError

_TEST_STREAM, _VALIDATION_STREAM = 1, 2


@dataclass(frozen=True, eq=False)
class Preprocessor:
    """What turns one raw sample into model input, fitted on the training split: saved with each
    run (preprocessing.json) so predict and serve prepare new inputs exactly as training did."""

    scale: str                          # none | unit | standardize (auto resolved)
    kind: str                           # image | table | sequence (raw data kind)
    raw_shape: tuple[int, ...]          # one raw sample, before flatten / channel axis
    shape: tuple[int, ...]              # one prepared sample: the model's input shape
    mean: np.ndarray | None = None      # standardize only
    std: np.ndarray | None = None
    task: str = CLASSIFICATION
    class_names: list[str] | None = None
    feature_names: list[str] | None = None  # table data: the input columns by name, for predict's CSV
    vocabulary: list[str] | None = None     # text data: the word of each token id, for `expkit neighbours`
    # True: the model's first layers do the scaling and shaping (model/preprocessing.py), so the model
    # takes raw samples; this record is then documentation. False: runs from before, and token data.
    in_model: bool = False

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Raw samples (N, *raw_shape) -> model input: (N, *shape), or (N, *raw_shape) when `in_model`."""
        x = np.asarray(x)
        if self.in_model:
            return x.astype(np.float32).reshape((len(x), *self.raw_shape))
        if self.scale == "unit":
            out = np.divide(x, np.float32(255.0), dtype=np.float32)
        elif self.scale == "standardize":
            out = (x.astype(np.float32) - self.mean) / self.std
        else:
            out = x.astype(np.int32 if self.kind == "sequence" else np.float32)
        return out.reshape((len(x), *self.shape))

    def tf_call(self, x):
        """The same on a batch of tensors (a streamed set's tf.data pipeline)."""
        import tensorflow as tf

        out = tf.cast(x, tf.float32)
        if self.scale == "unit":
            out = out / 255.0
        elif self.scale == "standardize":
            out = (out - self.mean) / self.std
        return tf.reshape(out, (-1, *self.shape))

    def to_json(self) -> dict:
        return {"scale": self.scale, "kind": self.kind, "raw_shape": list(self.raw_shape),
                "shape": list(self.shape), "task": self.task, "class_names": self.class_names,
                "mean": None if self.mean is None else self.mean.tolist(),
                "std": None if self.std is None else self.std.tolist(), "feature_names": self.feature_names,
                "vocabulary": self.vocabulary, "in_model": self.in_model}

    @classmethod
    def from_json(cls, data: dict) -> "Preprocessor":
        def array(v):
            return None if v is None else np.asarray(v, dtype=np.float32)
        return cls(data["scale"], data["kind"], tuple(data["raw_shape"]), tuple(data["shape"]),
                   array(data.get("mean")), array(data.get("std")), data.get("task", CLASSIFICATION),
                   data.get("class_names"), data.get("feature_names"), data.get("vocabulary"),
                   bool(data.get("in_model", False)))


@dataclass(frozen=True, eq=False)
class DataSplits:
    """Fully prepared numpy arrays. `scale` is the scaling actually applied (auto resolved)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_val: np.ndarray | None
    y_val: np.ndarray | None
    x_test: np.ndarray | None
    y_test: np.ndarray | None
    task: str
    num_classes: int | None
    class_names: list[str] | None
    source: str
    scale: str = "none"
    preprocessor: Preprocessor | None = None
    decoding: object | None = None  # streamed images: the x arrays hold file paths (see image_stream)
    augment: object | None = None   # dataset.augment: batch -> augmented batch, for training batches only
    class_weight: dict[int, float] | None = None  # training.class_weight resolved: {class index: weight}
    w_train: np.ndarray | None = None  # dataset.sample_weight: each example's weight, Keras' third element
    w_val: np.ndarray | None = None
    w_test: np.ndarray | None = None
    # Named arrays (data/multi.py): the inputs divided by 255 (uint8 under scale auto/unit), which
    # predict and serve must divide too; None for the one-array path.
    named_unit_scaled: tuple[str, ...] | None = None

    @property
    def input_shape(self) -> tuple[int, ...]:
        """One sample's shape as the YAML's first layer sees it (after the model's preprocessing front)."""
        if self.decoding is not None and self.preprocessor is None:  # several tfrecord inputs: {name: shape}
            return self.x_train.shapes
        if self.decoding is not None or (self.preprocessor is not None and self.preprocessor.in_model):
            return tuple(self.preprocessor.shape)
        return tuple(self.x_train.shape[1:])


def holdout(n: int, size: int, rng: np.random.Generator, labels: np.ndarray | None = None):
    """(kept, held) index arrays: `size` of `n` samples held out after a shuffle by `rng`.

    With `labels`, each class gives its share (largest remainder), so the classes keep their
    proportions. Both arrays are in the shuffled order.
    """
    order = rng.permutation(n)
    if labels is None:
        return order[: n - size], order[n - size:]
    shuffled = labels[order]
    classes, counts = np.unique(shuffled, return_counts=True)
    quota = size * counts / n
    take = np.floor(quota).astype(np.int64)
    missing = size - int(take.sum())
    take[np.argsort(-(quota - take), kind="stable")[:missing]] += 1
    held = np.zeros(n, dtype=bool)
    for label, count in zip(classes, take):
        if count:
            held[np.flatnonzero(shuffled == label)[-count:]] = True
    return order[~held], order[held]


def _hold_out(x, y, size, seed, stream, task, what):
    if size >= len(x):
        raise DataError(f"{what} would take {size} of the {len(x)} training samples and leave none to "
                        "train on; use more data or a smaller fraction")
    # A class per step (N, T) has no one class per sample to keep in proportion.
    stratify = task == CLASSIFICATION and (np.ndim(y) == 1 or np.shape(y)[1:] == (1,))
    kept, held = holdout(len(x), size, random_generator(seed, stream), y if stratify else None)
    return x[kept], y[kept], x[held], y[held]


def resolve_scale(cfg, kind: str, dtype: np.dtype) -> str:
    if cfg.scale == "auto":
        return "none" if kind == "sequence" else "unit" if dtype == np.uint8 else "standardize"
    if kind == "sequence" and cfg.scale != "none":
        raise DataError(f"dataset.scale '{cfg.scale}' would turn the token ids of '{cfg.name}' into "
                        "fractions that an Embedding layer cannot look up; set scale to none or auto")
    return cfg.scale


def check_labels(cfg, task: str) -> None:
    if task == REGRESSION and cfg.labels == "one_hot":
        raise DataError(f"dataset.labels 'one_hot' needs class labels, but '{cfg.name}' is a regression "
                        "task (real-valued targets); remove dataset.labels")


def _is_2d_layer(first_layer: str | None) -> bool:
    """Conv2D, MaxPooling2D, max_pooling2d, ...: layers that read (H, W, channels) samples."""
    name = (first_layer or "").replace("_", "").lower()
    return name.endswith("2d") and name != "convlstm2d"


def sample_shape(shape: tuple[int, ...], cfg, first_layer: str | None) -> tuple[int, ...]:
    """The shape of one sample after `flatten` and `channel_axis`."""
    shape = tuple(shape)
    if cfg.flatten:
        shape = (math.prod(shape),)
    if cfg.channel_axis == "add":
        if len(shape) >= 3:
            raise DataError(f"dataset.channel_axis 'add': samples of '{cfg.name}' are {shape}, they already "
                            "have a channel axis; set channel_axis to auto or none")
        return shape + (1,)
    if cfg.channel_axis == "auto" and len(shape) == 2 and _is_2d_layer(first_layer):
        return shape + (1,)
    return shape


def fit_preprocessor(scale: str, raw: RawData, x_train: np.ndarray, shape: tuple[int, ...],
                     in_model: bool = False) -> Preprocessor:
    mean = std = None
    if scale == "standardize" and raw.decoding is not None:
        from expkit.data.stream_stats import streamed_mean_std
        mean, std = streamed_mean_std(x_train, raw.decoding)
    elif scale == "standardize":
        mean = x_train.mean(axis=0, dtype=np.float64)
        std = x_train.std(axis=0, dtype=np.float64)
        std[std == 0] = 1.0  # a constant feature becomes 0 instead of nan
        mean, std = mean.astype(np.float32), std.astype(np.float32)
    return Preprocessor(scale, raw.kind, raw.sample_shape, tuple(shape), mean, std, raw.task,
                        raw.class_names, raw.feature_names, raw.vocabulary, in_model)


def _labels(y, raw: RawData, cfg, split: str):
    if raw.task == REGRESSION:
        return y.astype(np.float32)
    y = np.asarray(y)
    y = (y.reshape(-1) if y.ndim < 2 or y.shape[1:] == (1,) else y).astype(np.int64)  # (N, T): a class per step
    if y.size and (y.min() < 0 or y.max() >= raw.num_classes):
        bad = y.min() if y.min() < 0 else y.max()
        raise DataError(f"{raw.source}: {split} label {bad} is not a class index in 0..{raw.num_classes - 1}")
    return np.eye(raw.num_classes, dtype=np.float32)[y] if cfg.labels == "one_hot" else y


def _split(raw: RawData, cfg, seed: int):
    """(x_train, y_train, x_val, y_val, x_test, y_test): steps 1 to 3 of the module docstring."""
    x_train, y_train, x_test, y_test = raw.x_train, raw.y_train, raw.x_test, raw.y_test
    if x_test is None:
        size = math.ceil(cfg.test_split * len(x_train))
        x_train, y_train, x_test, y_test = _hold_out(
            x_train, y_train, size, seed, _TEST_STREAM, raw.task, f"test_split {cfg.test_split}")
    if cfg.limit:
        x_train, y_train = x_train[: cfg.limit], y_train[: cfg.limit]
    if cfg.test_limit:
        x_test, y_test = x_test[: cfg.test_limit], y_test[: cfg.test_limit]
    x_val, y_val = raw.x_val, raw.y_val
    if x_val is None:
        size = cfg.validation_size or math.ceil(cfg.validation_split * len(x_train))
        what = (f"validation_size {cfg.validation_size}" if cfg.validation_size
                else f"validation_split {cfg.validation_split}")
        if size:
            x_train, y_train, x_val, y_val = _hold_out(
                x_train, y_train, size, seed, _VALIDATION_STREAM, raw.task, what)
    return x_train, y_train, x_val, y_val, x_test, y_test


def raw_splits(cfg, seed: int) -> dict[str, tuple[np.ndarray, np.ndarray] | None]:
    """{'train'|'val'|'test': (x, y) as read, before preprocessing}: the samples a run trained and was
    tested on, for drawing them in their own units (a decision boundary over the raw features)."""
    x_train, y_train, x_val, y_val, x_test, y_test = _split(load_raw(cfg, seed), cfg, seed)
    pairs = {"train": (x_train, y_train), "val": (x_val, y_val), "test": (x_test, y_test)}
    return {name: None if x is None else (x, y) for name, (x, y) in pairs.items()}


def load_splits(cfg, seed: int, first_layer: str | None = None, raw_inputs: bool = False) -> DataSplits:
    """The dataset of `cfg`, split and preprocessed (see the module docstring).

    `first_layer` is the Keras class name of the model's first layer, for `channel_axis: auto`.
    `raw_inputs`: the model will scale and shape its inputs itself (steps 4-5 become its first layers),
    so x stays raw (uint8 images stay uint8: a quarter of float32's memory); token ids are still
    prepared here. The preprocessor records which (`in_model`).
    """
    raw = load_raw(cfg, seed)
    check_labels(cfg, raw.task)
    streamed = raw.decoding is not None
    scale = resolve_scale(cfg, raw.kind, np.dtype(getattr(raw.decoding, "dtype", np.uint8)) if streamed
                          else raw.x_train.dtype)
    shape = sample_shape(raw.sample_shape, cfg, first_layer)
    x_train, y_train, x_val, y_val, x_test, y_test = _split(raw, cfg, seed)
    from expkit.data.weights import split_sample_weights
    weights = split_sample_weights(raw, cfg, seed, _split)
    in_model = raw_inputs and raw.kind != "sequence"
    augment = None
    if cfg.augment:
        from expkit.data.augment import make_augmenter
        if not (in_model or streamed):
            raise DataError("dataset.augment transforms raw images before the model's own preprocessing, which "
                            "a model with several inputs does not have; remove dataset.augment")
        augment = make_augmenter(cfg.augment, seed, raw.kind, raw.sample_shape)
    preprocessor = fit_preprocessor(scale, raw, x_train, shape, in_model)

    def prepare_x(x):  # a streamed set's paths are prepared in its tf.data pipeline instead
        if x is None or streamed:
            return x
        if in_model:
            return x if x.dtype == np.uint8 else x.astype(np.float32)
        return preprocessor(x)

    def prepare_y(y, split):
        return None if y is None else _labels(y, raw, cfg, split)

    return DataSplits(
        prepare_x(x_train), prepare_y(y_train, "training"),
        prepare_x(x_val), prepare_y(y_val, "validation"),
        prepare_x(x_test), prepare_y(y_test, "test"),
        raw.task, raw.num_classes, raw.class_names, raw.source, scale, preprocessor, raw.decoding, augment,
        None, *weights)
