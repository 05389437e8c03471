"""Data for models with several named inputs and outputs, targets other than labels, token inputs.

- Named arrays (npz, or CSV column groups: `csv_groups`): for a model with named inputs (model.inputs) and outputs (model.outputs), an
  .npz file whose keys are `<name>_train` for each of them (and optionally `<name>_val`,
  `<name>_test`) feeds each array to the input or output of that name: the functional-API guide's
  title + body + tags -> priority + department. Arrays go in as stored, except that uint8 arrays
  are divided by 255 under `scale: auto` or `unit`; string arrays feed string inputs (TextVectorization).
- `target: input`: the prepared input is also the target (autoencoders, x -> x).
- A model whose first layer is an Embedding (or whose inputs are int32) reads token ids: `scale:
  auto` never scales them.

Kept apart from `prepare` (the one-array path) so the two can change independently.
"""
from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np

from expkit.data.prepare import DataSplits, holdout, load_splits
from expkit.data.raw import REGRESSION, random_generator
from expkit.errors import DataError

TOKEN_LAYERS = {"Embedding", "TextVectorization", "StringLookup", "IntegerLookup", "Hashing", "CategoryEncoding"}
_TEST_STREAM, _VALIDATION_STREAM = 1, 2


class NamedArrays(dict):
    """{name: array}, one array per model input or output; len() is the number of samples, so code
    that counts samples (steps per epoch, results.json) works as for one array."""

    def __len__(self) -> int:
        first = next(iter(self.values()), None)
        return 0 if first is None else len(first)

    def take(self, index) -> "NamedArrays":
        return NamedArrays({k: v[index] for k, v in self.items()})

    @property
    def shapes(self) -> dict[str, tuple[int, ...]]:
        return {k: tuple(v.shape[1:]) for k, v in self.items()}


def model_names(cfg) -> tuple[list[str], list[str]]:
    """(input names, output names) of the config's model: what named arrays must provide."""
    inputs = [i.name for i in cfg.model.inputs or []]
    outputs = list(cfg.model.outputs or ([cfg.model.node_names()[-1]] if inputs else []))
    return inputs, outputs


def uses_named_arrays(cfg) -> bool:
    """An npz dataset with a `<name>_train` key for a model input, or CSV column groups: the named-arrays form."""
    if cfg.dataset.name == "csv" and cfg.dataset.inputs is not None:
        return True
    inputs, _ = model_names(cfg)
    if cfg.dataset.name != "npz" or not inputs or not Path(cfg.dataset.path).is_file():
        return False
    with np.load(cfg.dataset.path, allow_pickle=False) as data:
        return f"{inputs[0]}_train" in data.files and "x_train" not in data.files


def token_inputs(cfg) -> bool:
    """Does the model read token ids (first layer Embedding/lookup, or an int32 input)?"""
    first = cfg.model.layers[0].type
    return first in TOKEN_LAYERS or any(i.dtype == "int32" for i in cfg.model.inputs or [])


def effective_dataset(cfg):
    """The dataset section as loaded for this model: `scale: auto` leaves token ids alone."""
    if cfg.dataset.scale == "auto" and token_inputs(cfg):
        return cfg.dataset.model_copy(update={"scale": "none"})
    return cfg.dataset


def takes_raw_inputs(cfg) -> bool:
    """Does the model scale and shape its one input itself (model/preprocessing.py)? Not for several
    inputs, token ids, or an autoencoder (its targets are the prepared inputs)."""
    return (len(cfg.model.inputs or []) <= 1 and not token_inputs(cfg) and not _autoencoder(cfg))


def _autoencoder(cfg) -> bool:
    return cfg.dataset.target == "input" and cfg.dataset.name != "csv"  # csv: a column named input


def load_for_model(cfg, first_layer: str | None) -> DataSplits:
    """The splits `train` feeds this model: named arrays, or the one-array path; then `target: input`."""
    if cfg.dataset.name == "tfrecord":  # streamed records: its own splits, class weights and names
        from expkit.data.tfrecord_splits import load_tfrecord_splits
        return load_tfrecord_splits(cfg, first_layer)
    if uses_named_arrays(cfg):
        splits = load_named_splits(cfg)
    else:
        splits = load_splits(effective_dataset(cfg), cfg.experiment.seed, first_layer,
                             raw_inputs=takes_raw_inputs(cfg))
    if cfg.training.class_weight is not None:  # found here, before the run folder exists
        from expkit.data.weights import resolve_class_weight
        splits = dataclasses.replace(splits, class_weight=resolve_class_weight(
            cfg.training.class_weight, splits.y_train, splits.task, splits.num_classes, splits.class_names))
    autoencoder = _autoencoder(cfg)
    return with_input_target(splits) if autoencoder else splits


def with_input_target(splits: DataSplits) -> DataSplits:
    """x -> x: the prepared inputs are the targets (an autoencoder)."""
    return dataclasses.replace(splits, y_train=splits.x_train, y_val=splits.x_val, y_test=splits.x_test,
                               task=REGRESSION, num_classes=None, class_names=None)


