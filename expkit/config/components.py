"""Initializers, regularization and activations: shared by the model defaults and each layer."""
from __future__ import annotations

import re
from typing import Literal

from pydantic import Field, model_validator

from expkit.config.base import KeyProblem, NamedSpec, Spec
from expkit.config.catalog import CATALOG
from expkit.config.plugin_specs import PluginInitializer, PluginRegularizer, plugin_or
from expkit.config.plugins import plugin_names
from expkit.errors import suggest

ACTIVATIONS = ("relu", "tanh", "sigmoid", "softmax", "elu", "gelu", "leaky_relu", "swish", "silu",
               "linear", "selu", "softplus", "softsign", "hard_sigmoid", "exponential", "relu6",
               "mish", "log_softmax")
# The installed Keras' other activations (celu, hard_silu, sparsemax, ...), from the catalogue.
ACTIVATIONS += tuple(a for a in CATALOG["activations"] if a not in ACTIVATIONS)
Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]
# Keras dtype policies a layer can take (mixed_float16 computes in float16 and keeps float32 weights).
DTYPES = ("float16", "float32", "float64", "bfloat16", "mixed_float16", "mixed_bfloat16", "int8", "int16",
          "int32", "int64", "uint8", "bool", "string")
DType = Literal[DTYPES]  # type: ignore[valid-type]

# Our name -> Keras class name. xavier_* are the common aliases of glorot_*.
INITIALIZER_CLASSES = {
    "random_normal": "RandomNormal", "random_uniform": "RandomUniform",
    "truncated_normal": "TruncatedNormal", "constant": "Constant", "zeros": "Zeros",
    "ones": "Ones", "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
    "xavier_uniform": "GlorotUniform", "xavier_normal": "GlorotNormal",
    "he_uniform": "HeUniform", "he_normal": "HeNormal", "lecun_uniform": "LecunUniform",
    "lecun_normal": "LecunNormal", "orthogonal": "Orthogonal", "identity": "Identity",
    "variance_scaling": "VarianceScaling", "uniform": "RandomUniform", "normal": "RandomNormal",
}
# Which arguments each initializer takes (Keras' own constructor arguments, less seed).
INITIALIZER_ARGS = {
    "random_normal": {"mean", "stddev", "seed"}, "truncated_normal": {"mean", "stddev", "seed"},
    "random_uniform": {"minval", "maxval", "seed"}, "constant": {"value"}, "zeros": set(),
    "ones": set(), "uniform": {"minval", "maxval", "seed"}, "normal": {"mean", "stddev", "seed"}, "orthogonal": {"gain", "seed"}, "identity": {"gain"},
    "variance_scaling": {"scale", "mode", "distribution", "seed"},
}
for _name in ("glorot_uniform", "glorot_normal", "xavier_uniform", "xavier_normal", "he_uniform",
              "he_normal", "lecun_uniform", "lecun_normal"):
    INITIALIZER_ARGS[_name] = {"seed"}


class InitializerSpec(NamedSpec):
    """A Keras initializer by name, with its arguments. A bare string is shorthand for `{name: ...}`."""

    name: Literal[tuple(INITIALIZER_CLASSES)] = Field(description=(  # type: ignore[valid-type]
        "Initializer name: " + ", ".join(INITIALIZER_CLASSES) + "."))
    mean: float | None = Field(None, description="random_normal, truncated_normal: mean.")
    stddev: float | None = Field(None, gt=0, description="random_normal, truncated_normal: standard deviation.")
    minval: float | None = Field(None, description="random_uniform: lower bound.")
    maxval: float | None = Field(None, description="random_uniform: upper bound.")
    value: float | None = Field(None, description="constant: the value.")
    gain: float | None = Field(None, gt=0, description="orthogonal, identity: multiplicative factor.")
    scale: float | None = Field(None, gt=0, description="variance_scaling: scaling factor.")
    mode: Literal["fan_in", "fan_out", "fan_avg"] | None = Field(None, description="variance_scaling: fan mode.")
    distribution: Literal["truncated_normal", "untruncated_normal", "uniform"] | None = Field(
        None, description="variance_scaling: distribution.")
    seed: int | None = Field(None, description="Seed of this initializer; default: drawn from experiment.seed.")

    @model_validator(mode="before")
    @classmethod
    def _keras_spelling(cls, data):
        """Keras' class names (GlorotUniform) and its {class_name, config} form mean the same."""
        return keras_spelling(data, serialized=True)

    @model_validator(mode="after")
    def _arguments_fit(self):
        given = {k for k in self.model_fields_set if k != "name" and getattr(self, k) is not None}
        extra = given - INITIALIZER_ARGS[self.name]
        if extra:
            allowed = ", ".join(sorted(INITIALIZER_ARGS[self.name])) or "no arguments"
            extra = sorted(extra)
            raise KeyProblem(extra[0], f"initializer '{self.name}' does not take {', '.join(extra)}; "
                             f"it takes {allowed}")
        if self.minval is not None and self.maxval is not None and self.minval >= self.maxval:
            raise KeyProblem("maxval", f"random_uniform needs minval < maxval, got {self.minval} >= {self.maxval}")
        return self

    def keras_class(self) -> str:
        return INITIALIZER_CLASSES[self.name]

    def keras_kwargs(self) -> dict:
        return {k: getattr(self, k) for k in sorted(INITIALIZER_ARGS[self.name])
                if getattr(self, k) is not None}


