"""Refuse a model that cannot fit in memory before any of its weights exist.

Inside `keras.StatelessScope`, Keras gives a new variable a shape but no value (it is made on first
use), so the model is built once that way to count each layer's weights and outputs; only a model
that fits is then built for real. `units: 1.0e+12` becomes a located error instead of an
out-of-memory kill (or a half-minute of swapping) after TensorFlow tried to allocate 8 TB.
"""
from __future__ import annotations

import math
import random
from typing import Callable

import numpy as np

from expkit.config.model import node_name
from expkit.errors import BuildError
from expkit.config.limits import human, over_memory

# Training holds each weight ~5 times (value, gradient, two Adam moments, the update) and each layer's
# output ~4 times per sample of a batch (forward value, activation, their gradients); measured: 16 GB
# to train Dense(30,000,000) on 2 inputs in batches of 32, estimated 17.8 GB.
WEIGHT_COPIES, OUTPUT_COPIES, FLOAT_BYTES = 5, 4, 4


def check_model_size(build: Callable, cfg, batch_size: int, locate) -> None:
    """Build without memory; BuildError naming the largest layer when training would not fit."""
    from expkit.backend import import_keras
    keras = import_keras()
    from keras.src.backend.common import global_state
    pending = list(global_state.get_global_attribute("uninitialized_variables") or [])
    # Initializers without a seed draw one from Python's random module as they are made: the real build
    # must draw the same ones, or the measuring build would change a seeded run's weights.
    python_rng, numpy_rng = random.getstate(), np.random.get_state()
    try:
        with keras.StatelessScope(initialize_variables=False):
            model = build()
        sizes = [(layer.name, _weights(layer), _outputs(layer)) for layer in model.layers]
    except Exception:  # noqa: BLE001 - the real build that follows reports what is wrong with the model
        return
    finally:  # the shapes-only variables must not be initialized later by someone else's scope
        global_state.set_global_attribute("uninitialized_variables", pending or None)
        random.setstate(python_rng)
        np.random.set_state(numpy_rng)
    weights = sum(w for _, w, _ in sizes)
    outputs = sum(o for _, _, o in sizes)
    need = FLOAT_BYTES * (WEIGHT_COPIES * weights + OUTPUT_COPIES * outputs * batch_size)
    too_big = over_memory(need)
    if not too_big:
        return
    name, layer_weights, layer_outputs = max(sizes, key=lambda s: s[1] * WEIGHT_COPIES + s[2] * batch_size)
    index = next((i for i, spec in enumerate(cfg.model.layers) if name.startswith(node_name(i, spec))), None)
    where = locate(("model", "layers", index)) if index is not None else None
    which = f"model.layers[{index}] ({cfg.model.layers[index].type})" if index is not None else f"layer {name}"
    raise BuildError(f"{where or 'model'}: {which} has {layer_weights:,} weights and {layer_outputs:,} outputs per "
                     f"sample; training the model needs about {human(need)} ({weights:,} weights, batches of "
                     f"{batch_size}), {too_big}; make the layer smaller (units, filters, input_dim)")


def _weights(layer) -> int:
    return sum(math.prod(int(d) for d in v.shape) for v in layer.weights)


def _outputs(layer) -> int:
    try:
        outputs = layer.output
    except (AttributeError, ValueError):
        return 0
    tensors = outputs if isinstance(outputs, (list, tuple)) else [outputs]
    return sum(math.prod(int(d or 1) for d in t.shape[1:]) for t in tensors)
