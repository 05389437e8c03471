"""tfrecord, streamed: records of tf.train.Example read by tf.data, never loaded into arrays.

The files are read in parallel and interleaved (`interleave` of `TFRecordDataset`, `num_parallel_calls=
AUTOTUNE`, a fixed cycle of up to CYCLE files so the order is the same on every machine) and each record
is parsed with `tf.io.parse_single_example` and the config's FixedLenFeature spec. The pipeline after
that (cache, shuffle through a bounded buffer, batch, prefetch) is `pipeline._streamed`, the one
image_folder and streamed CSV use.

Splits: a record's split is a hash of (seed, its file's name below the glob's folder, its index in the
file), with `tf.strings.to_hash_bucket_fast` (FarmHash's Fingerprint64, the hash of Keras' Hashing
layer), the way TFX's ExampleGen splits records by hash buckets: the same records for the same seed on
every run and machine, whatever the read order, and adding a file leaves the other files' records in
their splits. `test_split` of the records go to the test split, then `validation_split` of the rest to
validation: fractions in expectation (the counts are exact, from the scan).
"""
from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass

import numpy as np

from expkit.data.tfrecord_scan import KEY_SHIFT, image_decoding, tf_feature

HASH_BUCKETS = 1 << 20
CYCLE = 8
SPLIT_CODES = {"test": 0, "val": 1, "train": 2}


@dataclass(frozen=True)
class RecordSplit:
    """A split of a tfrecord set: `len()` is its number of records; the records stay in the files."""

    split: str
    count: int
    files: tuple[str, ...]
    shapes: dict[str, tuple[int, ...]] | None = None  # several named inputs: each one's sample shape
    source: "RecordDecoding | None" = None

    def __len__(self) -> int:
        return self.count

    def tf_dataset(self, name: str | None = None, batch_size: int = 256):
        """The split's inputs (or input `name` of several) as batches: what Keras' `adapt` reads."""
        import tensorflow as tf

        dataset = self.source.tf_samples(self)
        if isinstance(dataset.element_spec, dict):
            name = name if name in dataset.element_spec else next(iter(dataset.element_spec))
            dataset = dataset.map(lambda x: x[name])
        return dataset.batch(batch_size).prefetch(tf.data.AUTOTUNE)