def keras_snake(name: str) -> str:
    """GlorotUniform -> glorot_uniform, MaxNorm -> max_norm; names already in snake_case stay."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z0-9])([A-Z])", r"\1_\2", name).lower()


def keras_spelling(data, serialized: bool = False):
    """A component as written -> {name: snake_case name, ...its arguments}: a bare string is its name,
    a class name (MaxNorm) its snake_case, and with `serialized` Keras' {class_name, config} form too."""
    if serialized and isinstance(data, dict) and "class_name" in data and "name" not in data:
        data = {"name": data["class_name"], **(data.get("config") or {})}
    if isinstance(data, str):
        data = {"name": data}
    if isinstance(data, dict) and isinstance(data.get("name"), str):
        data = {**data, "name": keras_snake(data["name"])}
    return data


class RegularizerSpec(Spec):
    """A Keras weight regularizer: `l2` (Keras' default factor 0.01), `{l2: 0.0001}`, `{l1: ..., l2: ...}`."""

    l1: float = Field(0.0, ge=0, description="L1 factor: adds l1 * sum(|w|) to the loss.")
    l2: float = Field(0.0, ge=0, description="L2 factor: adds l2 * sum(w**2) to the loss.")

    @model_validator(mode="before")
    @classmethod
    def _keras_spelling(cls, data):
        data = keras_spelling(data, serialized=True)
        if isinstance(data, dict) and "name" in data:
            data = dict(data)
            name = _regularizer_name(str(data.pop("name")))
            if name not in REGULARIZERS:
                known = [*REGULARIZERS, *plugin_names("regularizers")]
                raise ValueError(f"unknown regularizer '{name}'{suggest(name, known)}; expected "
                                 f"{', '.join(known[:-1])} or {known[-1]}, or a mapping {{l1: ..., l2: ...}}")
            for key in ("l1", "l2") if name == "l1_l2" else (name,):
                data.setdefault(key, 0.01)
        return data


REGULARIZERS = ("l1", "l2", "l1_l2")


def _regularizer_name(name: str) -> str:
    return keras_snake(name).replace("l1l2", "l1_l2")


# Wherever a config takes an initializer or a regularizer: Keras' own, or a loaded plugin's by name.
Initializer = plugin_or("initializers", InitializerSpec, PluginInitializer,
                        lambda name: keras_snake(name) in INITIALIZER_CLASSES)
Regularizer = plugin_or("regularizers", RegularizerSpec, PluginRegularizer,
                        lambda name: _regularizer_name(name) in REGULARIZERS)


CONSTRAINT_ARGS = {"max_norm": {"max_value", "axis"}, "min_max_norm": {"min_value", "max_value", "rate", "axis"},
                   "non_neg": set(), "unit_norm": {"axis"}}


class ConstraintSpec(NamedSpec):
    """A Keras weight constraint by name (or class name), with its arguments."""

    name: Literal[tuple(CONSTRAINT_ARGS)] = Field(description=(  # type: ignore[valid-type]
        "Constraint: " + ", ".join(CONSTRAINT_ARGS) + "."))
    max_value: float | None = Field(None, gt=0, description="max_norm, min_max_norm: largest norm.")
    min_value: float | None = Field(None, ge=0, description="min_max_norm: smallest norm.")
    rate: float | None = Field(None, ge=0, le=1, description="min_max_norm: how far to move towards the range.")
    axis: int | list[int] | None = Field(None, description="Axis (or axes) along which the norm is taken.")

    @model_validator(mode="before")
    @classmethod
    def _keras_spelling(cls, data):
        return keras_spelling(data)

    @model_validator(mode="after")
    def _arguments_fit(self):
        extra = sorted(k for k in self.model_fields_set if k != "name" and getattr(self, k) is not None
                       and k not in CONSTRAINT_ARGS[self.name])
        if extra:
            raise KeyProblem(extra[0], f"constraint '{self.name}' does not take {', '.join(extra)}; it takes "
                             f"{', '.join(sorted(CONSTRAINT_ARGS[self.name])) or 'no arguments'}")
        return self

    def keras_class(self) -> str:
        return "".join(part.title() for part in self.name.split("_"))

    def keras_kwargs(self) -> dict:
        return {k: getattr(self, k) for k in sorted(CONSTRAINT_ARGS[self.name]) if getattr(self, k) is not None}


class RegularizationSpec(Spec):
    """Model-wide regularization. Where each piece goes is documented in the README."""

    l1: float = Field(0.0, ge=0, description="L1 penalty on the kernel of every Dense, Conv and recurrent layer.")
    l2: float = Field(0.0, ge=0, description="L2 penalty on the kernel of every Dense, Conv and recurrent layer.")
    dropout: float = Field(0.0, ge=0, lt=1, description=(
        "Dropout rate inserted at the end of each hidden Dense/Conv block (not after the output layer)."))
    batch_norm: bool = Field(False, description=(
        "Insert BatchNormalization after each hidden Dense/Conv layer, before its activation."))


class LayerRegularizationSpec(Spec):
    """Per-layer override of the model-wide regularization; unset fields inherit."""

    l1: float | None = Field(None, ge=0, description="L1 penalty on this layer's kernel.")
    l2: float | None = Field(None, ge=0, description="L2 penalty on this layer's kernel.")
    dropout: float | None = Field(None, ge=0, lt=1, description="Dropout after this layer's block (0 for none).")
    batch_norm: bool | None = Field(None, description="BatchNormalization after this layer.")

    def over(self, base: RegularizationSpec) -> RegularizationSpec:
        mine = {k: v for k, v in self.model_dump().items() if v is not None}
        return base.model_copy(update=mine)
