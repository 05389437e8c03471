"""`dataset.augment`: Keras' augmentation layers applied to training batches in the tf.data pipeline.

They run on the CPU inside the tf.data pipeline (vectorized over each batch), before the model, so they are neither part of
the saved model nor applied to validation or test data. Each layer is seeded (experiment.seed plus
its position unless the YAML gives a seed), so a run's augmented batches repeat with its seed, and
each epoch draws new ones.
"""
from __future__ import annotations

from expkit.backend import import_keras
from expkit.errors import DataError


def make_augmenter(specs, seed: int, kind: str, raw_shape: tuple[int, ...]):
    """A function batch -> augmented batch (float32 raw pixel values), or a DataError naming the layer."""
    if kind != "image" or len(raw_shape) not in (2, 3):
        raise DataError(f"dataset.augment transforms images, but the samples are {kind} of shape "
                        f"{list(raw_shape)}; remove dataset.augment")
    keras = import_keras()
    layers = []
    for i, spec in enumerate(specs):
        try:
            layers.append(getattr(keras.layers, spec.type)(
                seed=spec.seed if spec.seed is not None else seed + i, name=f"augment_{i}_{spec.type}",
                **spec.keras_kwargs()))
        except (ValueError, TypeError) as error:
            raise DataError(f"dataset.augment[{i}] ({spec.type}): {error}") from None
    grayscale = len(raw_shape) == 2  # Keras' image layers read (N, H, W, channels)

    def augment(images):
        import tensorflow as tf
        x = tf.cast(images, tf.float32)
        x = x[..., None] if grayscale else x
        for layer in layers:
            x = layer(x, training=True)
        return x[..., 0] if grayscale else x

    return augment