def _read(path: str, names: list[str]) -> dict[str, dict[str, np.ndarray]]:
    """{split: {name: array}} for the splits the file has; every name's train array is required.
    A single output may also be stored as y_train (y_val, y_test)."""
    with np.load(path, allow_pickle=False) as data:
        files = set(data.files)
        last = names[-1]
        if f"{last}_train" not in files and "y_train" in files and all(f"{n}_train" in files for n in names[:-1]):
            files |= {f"{last}_{split}" for split in ("train", "val", "test") if f"y_{split}" in files}
            data = _Renamed(data, last)
        missing = [f"{n}_train" for n in names if f"{n}_train" not in files]
        if missing:
            raise DataError(f"{path}: no array {', '.join(missing)}; a model with named inputs and outputs reads "
                            f"one array per name ({', '.join(f'{n}_train' for n in names)}); the file has "
                            f"{', '.join(sorted(files))}")
        out = {"train": {n: data[f"{n}_train"] for n in names}}
        for split in ("val", "test"):
            if all(f"{n}_{split}" in files for n in names):
                out[split] = {n: data[f"{n}_{split}"] for n in names}
    for split, arrays in out.items():
        counts = {n: len(a) for n, a in arrays.items()}
        if len(set(counts.values())) > 1:
            raise DataError(f"{path}: the {split} arrays hold different numbers of samples "
                            f"({', '.join(f'{n}_{split}: {c}' for n, c in counts.items())}); each needs one row per sample")
    return out


class _Renamed:
    """An npz file where y_<split> answers for <output>_<split>."""

    def __init__(self, data, output: str):
        self.data, self.output = data, output

    def __getitem__(self, key: str):
        if key.startswith(f"{self.output}_") and key not in self.data.files:
            key = "y_" + key[len(self.output) + 1:]
        return self.data[key]


def _prepared(array: np.ndarray, scale: str, name: str, path: str) -> np.ndarray:
    if array.dtype.kind in "US":
        return array.astype(str)
    if scale == "standardize":
        raise DataError(f"{path}: dataset.scale 'standardize' is not supported for named arrays ('{name}'); "
                        "store them scaled, or use scale: auto (uint8 / 255) or none")
    if array.dtype == np.uint8 and scale in ("auto", "unit"):
        return np.divide(array, np.float32(255.0), dtype=np.float32)
    if array.dtype.kind == "f":
        return array.astype(np.float32)
    return array


def load_named_splits(cfg) -> DataSplits:
    """Train/validation/test splits of named arrays: the file's own, else held out by the seed."""
    data_cfg, seed, path = cfg.dataset, cfg.experiment.seed, cfg.dataset.path
    inputs, outputs = model_names(cfg)
    if data_cfg.name == "csv":
        from expkit.data.csv_groups import read_column_groups
        read = read_column_groups(data_cfg, inputs, outputs)
    else:
        read = _read(path, inputs + outputs)
    both = {n: _prepared(a, data_cfg.scale, n, path) for n, a in read["train"].items()}
    train = NamedArrays(both)
    test = NamedArrays({n: _prepared(a, data_cfg.scale, n, path) for n, a in read["test"].items()}) \
        if "test" in read else None
    if test is None:
        kept, held = holdout(len(train), math.ceil(data_cfg.test_split * len(train)),
                             random_generator(seed, _TEST_STREAM))
        train, test = train.take(kept), train.take(held)
    if data_cfg.limit:
        train = train.take(slice(0, data_cfg.limit))
    if data_cfg.test_limit:
        test = test.take(slice(0, data_cfg.test_limit))
    val = NamedArrays({n: _prepared(a, data_cfg.scale, n, path) for n, a in read["val"].items()}) \
        if "val" in read else None
    if val is None:
        size = data_cfg.validation_size or math.ceil(data_cfg.validation_split * len(train))
        if size >= len(train):
            raise DataError(f"{path}: validation would take {size} of the {len(train)} training samples")
        if size:
            kept, held = holdout(len(train), size, random_generator(seed, _VALIDATION_STREAM))
            train, val = train.take(kept), train.take(held)

    def part(arrays, names):
        return None if arrays is None else NamedArrays({n: arrays[n] for n in names})

    unit_scaled = tuple(n for n in inputs if read["train"][n].dtype == np.uint8 and data_cfg.scale in ("auto", "unit"))
    return DataSplits(part(train, inputs), part(train, outputs), part(val, inputs), part(val, outputs),
                      part(test, inputs), part(test, outputs), REGRESSION, None, None, str(path),
                      "none" if data_cfg.scale == "auto" else data_cfg.scale, named_unit_scaled=unit_scaled)


def named_input_shapes(cfg) -> dict[str, tuple[int, ...]]:
    """Each model input's sample shape, read from the file (for `validate --build`)."""
    if cfg.dataset.name == "csv":
        from expkit.data.csv_groups import group_shapes
        return group_shapes(cfg.dataset)
    inputs, _ = model_names(cfg)
    with np.load(cfg.dataset.path, allow_pickle=False) as data:
        return {n: tuple(data[f"{n}_train"].shape[1:]) for n in inputs if f"{n}_train" in data.files}


def make_named_pipelines(splits: DataSplits, batch_size: int, seed: int, *, shuffle: bool = True,
                         shuffle_buffer: int | None = None):
    """(train, val, test) tf.data pipelines of ({input: batch}, {output: batch}) dictionaries."""
    import tensorflow as tf

    def pipeline(x, y, training):
        if x is None:
            return None
        size = len(x)
        # One input (or output) goes in bare: a plain stack is a Sequential model, which takes no dict.
        x, y = [dict(a) if len(a.keys()) > 1 else next(iter(a.values())) for a in (x, y)]
        dataset = tf.data.Dataset.from_tensor_slices((x, y)).cache()
        if training and shuffle:
            dataset = dataset.shuffle(shuffle_buffer or size, seed=seed, reshuffle_each_iteration=True)
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)

    return (pipeline(splits.x_train, splits.y_train, True), pipeline(splits.x_val, splits.y_val, False),
            pipeline(splits.x_test, splits.y_test, False))
