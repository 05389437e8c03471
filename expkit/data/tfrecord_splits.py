"""tfrecord: the config's feature spec matched to the model, the scan, and the splits `train` feeds.

- One input feature feeds the model's one input (whatever its name); several feed the model inputs of
  the same names (model.inputs), as named arrays of an .npz file do. One label feeds the one output;
  several feed the outputs of the same names (model.outputs).
- One input is prepared like image_folder's streamed images: scaling, standardization (statistics from
  Keras' Normalization.adapt over one pass of the training split) and reshaping are the model's first
  layers. Several inputs go in as stored (`scale: auto` or `none`), like named arrays.
"""
from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np

from expkit.backend import import_keras
from expkit.data.multi import effective_dataset, takes_raw_inputs
from expkit.data.prepare import DataSplits, Preprocessor, check_labels, resolve_scale, sample_shape
from expkit.data.raw import CLASSIFICATION, REGRESSION
from expkit.data.tfrecord import HASH_BUCKETS, SPLIT_CODES, RecordDecoding, RecordSplit
from expkit.data.tfrecord_scan import Scanner, find_files, glob_root
from expkit.errors import DataError


def _names(items) -> str:
    return ", ".join(items) or "none"


def match_model(cfg) -> None:
    """The spec's input and label features against the model's named inputs and outputs."""
    spec, weight = cfg.dataset.tfrecord, cfg.dataset.sample_weight
    features, labels = spec.inputs(weight), spec.labels
    inputs = [i.name for i in cfg.model.inputs or []]
    outputs = list(cfg.model.outputs or [])
    if len(features) > 1 or len(inputs) > 1:
        if sorted(features) != sorted(inputs):
            raise DataError(f"the records' input features ({_names(features)}) must be the model's inputs "
                            f"(model.inputs: {_names(inputs)}), one feature per input, named alike; rename the "
                            "inputs, or list only the features the model reads in dataset.tfrecord.features")
    if len(labels) > 1 or len(outputs) > 1:
        if sorted(labels) != sorted(outputs):
            raise DataError(f"dataset.tfrecord.label ({_names(labels)}) must name one feature per model output "
                            f"(model.outputs: {_names(outputs)}), named alike")


def _split_cuts(data) -> tuple[int, int]:
    """Hash buckets below the first: test; below the second: validation (none for a split of its own glob)."""
    test = 0 if data.tfrecord.test else round(data.test_split * HASH_BUCKETS)
    return test, test + (0 if data.tfrecord.validation else round(data.validation_split * (HASH_BUCKETS - test)))


def _split_files(data) -> tuple[list[str], list[str], list[int]]:
    """(files, their names in the split hash, their fixed split code or -1) of the path, validation and test globs."""
    files, names, fixed = [], [], []
    for glob, code, key in ((data.path, -1, "dataset.path"), (data.tfrecord.validation, 1, "dataset.tfrecord.validation"),
                            (data.tfrecord.test, 0, "dataset.tfrecord.test")):
        if glob is None:
            continue
        root = glob_root(glob)
        for file in find_files(glob, key):
            if file in files:
                raise DataError(f"{file} matches both {key} and an earlier glob; a file belongs to one split: "
                                "make the globs exclusive (e.g. data/train-*.tfrecord, data/test-*.tfrecord)")
            files.append(file)
            names.append(_relative(file, root))
            fixed.append(code)
    return files, names, fixed


def _row_checks(spec, weight, num_classes):
    """check_rows for the scan: the label is a class index in range; the weight is finite and 0 or more."""
    label = spec.labels[0] if spec.classification else None

    def check(parsed, valid):
        if label is not None:
            values = parsed[label].reshape(len(valid))
            top = num_classes if num_classes else np.iinfo(np.int64).max
            for row in np.flatnonzero(valid & ((values < 0) | (values >= top))):
                yield int(row), (f"label '{label}' is {values[row]}, not a class index in 0..{top - 1}"
                                 if num_classes else f"label '{label}' is {values[row]}, a class index must be 0 or more")
        if weight is not None:
            values = parsed[weight].reshape(len(valid)).astype(np.float64)
            for row in np.flatnonzero(valid & ~(np.isfinite(values) & (values >= 0))):
                yield int(row), f"sample weight '{weight}' is {values[row]}; weights must be finite and 0 or more"
    return check


def scan_records(cfg):
    """(decoding, scan): the files of the glob read once (see tfrecord_scan)."""
    import_keras()  # TensorFlow without its start-up noise
    import tensorflow as tf

    data = cfg.dataset
    spec, weight = data.tfrecord, data.sample_weight
    files, names, fixed = _split_files(data)
    decoding = RecordDecoding(tuple(files), tuple(names), tuple([-1] * len(files)), tuple(fixed),
                              np.zeros(0, np.int64), spec.features,
                              tuple(spec.inputs(weight)), tuple(spec.labels), weight, cfg.experiment.seed,
                              _split_cuts(data), {"train": data.limit, "test": data.test_limit},
                              class_label=spec.classification)
    by_path = {file: (name, code) for file, name, code in zip(files, names, fixed)}

    def split_code(path, indices):
        name, code = by_path[path]
        return decoding.split_codes(tf, name, tf.constant(indices, tf.int64), code).numpy()

    scanner = Scanner(files, spec.features, split_code, _row_checks(spec, weight, spec.num_classes),
                      bool(data.skip_corrupt), tf)
    scan = scanner.run(spec.labels[0] if spec.classification else None)
    return dataclasses.replace(decoding, readable=tuple(scan.readable), bad=scan.bad), scan


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix()
    except ValueError:
        return Path(path).name


