"""One small spec per Keras layer; the stack is a discriminated union on `type`.

Field names are Keras' own constructor arguments, so `keras_kwargs()` passes them through
unchanged and Keras' own checks stay the second line of defence.
"""
from __future__ import annotations

import re
from typing import Annotated, Any, Literal, Union

from pydantic import Discriminator, Field, PositiveInt, Tag, field_validator

from expkit.config.base import Spec
from expkit.config.components import Activation, InitializerSpec, LayerRegularizationSpec

IntOrPair = PositiveInt | tuple[PositiveInt, PositiveInt]
EXPKIT_FIELDS = {"type", "name", "inputs", "initializer", "regularization", "layer"}


def snake_case(name: str) -> str:
    """Keras' own rule: Conv2D -> conv2d, MaxPooling2D -> max_pooling2d, SimpleRNN -> simple_rnn."""
    name = re.sub(r"(.)([A-Z][a-z0-9]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


class LayerSpec(Spec):
    type: str = Field(description="Keras layer class name (e.g. Dense) or its snake_case form (dense).")
    name: str | None = Field(None, pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description=(
        "Node name, to refer to this layer in another layer's `inputs` or in `model.outputs`. "
        "Default: its position and type (layer_3_dense)."))
    inputs: list[str] | None = Field(None, description=(
        "Names of the nodes (model inputs or named layers) this layer reads; default: the layer "
        "before it. Two or more only for merge layers (Concatenate, Add, Multiply, Dot, ...)."))

    @field_validator("type")
    @classmethod
    def _canonical(cls, value: str) -> str:
        return LAYER_TYPES.get(value, LAYER_TYPES.get(value.lower(), value))

    @field_validator("inputs", mode="before")
    @classmethod
    def _one_input(cls, value):
        return [value] if isinstance(value, str) else value

    def keras_kwargs(self) -> dict[str, Any]:
        kwargs = self.model_dump(exclude=EXPKIT_FIELDS)
        fields = type(self).model_fields  # keep a None that replaces a default (merge_mode: null)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in kwargs.items()
                if not (v is None and fields[k].default is None)}


class WeightedSpec(LayerSpec):
    """A layer with a kernel: takes the model's initializer and regularization unless overridden."""

    initializer: InitializerSpec | None = Field(None, description=(
        "Kernel initializer of this layer; default: model.initializer."))
    regularization: LayerRegularizationSpec | None = Field(None, description=(
        "Override of model.regularization for this layer (l1, l2, dropout, batch_norm)."))
    use_bias: bool = Field(True, description="Add a bias vector.")


class Dense(WeightedSpec):
    units: PositiveInt = Field(description="Number of output units.")
    activation: Activation | None = Field(None, description="Activation; default none (linear).")


class _Conv(WeightedSpec):
    filters: PositiveInt = Field(description="Number of filters (output channels).")
    kernel_size: IntOrPair = Field(description="Size of the convolution window.")
    strides: IntOrPair = Field(1, description="Stride of the convolution.")
    padding: Literal["valid", "same"] = Field("valid", description="valid: no padding; same: keep size.")
    dilation_rate: IntOrPair = Field(1, description="Dilation rate.")
    activation: Activation | None = Field(None, description="Activation; default none (linear).")


class Conv1D(_Conv):
    padding: Literal["valid", "same", "causal"] = Field("valid", description="valid, same or causal.")


class Conv2D(_Conv):
    pass


class _Pool(LayerSpec):
    pool_size: IntOrPair = Field(2, description="Size of the pooling window.")
    strides: IntOrPair | None = Field(None, description="Stride; default: pool_size.")
    padding: Literal["valid", "same"] = Field("valid", description="valid or same.")


class MaxPooling1D(_Pool):
    pass


class MaxPooling2D(_Pool):
    pass


class AveragePooling1D(_Pool):
    pass


class AveragePooling2D(_Pool):
    pass


class _NoArgs(LayerSpec):
    pass


class GlobalAveragePooling1D(_NoArgs):
    pass


class GlobalAveragePooling2D(_NoArgs):
    pass


class GlobalMaxPooling1D(_NoArgs):
    pass


class GlobalMaxPooling2D(_NoArgs):
    pass


class Flatten(_NoArgs):
    pass


class Reshape(LayerSpec):
    target_shape: list[Annotated[int, Field(ge=-1)]] = Field(description=(
        "Output shape per sample, without the batch axis; one entry may be -1."))


class Dropout(LayerSpec):
    rate: float = Field(ge=0, lt=1, description="Fraction of inputs set to zero during training, in [0, 1).")


class SpatialDropout1D(Dropout):
    pass


class SpatialDropout2D(Dropout):
    pass


class GaussianNoise(LayerSpec):
    stddev: float = Field(ge=0, description="Standard deviation of the additive noise (training only).")


class BatchNormalization(LayerSpec):
    momentum: float = Field(0.99, gt=0, lt=1, description="Momentum of the moving averages.")
    epsilon: float = Field(0.001, gt=0, description="Added to the variance to avoid dividing by zero.")
    center: bool = Field(True, description="Learn an offset (beta).")
    scale: bool = Field(True, description="Learn a scale (gamma).")


