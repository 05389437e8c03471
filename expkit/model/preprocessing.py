"""The model's preprocessing front: raw samples -> what the YAML's first layer reads, as Keras layers.

Scaling, standardization and the reshape (flatten, channel axis) that training fitted become the
model's first layers, so model.keras, the SavedModel export and `expkit serve` all take the same
raw inputs (uint8 pixels 0..255, table features in their own units). The statistics (fitted on the
training split; by Keras' Normalization.adapt for a streamed set) are constants of the layers, so
the front adds no parameters and no state.
"""
from __future__ import annotations

import numpy as np

FRONT_PREFIX = "preprocess_"


def raw_input_shape(pre) -> tuple[int, ...]:
    return tuple(int(d) for d in pre.raw_shape)


def front_layers(keras, pre) -> list:
    """The layers that turn a batch of raw samples (N, *raw_shape) into (N, *shape), as `pre` records."""
    layers = []
    # float32 even under mixed precision: raw table features (a population of 35,000) overflow float16.
    dtype = "float32"
    if pre.scale == "unit":
        layers.append(keras.layers.Rescaling(1.0 / 255, dtype=dtype, name=f"{FRONT_PREFIX}rescaling"))
    elif pre.scale == "standardize":
        # (x - mean) / std as x * (1 / std) - mean / std, per feature. Not Normalization(mean=, variance=):
        # it keeps its statistics as captured tensors, which tf2onnx turns into missing model inputs;
        # Rescaling's arrays become constants of the graph in every export format.
        mean, std = np.asarray(pre.mean, dtype=np.float64), np.asarray(pre.std, dtype=np.float64)
        layers.append(keras.layers.Rescaling((1.0 / std).astype(np.float32), offset=(-mean / std).astype(np.float32),
                                             dtype=dtype, name=f"{FRONT_PREFIX}standardization"))
    if tuple(pre.shape) != tuple(pre.raw_shape):
        layers.append(keras.layers.Reshape(tuple(int(d) for d in pre.shape), dtype=dtype,
                                           name=f"{FRONT_PREFIX}reshape"))
    return layers


def with_front(keras, x, pre):
    """`x` (a model input) through the front's layers; unchanged when there is no front."""
    for layer in front_layers(keras, pre) if pre is not None else []:
        x = layer(x)
    return x
