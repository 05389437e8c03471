"""Initializers, regularization and activations: shared by the model defaults and each layer."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from expkit.config.base import KeyProblem, NamedSpec, Spec

ACTIVATIONS = ("relu", "tanh", "sigmoid", "softmax", "elu", "gelu", "leaky_relu", "swish", "silu",
               "linear", "selu", "softplus", "softsign", "hard_sigmoid", "exponential", "relu6",
               "mish", "log_softmax")
Activation = Literal[ACTIVATIONS]  # type: ignore[valid-type]

# Our name -> Keras class name. xavier_* are the common aliases of glorot_*.
INITIALIZER_CLASSES = {
    "random_normal": "RandomNormal", "random_uniform": "RandomUniform",
    "truncated_normal": "TruncatedNormal", "constant": "Constant", "zeros": "Zeros",
    "ones": "Ones", "glorot_uniform": "GlorotUniform", "glorot_normal": "GlorotNormal",
    "xavier_uniform": "GlorotUniform", "xavier_normal": "GlorotNormal",
    "he_uniform": "HeUniform", "he_normal": "HeNormal", "lecun_uniform": "LecunUniform",
    "lecun_normal": "LecunNormal", "orthogonal": "Orthogonal", "identity": "Identity",
    "variance_scaling": "VarianceScaling",
}
# Which arguments each initializer takes (Keras' own constructor arguments, less seed).
INITIALIZER_ARGS = {
    "random_normal": {"mean", "stddev", "seed"}, "truncated_normal": {"mean", "stddev", "seed"},
    "random_uniform": {"minval", "maxval", "seed"}, "constant": {"value"}, "zeros": set(),
    "ones": set(), "orthogonal": {"gain", "seed"}, "identity": {"gain"},
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