class LayerNormalization(LayerSpec):
    epsilon: float = Field(0.001, gt=0, description="Added to the variance to avoid dividing by zero.")
    center: bool = Field(True, description="Learn an offset (beta).")
    scale: bool = Field(True, description="Learn a scale (gamma).")


class ActivationLayer(LayerSpec):
    activation: Activation = Field(description="The activation function.")


class Embedding(WeightedSpec):
    input_dim: PositiveInt = Field(description="Vocabulary size (largest token index + 1).")
    output_dim: PositiveInt = Field(description="Embedding vector size.")
    mask_zero: bool = Field(False, description="Treat token 0 as padding and mask it.")
    use_bias: bool = Field(False, exclude=True, description="Not used by Embedding.")


class _Recurrent(WeightedSpec):
    units: PositiveInt = Field(description="Size of the hidden state.")
    activation: Activation = Field("tanh", description="Activation of the state update.")
    return_sequences: bool = Field(False, description="Return the whole sequence, not only the last step.")
    dropout: float = Field(0.0, ge=0, lt=1, description="Keras' input dropout inside the cell.")
    recurrent_dropout: float = Field(0.0, ge=0, lt=1, description="Keras' dropout on the recurrent state.")
    go_backwards: bool = Field(False, description="Read the sequence backwards.")


class SimpleRNN(_Recurrent):
    pass


class LSTM(_Recurrent):
    recurrent_activation: Activation = Field("sigmoid", description="Activation of the gates.")


class GRU(_Recurrent):
    recurrent_activation: Activation = Field("sigmoid", description="Activation of the gates.")


RecurrentLayer = Annotated[
    Union[Annotated[SimpleRNN, Tag("SimpleRNN")], Annotated[LSTM, Tag("LSTM")], Annotated[GRU, Tag("GRU")]],
    Discriminator(lambda v: _layer_tag(v), custom_error_type="unknown_layer_type",
                  custom_error_message="Bidirectional wraps a SimpleRNN, LSTM or GRU layer")]


class Bidirectional(LayerSpec):
    layer: RecurrentLayer = Field(description="The recurrent layer to run in both directions.")
    merge_mode: Literal["concat", "sum", "mul", "ave"] | None = Field("concat", description=(
        "How the two directions are combined."))


class TimeDistributed(LayerSpec):
    layer: "AnyLayer" = Field(description="The layer applied to every time step.")


class _Merge(LayerSpec):
    pass


class Concatenate(_Merge):
    axis: int = Field(-1, description="Axis along which to concatenate.")


class Add(_Merge):
    pass


class Subtract(_Merge):
    pass


class Multiply(_Merge):
    pass


class Average(_Merge):
    pass


class Maximum(_Merge):
    pass


class Dot(_Merge):
    axes: int | tuple[int, int] = Field(-1, description="Axis (or pair of axes) of the dot product.")
    normalize: bool = Field(False, description="L2-normalize first: the dot product becomes cosine similarity.")


class KerasLayer(LayerSpec):
    """Escape hatch: any other built-in Keras layer by class name, checked when the model is built."""

    class_name: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$", description=(
        "A class in keras.layers, e.g. Cropping2D (no import paths: YAML cannot load code)."))
    config: dict[str, Any] = Field(default_factory=dict, description="Its constructor arguments.")


LAYER_CLASSES: dict[str, type[LayerSpec]] = {
    cls.__name__: cls for cls in (
        Dense, Conv1D, Conv2D, MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
        GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
        Flatten, Reshape, Dropout, SpatialDropout1D, SpatialDropout2D, GaussianNoise,
        BatchNormalization, LayerNormalization, Embedding, SimpleRNN, LSTM, GRU, Bidirectional,
        TimeDistributed, Concatenate, Add, Subtract, Multiply, Average, Maximum, Dot)}
LAYER_CLASSES["Activation"] = ActivationLayer
LAYER_CLASSES["Keras"] = KerasLayer
# Every accepted spelling -> canonical class name.
LAYER_TYPES: dict[str, str] = {}
for _canonical in LAYER_CLASSES:
    LAYER_TYPES[_canonical] = _canonical
    LAYER_TYPES[snake_case(_canonical)] = _canonical
    LAYER_TYPES[_canonical.lower()] = _canonical
WEIGHTED_TYPES = {n for n, c in LAYER_CLASSES.items() if issubclass(c, WeightedSpec)}
RECURRENT_TYPES = {"SimpleRNN", "LSTM", "GRU", "Bidirectional"}
MERGE_TYPES = {n for n, c in LAYER_CLASSES.items() if issubclass(c, _Merge)}
POOLING_TYPES = {n for n in LAYER_CLASSES if "Pooling" in n and not n.startswith("Global")}


def _layer_tag(value: Any) -> str | None:
    raw = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    if not isinstance(raw, str):
        return None
    return LAYER_TYPES.get(raw, LAYER_TYPES.get(raw.lower()))


AnyLayer = Annotated[
    Union[tuple(Annotated[cls, Tag(name)] for name, cls in LAYER_CLASSES.items())],  # type: ignore[misc]
    Discriminator(_layer_tag, custom_error_type="unknown_layer_type",
                  custom_error_message="unknown layer type")]
TimeDistributed.model_rebuild()
