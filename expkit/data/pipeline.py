"""tf.data pipelines over prepared splits. TensorFlow is imported here only, when called."""
from __future__ import annotations

from expkit.data.prepare import DataSplits

MEMORY_CACHE_LIMIT = 256 * 2**20  # cache: true keeps a streamed set in memory only below this (decoded)
SHUFFLE_BYTES = 64 * 2**20        # a cached stream's default shuffle buffer holds about this much
CACHE_BLOCK = 256                 # samples per cache record (see _cached)


def cache_mode(cache: bool | str, splits: DataSplits) -> str:
    """memory | disk | none for this data: `true` is memory, unless a streamed set would not fit."""
    if cache is False or cache == "none":
        return "none"
    if cache is True:
        if splits.decoding is None:
            return "memory"
        count = sum(len(x) for x in (splits.x_train, splits.x_val, splits.x_test) if x is not None)
        return "memory" if count * _sample_bytes(splits) <= MEMORY_CACHE_LIMIT else "none"
    return cache if splits.decoding is not None else "memory"  # arrays are in memory already


def _sample_bytes(splits: DataSplits) -> int:
    import numpy as np

    if hasattr(splits.decoding, "sample_bytes"):  # records of several features of mixed dtypes
        return splits.decoding.sample_bytes

    size = np.dtype(getattr(splits.decoding, "dtype", np.uint8)).itemsize
    for d in splits.decoding.sample_shape:
        size *= int(d)
    return size


