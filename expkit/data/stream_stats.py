"""Standardization statistics of a streamed training split: one pass, nothing materialised."""
from __future__ import annotations

import numpy as np

from expkit.backend import import_keras

ADAPT_BATCH = 256


def streamed_mean_std(paths: np.ndarray, decoding) -> tuple[np.ndarray, np.ndarray]:
    """Per-feature mean and standard deviation of the decoded samples (images, CSV or .npy rows), from Keras' Normalization.adapt
    over a tf.data pipeline of the training paths (batch by batch, so memory holds one batch)."""
    keras = import_keras()
    import tensorflow as tf

    shape = tuple(decoding.sample_shape)
    from expkit.data.pipeline import decoded

    dataset = (decoded(tf, decoding, paths)
               .map(lambda image: tf.cast(image, tf.float32))
               .batch(ADAPT_BATCH).prefetch(tf.data.AUTOTUNE))
    # Every non-batch axis is a feature axis: one mean per pixel (and channel), like the in-memory path.
    layer = keras.layers.Normalization(axis=tuple(range(1, len(shape) + 1)))
    layer.adapt(dataset)
    mean = np.asarray(layer.mean, dtype=np.float64).reshape(shape)
    std = np.sqrt(np.maximum(np.asarray(layer.variance, dtype=np.float64).reshape(shape), 0.0))
    std[std == 0] = 1.0  # a constant feature becomes 0 instead of nan
    return mean.astype(np.float32), std.astype(np.float32)