@dataclass(frozen=True, eq=False)
class RecordDecoding:
    """How a split's records are found and become (x, y) or (x, y, sample_weight) samples."""

    files: tuple[str, ...]
    names: tuple[str, ...]      # each file's name below the glob's folder: its part of the split hash
    readable: tuple[int, ...]   # records to read per file (-1: all; fewer when the file is cut short)
    fixed: tuple[int, ...]      # per file: the split code of a validation/test glob's file, -1: hashed
    bad: np.ndarray             # sorted keys of the records left out (skip_corrupt)
    features: dict              # name -> FeatureSpec (dtype, shape)
    inputs: tuple[str, ...]
    labels: tuple[str, ...]
    weight: str | None
    seed: int
    cuts: tuple[int, int]       # hash buckets below cuts[0]: test; below cuts[1]: validation
    limits: dict                # split -> the first N records of it, or None
    one_hot: int | None = None  # a class label given as one-hot vectors of this many classes
    unit_images: bool = False   # several inputs: image features divided by 255 (as an .npz's uint8 arrays)
    class_label: bool = False

    @property
    def bare_x(self) -> bool:
        return len(self.inputs) == 1

    def fed_shape(self, name: str) -> tuple[int, ...]:
        """An input feature's shape as the model gets it: one value (shape []) comes as [1]."""
        return tuple(self.features[name].shape) or (1,)

    @property
    def sample_shape(self) -> tuple[int, ...]:
        """The one input's raw shape (several inputs: the first's; they are not prepared as one)."""
        return self.fed_shape(self.inputs[0])

    @property
    def sample_bytes(self) -> int:
        """Parsed bytes of one example's inputs: what a cache and a shuffle buffer hold per sample."""
        size = 0
        for name in self.inputs:
            size += int(np.prod(self.features[name].shape)) * {"float32": 4, "int64": 8, "image": 1}[
                self.features[name].dtype]
        return max(size, 1)

    def key(self) -> str:
        """What a disk cache of these splits depends on besides the files themselves."""
        spec = sorted((n, f.dtype, tuple(f.shape)) for n, f in self.features.items())
        text = repr((spec, self.inputs, self.labels, self.weight, self.seed, self.cuts, sorted(self.limits.items()),
                     self.one_hot, self.unit_images, self.readable, self.names, self.fixed, self.bad.tobytes()))
        return "tfrecord-" + hashlib.sha256(text.encode()).hexdigest()[:12]

    def split_codes(self, tf, name, indices, fixed=-1):
        """0 test, 1 validation, 2 train for records `indices` of the file called `name` (tensors or not);
        all `fixed` for a file of the validation or test glob."""
        keys = tf.strings.join([tf.strings.as_string(tf.constant(self.seed, tf.int64)), ":", name, ":",
                                tf.strings.as_string(indices)])
        bucket = tf.strings.to_hash_bucket_fast(keys, HASH_BUCKETS)
        code = tf.where(bucket < self.cuts[1], tf.constant(1, tf.int64), tf.constant(2, tf.int64))
        hashed = tf.where(bucket < self.cuts[0], tf.constant(0, tf.int64), code)
        return tf.where(tf.cast(fixed, tf.int64) >= 0, tf.cast(fixed, tf.int64), hashed)

    def records(self, tf, split: str):
        """The serialized records of `split`, read in parallel from interleaved files, in a fixed order."""
        code = SPLIT_CODES[split]
        # The bad keys, sorted, and a sentinel past every key, so a search always lands on an entry.
        bad = tf.constant(np.append(self.bad, np.iinfo(np.int64).max), tf.int64)
        files = tf.data.Dataset.from_tensor_slices((list(self.files), list(self.names),
                                                    tf.constant(self.readable, tf.int64),
                                                    tf.range(len(self.files), dtype=tf.int64),
                                                    tf.constant(self.fixed, tf.int64)))

        def read(path, name, readable, file_index, fixed):
            def mine(index, record):
                keep = tf.equal(self.split_codes(tf, name, index, fixed), code)
                if self.bad.size:  # leave out the records the scan found bad
                    key = tf.bitwise.bitwise_or(tf.bitwise.left_shift(file_index, KEY_SHIFT), index)
                    found = tf.gather(bad, tf.searchsorted(bad, key[None])[0])
                    keep = tf.logical_and(keep, tf.not_equal(found, key))
                return keep
            return (tf.data.TFRecordDataset(path).take(readable).enumerate()
                    .filter(mine).map(lambda index, record: record))

        dataset = files.interleave(read, cycle_length=min(len(self.files), CYCLE), block_length=1,
                                   num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        if self.limits.get(split):
            dataset = dataset.take(self.limits[split])
        return dataset

    def parse(self, tf, record):
        """One serialized Example -> (x, y) or (x, y, weight); several inputs/labels as {name: tensor}."""
        spec = {n: tf_feature(tf, f) for n, f in self.features.items()}
        example = tf.io.parse_single_example(record, spec)
        for name, feature in self.features.items():
            if feature.dtype == "image":
                example[name] = image_decoding(feature).tf_decode_bytes(example[name])
                if self.unit_images:
                    example[name] = tf.cast(example[name], tf.float32) / 255.0
        x = {n: tf.reshape(example[n], self.fed_shape(n)) for n in self.inputs}
        x = x[self.inputs[0]] if self.bare_x else x
        if len(self.labels) == 1:
            y = example[self.labels[0]]
            if self.class_label:
                y = tf.reshape(y, [])
                if self.one_hot:
                    y = tf.one_hot(y, self.one_hot, dtype=tf.float32)
        else:
            y = {n: example[n] for n in self.labels}
        if self.weight is None:
            return x, y
        return x, y, tf.cast(tf.reshape(example[self.weight], []), tf.float32)

    def tf_samples(self, split: "RecordSplit", labels=None):
        """The pipeline's source (pipeline.decoded): the split's parsed samples, (x, y) or (x, y, weight);
        only the inputs when `labels` is None (Normalization.adapt). In file order: the pipeline shuffles
        them through its buffer."""
        import tensorflow as tf

        dataset = self.records(tf, split.split)
        if labels is None:
            return dataset.map(lambda record: self.parse(tf, record)[0], num_parallel_calls=tf.data.AUTOTUNE)
        dataset = dataset.map(lambda record: self.parse(tf, record), num_parallel_calls=tf.data.AUTOTUNE)
        # The scan counted the split: with its size known, Keras shows and schedules whole epochs.
        return dataset.apply(tf.data.experimental.assert_cardinality(split.count))

    def fingerprint(self, split: "RecordSplit") -> str:
        """What a disk cache of the split depends on in the files: each one's path, size and modification time."""
        stats = [(f, os.stat(f).st_size, os.stat(f).st_mtime_ns) for f in split.files]
        return "\n".join(f"{f}\t{size}\t{mtime}" for f, size, mtime in stats)
