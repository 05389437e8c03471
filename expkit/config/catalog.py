"""The catalogue of Keras' layers, losses and metrics (keras_layers.json), read without importing Keras.

expkit.model.keras_catalog writes the file from the installed Keras' signatures and docstrings
(`make docs`); a test fails when it is stale. Each layer entry holds its constructor arguments
(`kind`: initializer, regularizer, constraint, activation, dtype, bool, int, float, str or any;
`default` or `required`; `doc`), how it is called (`call.tensors`, `call.list_of`, `call.flags`),
and whether it is a merge, a recurrent layer or a wrapper of another layer.
"""
from __future__ import annotations

import json
from pathlib import Path

CATALOG_PATH = Path(__file__).with_name("keras_layers.json")
CATALOG: dict = json.loads(CATALOG_PATH.read_text(encoding="utf-8"))
LAYERS: dict[str, dict] = CATALOG["layers"]
# Arguments that hold a layer's main weights: model.initializer and model.regularization go there.
KERNEL_INITIALIZERS = ("kernel_initializer", "depthwise_initializer", "pointwise_initializer",
                       "embeddings_initializer")
KERNEL_REGULARIZERS = ("kernel_regularizer", "depthwise_regularizer", "pointwise_regularizer")


def layer_args(layer_type: str) -> dict[str, dict]:
    return LAYERS.get(layer_type, {}).get("args", {})


def has_kernel(layer_type: str) -> bool:
    return any(a in layer_args(layer_type) for a in KERNEL_INITIALIZERS)


def call_info(layer_type: str) -> dict:
    return LAYERS.get(layer_type, {}).get("call", {"tensors": ["inputs"], "list_of": None, "flags": {}})


# expkit's own merges (model/native.py) and how many nodes each takes.
NATIVE_MERGES = {"EuclideanDistance": 2}


def is_merge(layer_type: str) -> bool:
    return layer_type in NATIVE_MERGES or LAYERS.get(layer_type, {}).get("merge", False)


def is_recurrent(layer_type: str) -> bool:
    return LAYERS.get(layer_type, {}).get("recurrent", False)


def tensor_slots(layer_type: str) -> list[str] | None:
    """The names of the tensors a layer reads from several nodes: Attention's [query, value, key]
    (one list argument) or MultiHeadAttention's call arguments; None for a merge (any number)."""
    call = call_info(layer_type)
    if is_merge(layer_type):
        return None
    return call["list_of"] or call["tensors"]
