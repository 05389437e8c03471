"""What every layer spec shares: its type, node name, wiring (`inputs`, `call`) and Keras arguments."""
from __future__ import annotations

import re
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from expkit.config.base import KeyProblem, Spec
from expkit.config.catalog import KERNEL_INITIALIZERS, KERNEL_REGULARIZERS
from expkit.config.components import DType, Initializer, LayerRegularizationSpec

# Keys expkit reads itself; every other field is a Keras constructor argument.
EXPKIT_FIELDS = {"type", "name", "inputs", "call", "initializer", "regularization", "layer", "backward_layer",
                 "share"}
NODE_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"


def snake_case(name: str) -> str:
    """Keras' own rule: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, SimpleRNN -> simple_rnn."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class LayerSpec(Spec):
    # ~130 layer classes: each builds its validator only when first used (validating model.layers
    # builds them all once, inside the union), which halves `expkit validate`'s start-up.
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True, defer_build=True)

    type: str = Field(description="Keras layer class name (e.g. Dense) or its snake_case form (dense).")
    name: str | None = Field(None, pattern=NODE_NAME, description=(
        "Node name, to refer to this layer in another layer's `inputs`, in `share` or in `model.outputs`. "
        "Default: its position and type (layer_3_dense)."))
    inputs: list[str] | dict[str, str] | None = Field(None, description=(
        "The nodes (model inputs or named layers) this layer reads; default: the layer before it. Several "
        "for merge layers (Concatenate, Add, ...) and attention: a list in Keras' call order ([query, value]) "
        "or a mapping by Keras' call argument names ({query: a, value: b, key: c})."))
    call: dict[str, Any] | None = Field(None, description=(
        "Keras call arguments that are not tensors, e.g. {use_causal_mask: true} for MultiHeadAttention."))
    dtype: DType | None = Field(None, description=(
        "Keras dtype policy of this layer, e.g. float32 for the softmax of a mixed-precision model; "
        "default: the model's (training.mixed_precision)."))
    trainable: bool | None = Field(None, description="false freezes this layer's weights; default: trainable.")

    @field_validator("type")
    @classmethod
    def _canonical(cls, value: str) -> str:
        from expkit.config.layers import canonical_type
        return canonical_type(value) or value

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, value):
        return [value] if isinstance(value, str) else value

    def input_names(self) -> list[str]:
        """The node names this layer reads, in order (a mapping's values)."""
        if isinstance(self.inputs, dict):
            return list(self.inputs.values())
        return list(self.inputs or [])

    def keras_kwargs(self) -> dict[str, Any]:
        """Constructor arguments: every set field but expkit's own. A None that is only the default is
        left out (Keras' own default applies); a None written in the file is passed (merge_mode: null)."""
        out = {}
        for key, field in type(self).model_fields.items():
            if key in EXPKIT_FIELDS or field.exclude:
                continue
            value = getattr(self, key)
            if value is None and field.default is None and key not in self.model_fields_set:
                continue
            out[key] = list(value) if isinstance(value, tuple) else value
        return out


class KernelSpec(LayerSpec):
    """A layer with a kernel: takes the model's initializer and L1/L2 unless it sets its own."""

    initializer: Initializer | None = Field(None, description=(  # type: ignore[valid-type]
        "Kernel initializer of this layer (expkit's short form of kernel_initializer); default: model.initializer."))
    regularization: LayerRegularizationSpec | None = Field(None, description=(
        "Override of model.regularization for this layer (l1, l2, dropout, batch_norm)."))

    @model_validator(mode="after")
    def _one_spelling(self):
        given = [k for k in KERNEL_INITIALIZERS if getattr(self, k, None) is not None]
        if self.initializer is not None and given:
            raise KeyProblem(given[0], f"set either initializer or {given[0]} (the same thing), not both")
        reg = self.regularization
        given = [k for k in KERNEL_REGULARIZERS if getattr(self, k, None) is not None]
        if reg is not None and (reg.l1 is not None or reg.l2 is not None) and given:
            raise KeyProblem(given[0], f"set either regularization.l1/l2 or {given[0]} (the same thing), not both")
        return self


class WeightedSpec(KernelSpec):
    use_bias: bool = Field(True, description="Add a bias vector.")