def make_pipelines(splits: DataSplits, batch_size: int, seed: int, *, cache: bool | str = True,
                   shuffle: bool = True, shuffle_buffer: int | None = None, input_names: list[str] | None = None,
                   cache_dir: str | None = None):
    """(train_ds, val_ds or None, test_ds or None), batched and prefetched.

    With `input_names`, sample column i feeds the model input named input_names[i], as shape [1]
    (a skip-gram model's word and context inputs).

    Training data is cached before the shuffle, so each epoch reshuffles from the cache; the order
    depends only on `seed`. Validation and test data are never shuffled. A streamed set (file paths)
    is decoded in parallel inside the pipeline: see `_streamed`.
    """
    import tensorflow as tf

    mode = cache_mode(cache, splits)
    if splits.decoding is not None:
        from expkit.data.disk_cache import cache_file

        def streamed(x, y, w, name):
            if x is None:
                return None
            file = cache_file(cache_dir, name, x, splits.decoding) if mode == "disk" else None
            labels = y if w is None else (y, w)
            return _streamed(tf, splits, x, labels, batch_size, seed, mode, file,
                             shuffle and name == "train", shuffle_buffer, name == "train")

        return (streamed(splits.x_train, splits.y_train, splits.w_train, "train"),
                streamed(splits.x_val, splits.y_val, splits.w_val, "val"),
                streamed(splits.x_test, splits.y_test, splits.w_test, "test"))

    def pipeline(x, y, w, training: bool):
        if x is None:
            return None
        size = len(x)
        if input_names:
            x = {name: x[:, i:i + 1] for i, name in enumerate(input_names)}
        dataset = tf.data.Dataset.from_tensor_slices((x, y) if w is None else (x, y, w))
        if mode != "none":
            dataset = dataset.cache()
        if training and shuffle:
            dataset = dataset.shuffle(shuffle_buffer or size, seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.batch(batch_size)
        if training and splits.augment is not None:
            dataset = _augmented(tf, dataset, splits.augment)
        return dataset.prefetch(tf.data.AUTOTUNE)

    return (pipeline(splits.x_train, splits.y_train, splits.w_train, True),
            pipeline(splits.x_val, splits.y_val, splits.w_val, False),
            pipeline(splits.x_test, splits.y_test, splits.w_test, False))


def _streamed(tf, splits: DataSplits, paths, y, batch_size, seed, mode, file, shuffle, shuffle_buffer, training):
    """paths -> decoded (parallel) -> cached -> shuffled -> batched -> prepared -> prefetched.

    Without a cache the paths themselves are shuffled (a perfect shuffle costs a few bytes per file);
    with one, the decoded images are cached in file order and shuffled from the cache through a
    buffer of about SHUFFLE_BYTES, so memory does not grow with the set. Rows read in file order
    (CSV, .npy) are always shuffled through that buffer."""
    dataset = decoded(tf, splits.decoding, paths, y, shuffle and mode == "none", shuffle_buffer, seed)
    if isinstance(y, tuple):  # (labels, sample weights): Keras reads (x, y, sample_weight)
        dataset = dataset.map(lambda x, labels: (x, *labels))
    if mode != "none":
        dataset = _cached(tf, dataset, file, len(paths), len(paths) * _sample_bytes(splits))
    if shuffle and (mode != "none" or hasattr(splits.decoding, "tf_samples")):
        buffer = shuffle_buffer or min(len(paths), max(batch_size, SHUFFLE_BYTES // _sample_bytes(splits)))
        dataset = dataset.shuffle(buffer, seed=seed, reshuffle_each_iteration=True)
    dataset = dataset.batch(batch_size)
    if training and splits.augment is not None:
        dataset = _augmented(tf, dataset, splits.augment)
    # else the model's first layers scale and shape the raw images (several tfrecord inputs: none do)
    if splits.preprocessor is not None and not splits.preprocessor.in_model:
        prepare = splits.preprocessor.tf_call
        dataset = dataset.map(lambda x, *rest: (prepare(x), *rest), num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.prefetch(tf.data.AUTOTUNE)


def _cached(tf, dataset, file, count: int, split_bytes: int):
    """The decoded samples cached: in memory, or on disk in blocks of CACHE_BLOCK (one by one again after).

    Profiled (benchmarks/stream_memory.py): after the first epoch, most of a small streamed epoch went into
    its first batch, the shuffle buffer refilling from the cache one record per sample; a record per block
    read back about twice as fast (median of four passes over a 47,500-image cache: 0.69 s against 1.29 s,
    on a loaded machine). A disk cache (kept for later runs) of a split that `cache: true` would
    keep in memory is also kept in memory for this run, so later epochs do not read the file at all."""
    if file is None:
        return dataset.cache()
    dataset = dataset.batch(CACHE_BLOCK).cache(str(file)).unbatch()
    if split_bytes <= MEMORY_CACHE_LIMIT:
        dataset = dataset.cache()  # one sample per element, as the in-memory path's cache
    # unbatch hides the count; Keras needs it to know an epoch's steps
    return dataset.apply(tf.data.experimental.assert_cardinality(count))


def decoded(tf, decoding, keys, y=None, shuffle_keys=False, shuffle_buffer=None, seed=0):
    """tf.data of the raw samples of `keys` (zipped with `y` when given). Files (images) are decoded in
    parallel, in key order, shuffled first when asked (a perfect shuffle of paths); a source that reads
    rows in file order (CSV, .npy: `tf_samples`) is shuffled after reading, through the pipeline's buffer."""
    if hasattr(decoding, "tf_samples"):
        return decoding.tf_samples(keys, y)
    dataset = tf.data.Dataset.from_tensor_slices(keys if y is None else (keys, y))
    if shuffle_keys:
        dataset = dataset.shuffle(shuffle_buffer or len(keys), seed=seed, reshuffle_each_iteration=True)
    if y is None:
        return dataset.map(decoding.tf_decode, num_parallel_calls=tf.data.AUTOTUNE)
    return dataset.map(lambda key, label: (decoding.tf_decode(key), label), num_parallel_calls=tf.data.AUTOTUNE)


def epoch_keyed_train_pipeline(splits: DataSplits, batch_size: int, seed: int, first_epoch: int, epochs: int,
                               input_names: list[str] | None = None):
    """(dataset, steps_per_epoch): the training batches of epochs first_epoch..epochs-1 (0-based) as one
    stream, each epoch's order a pure function of (seed, epoch). A run resumed at epoch k then sees
    exactly the batches an uninterrupted run saw from epoch k on, which the reshuffling pipeline above
    cannot promise (its per-iterator seeds depend on how many iterators Keras made and dropped).
    Used with training.deterministic (a different order from make_pipelines', so not for every run)."""
    import tensorflow as tf
    x, y = splits.x_train, splits.y_train
    size = len(x)
    if input_names:
        x = {name: x[:, i:i + 1] for i, name in enumerate(input_names)}
    arrays = (x, y) if splits.w_train is None else (x, y, splits.w_train)
    arrays = tf.nest.map_structure(tf.constant, arrays)

    def epoch_batches(epoch):
        order = tf.random.experimental.stateless_shuffle(
            tf.range(size, dtype=tf.int64), seed=tf.stack([tf.constant(seed, tf.int64), epoch]))
        return tf.data.Dataset.from_tensor_slices(order).batch(batch_size)

    def gather(indices):
        return tf.nest.map_structure(lambda a: tf.gather(a, indices), arrays)

    dataset = (tf.data.Dataset.range(first_epoch, epochs).flat_map(epoch_batches)
               .map(gather, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True))
    if splits.augment is not None:
        dataset = _augmented(tf, dataset, splits.augment)
    return dataset.prefetch(tf.data.AUTOTUNE), -(-size // batch_size)


def _augmented(tf, dataset, augment):
    """Training batches through dataset.augment's layers, after the cache: new draws every epoch.

    One batch at a time (each layer's ops are vectorized over the batch and use TensorFlow's threads;
    prefetch overlaps them with training): the layers draw from their seeded generators in batch
    order, so a seed repeats its augmentations. Parallel calls would draw in whatever order they ran."""
    return dataset.map(lambda x, *rest: (augment(x), *rest))