def load_tfrecord_splits(cfg, first_layer: str | None) -> DataSplits:
    """The splits of a tfrecord dataset for this model (`cfg`: the whole ExperimentConfig)."""
    match_model(cfg)
    data = effective_dataset(cfg)
    spec = data.tfrecord
    task = CLASSIFICATION if spec.classification else REGRESSION
    check_labels(data, task)
    decoding, scan = scan_records(cfg)
    counts = {split: scan.counts[code] for split, code in SPLIT_CODES.items()}
    for split, limit in decoding.limits.items():
        counts[split] = min(counts[split], limit) if limit else counts[split]
    num_classes = class_names = None
    if task == CLASSIFICATION:
        found = max((len(c) for c in scan.class_counts.values()), default=0)
        num_classes = spec.num_classes or found
        class_names = [str(i) for i in range(num_classes)]
        if data.labels == "one_hot":
            decoding = dataclasses.replace(decoding, one_hot=num_classes)
    if not decoding.bare_x and data.scale in ("auto", "unit"):  # several inputs: images to [0, 1] as they are read
        decoding = dataclasses.replace(decoding, unit_images=True)
    note = ""
    if scan.skipped:
        print(f"note: skipped {scan.skipped} bad record(s) or unreadable file end(s); the first: {scan.first_problem}",
              flush=True)
        note = f", {scan.skipped} bad record(s) skipped"
    if not counts["train"]:
        raise DataError(f"dataset.path '{data.path}': no training records are left ({sum(counts.values())} in all"
                        f"{note}); use more records or smaller test_split / validation_split")
    shapes = None if decoding.bare_x else {n: decoding.fed_shape(n) for n in decoding.inputs}

    def split(name):
        return RecordSplit(name, counts[name], decoding.files, shapes, decoding) if counts[name] else None

    x = {name: split(name) for name in SPLIT_CODES}
    y = {name: None if x[name] is None else x[name] if len(decoding.labels) == 1
         else {label: x[name] for label in decoding.labels} for name in SPLIT_CODES}
    preprocessor, scale, augment = _prepare(cfg, data, decoding, task, class_names, x["train"], first_layer)
    splits = DataSplits(x["train"], y["train"], x["val"], y["val"], x["test"], y["test"], task, num_classes,
                        class_names, f"{data.path} ({len(decoding.files)} TFRecord file(s), streamed{note})", scale,
                        preprocessor, decoding, augment)
    if cfg.training.class_weight is not None:
        from expkit.data.weights import resolve_class_weight
        train_counts = scan.class_counts.get(SPLIT_CODES["train"], np.zeros(0, np.int64))
        # resolve_class_weight counts labels; these stand for the training split's (a few bytes per record).
        labels = np.repeat(np.arange(len(train_counts)), train_counts) if task == CLASSIFICATION else np.zeros(0)
        splits = dataclasses.replace(splits, class_weight=resolve_class_weight(
            cfg.training.class_weight, labels, task, num_classes, class_names))
    return splits


def _prepare(cfg, data, decoding: RecordDecoding, task, class_names, train, first_layer):
    """(preprocessor or None, scale, augment or None) for the input(s)."""
    if not decoding.bare_x:
        if data.scale == "standardize" or data.augment:
            what = "dataset.augment" if data.augment else f"dataset.scale '{data.scale}'"
            raise DataError(f"{what}: several tfrecord inputs ({', '.join(decoding.inputs)}) go to the model as "
                            "stored (image features divided by 255 under scale auto or unit); store them scaled")
        return None, "unit" if decoding.unit_images else "none", None
    feature = decoding.features[decoding.inputs[0]]
    raw_shape = decoding.sample_shape
    kind = "image" if len(raw_shape) in (2, 3) else "tabular"
    scale = resolve_scale(data, kind, np.dtype("uint8" if feature.dtype == "image" else feature.dtype))
    shape = sample_shape(raw_shape, data, first_layer)
    mean = std = None
    if scale == "standardize":
        from expkit.data.stream_stats import streamed_mean_std
        mean, std = streamed_mean_std(train, decoding)
    in_model = takes_raw_inputs(cfg)
    preprocessor = Preprocessor(scale, kind, raw_shape, shape, mean, std, task, class_names, None, None, in_model)
    augment = None
    if data.augment:
        from expkit.data.augment import make_augmenter
        augment = make_augmenter(data.augment, cfg.experiment.seed, kind, raw_shape)
    return preprocessor, scale, augment


def describe_records(data, first_layer: str | None):
    """(input shape, or {input: shape} for several; num_classes or None; task) from the spec alone."""
    spec, weight = data.tfrecord, data.sample_weight
    inputs = spec.inputs(weight)
    shapes = {n: tuple(spec.features[n].shape) or (1,) for n in inputs}
    task = CLASSIFICATION if spec.classification else REGRESSION
    check_labels(data, task)
    if len(inputs) > 1:
        return shapes, None, task
    return sample_shape(shapes[inputs[0]], data, first_layer), spec.num_classes, task
