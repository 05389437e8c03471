"""Pydantic fields for Keras' constructor arguments, derived from the catalogue (keras_layers.json).

Every argument gets a field typed by its kind (initializers, regularizers and constraints by Keras'
names and forms, activations, dtypes) and documented by Keras' own docstring. Its default is None,
meaning Keras' default (written in the description), so a resolved config lists only what the user set.
"""
from __future__ import annotations

from typing import Any

from pydantic import Field, create_model

from expkit.config.catalog import layer_args
from expkit.config.components import Activation, ConstraintSpec, DType, Initializer, Regularizer

KIND_TYPES: dict[str, Any] = {
    "initializer": Initializer, "regularizer": Regularizer, "constraint": ConstraintSpec,
    "activation": Activation, "dtype": DType, "bool": bool, "int": int | list[int], "float": float,
    "str": str, "any": Any,
}


def _description(arg: dict) -> str:
    doc = arg.get("doc") or "Keras argument."
    if arg.get("required"):
        return doc
    default = arg.get("default")
    return f"{doc} Default: Keras' ({default!r})." if default is not None else doc


def argument_field(arg: dict) -> tuple[Any, Any]:
    tp = KIND_TYPES[arg["kind"]]
    if arg.get("required"):
        return tp, Field(description=_description(arg))
    return tp | None, Field(None, description=_description(arg))


def catalogue_fields(layer_type: str, skip: set[str]) -> dict[str, tuple[Any, Any]]:
    """Fields for the Keras arguments of `layer_type` that `skip` (hand-written or expkit's) leaves."""
    return {name: argument_field(arg) for name, arg in layer_args(layer_type).items() if name not in skip}


def derive_spec(layer_type: str, base: type, module: str, skip: set[str] = frozenset()) -> type:
    """A spec class for `layer_type`: `base`'s fields plus every other Keras argument."""
    fields = catalogue_fields(layer_type, set(base.model_fields) | set(skip))
    return create_model(layer_type, __base__=base, __module__=module, __doc__=base.__doc__, **fields)
