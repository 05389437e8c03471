"""One spec per Keras layer; the stack is a discriminated union on `type`.

Every class in keras.layers is here, with all its constructor arguments, derived from the catalogue
(keras_layers.json, generated from Keras' signatures and docstrings). The hand-written specs below
add checks Keras leaves to run time (Dense units > 0, Dropout rate in [0, 1), ...); the catalogue
adds their remaining arguments. Field names are Keras' own, so `keras_kwargs()` passes them through
unchanged and Keras' own checks stay the second line of defence.
"""
from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Literal, Union

from pydantic_core import core_schema
from pydantic import Discriminator, Field, PositiveInt, Tag, field_validator

from expkit.config.base import KeyProblem
from expkit.config.catalog import LAYERS, has_kernel, is_merge, is_recurrent
from expkit.config.components import Activation
from expkit.errors import suggest
from expkit.config.layer_base import EXPKIT_FIELDS, KernelSpec, LayerSpec, WeightedSpec, snake_case
from expkit.config.layer_fields import derive_spec
from expkit.config.layer_special import Application, EuclideanDistance, PluginLayer, PositionEmbedding, SharedLayer
from expkit.config.plugins import plugin_for

__all__ = ["EXPKIT_FIELDS", "KernelSpec", "LayerSpec", "WeightedSpec", "snake_case", "AnyLayer", "LAYER_CLASSES",
           "LAYER_TYPES", "canonical_type"]
IntOrPair = PositiveInt | tuple[PositiveInt, PositiveInt]


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


class Bidirectional(LayerSpec):
    layer: "AnyLayer" = Field(description=(
        "The recurrent layer to run in both directions: LSTM, GRU, SimpleRNN or ConvLSTM1D/2D/3D, "
        "spelled any way (lstm, LSTM, {type: keras, class_name: LSTM})."))
    backward_layer: "AnyLayer | None" = Field(None, description="Optional separate layer for the backward direction.")
    merge_mode: Literal["concat", "sum", "mul", "ave"] | None = Field("concat", description=(
        "How the two directions are combined."))

    @field_validator("layer", "backward_layer")
    @classmethod
    def _recurrent(cls, value):
        kind = getattr(value, "class_name", None) or getattr(value, "type", None)
        if value is not None and not is_recurrent(kind):
            names = ", ".join(n for n, e in LAYERS.items() if e["recurrent"])
            raise KeyProblem("type", f"Bidirectional wraps a recurrent layer ({names}), got '{kind}'")
        return value


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
    """Escape hatch: a Keras layer by class name with its config as Keras serializes it.

    Allowed are the layers of the catalogue (keras_layers.json), which leaves out every layer that
    runs code or loads a file (Lambda, TFSMLayer, JaxLayer, TorchModuleWrapper, ...): an allow-list,
    so a layer a new Keras adds stays out until the catalogue is regenerated and reviewed."""

    class_name: str = Field(pattern=r"^[A-Z][A-Za-z0-9]*$", description=(
        "A class in keras.layers, e.g. Cropping2D (no import paths: YAML cannot load code)."))
    config: dict[str, Any] = Field(default_factory=dict, description="Its constructor arguments.")

    @field_validator("class_name")
    @classmethod
    def _allowed(cls, value: str) -> str:
        if value not in LAYERS:
            raise ValueError(f"'{value}' is not a layer a config can name{suggest(value, list(LAYERS))}: only "
                             "keras.layers classes built from plain arguments are allowed (expkit/config/"
                             "keras_layers.json lists them); layers that run code or load files, such as Lambda "
                             "and TFSMLayer, cannot come from YAML")
        return value

    @field_validator("config")
    @classmethod
    def _no_code(cls, value: dict) -> dict:
        for key, item in _nested_items(value):
            if key in ("module", "registered_name", "function", "function_type"):
                raise ValueError(f"config may not hold '{key}' (it would import or run code), got {item!r}")
            if key == "class_name" and item not in LAYERS and not str(item)[:1].isupper() and not _plugin_component(item):
                raise ValueError(f"config names the class {item!r}, which is not a Keras class name")
        return value


def _plugin_component(name) -> bool:
    """A plugin's initializer or regularizer, by its declared name (model/layer_factory.py builds it)."""
    from expkit.config.plugins import plugin_for
    return any(plugin_for(kind, name) is not None for kind in ("initializers", "regularizers"))


def _nested_items(value):
    """Every (key, value) of the mappings inside `value`, at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            stack += item.values()
            yield from item.items()
        elif isinstance(item, list):
            stack += item


class _Wrapper(LayerSpec):
    layer: "AnyLayer" = Field(description="The layer this one wraps.")


HAND_WRITTEN: dict[str, type[LayerSpec]] = {
    cls.__name__: cls for cls in (
        Dense, Conv1D, Conv2D, MaxPooling1D, MaxPooling2D, AveragePooling1D, AveragePooling2D,
        GlobalAveragePooling1D, GlobalAveragePooling2D, GlobalMaxPooling1D, GlobalMaxPooling2D,
        Flatten, Reshape, Dropout, SpatialDropout1D, SpatialDropout2D, GaussianNoise,
        BatchNormalization, LayerNormalization, Embedding, SimpleRNN, LSTM, GRU, Bidirectional,
        TimeDistributed, Concatenate, Add, Subtract, Multiply, Average, Maximum, Dot)}
HAND_WRITTEN["Activation"] = ActivationLayer


def _spec_for(name: str, entry: dict) -> type[LayerSpec]:
    if name in HAND_WRITTEN:
        cls = derive_spec(name, HAND_WRITTEN[name], __name__, EXPKIT_FIELDS)
    else:
        base = _Wrapper if entry["wrapper"] else KernelSpec if has_kernel(name) else LayerSpec
        cls = derive_spec(name, base, __name__, EXPKIT_FIELDS)
    cls.model_rebuild(_types_namespace={"AnyLayer": AnyLayer})
    return cls


class LayerClasses(Mapping):
    """Layer type -> spec class. The ~130 catalogue classes are derived on first use: building them
    all costs a few tenths of a second that `expkit validate` would pay for the two or three a config uses."""

    def __init__(self, names, ready: dict[str, type[LayerSpec]]):
        self._names, self._built = [*names, *ready], dict(ready)

    def __getitem__(self, name: str) -> type[LayerSpec]:
        if name not in self._built:
            if name not in LAYERS:
                raise KeyError(name)
            self._built[name] = _spec_for(name, LAYERS[name])
        return self._built[name]

    def __iter__(self):
        return iter(self._names)

    def __len__(self) -> int:
        return len(self._names)


NATIVE = {"Shared": SharedLayer, "Application": Application, "Keras": KerasLayer,
          "PositionEmbedding": PositionEmbedding,
          "EuclideanDistance": EuclideanDistance}  # expkit's own types, not keras.layers classes
LAYER_CLASSES = LayerClasses(LAYERS, NATIVE)
# Every accepted spelling (class name, Keras' aliases, snake_case, lower case) -> canonical class name.
LAYER_TYPES: dict[str, str] = {}
for _canonical in LAYER_CLASSES:
    for _spelling in [_canonical, *LAYERS.get(_canonical, {}).get("aliases", [])]:
        LAYER_TYPES.setdefault(_spelling, _canonical)
        LAYER_TYPES.setdefault(snake_case(_spelling), _canonical)
        LAYER_TYPES.setdefault(_spelling.lower(), _canonical)
WEIGHTED_TYPES = {n for n in LAYER_CLASSES if has_kernel(n)}
RECURRENT_TYPES = {n for n in LAYER_CLASSES if is_recurrent(n)} | {"Bidirectional"}
MERGE_TYPES = {n for n in LAYER_CLASSES if is_merge(n)}
POOLING_TYPES = {n for n in LAYER_CLASSES if "Pooling" in n and not n.startswith("Global")}


def canonical_type(raw: str) -> str | None:
    return LAYER_TYPES.get(raw, LAYER_TYPES.get(raw.lower())) if isinstance(raw, str) else None


def _layer_tag(value: Any) -> str | None:
    if isinstance(value, dict) and "share" in value and "type" not in value:
        return "Shared"
    raw = value.get("type") if isinstance(value, dict) else getattr(value, "type", None)
    tag = canonical_type(raw)
    if tag is None and plugin_for("layers", raw) is not None:
        return "Plugin"  # a layer a loaded plugin declares (config/plugins.py)
    return tag


class _Lazy:
    """A union member validated by LAYER_CLASSES[name], which is derived when first needed. Errors keep
    their location (pydantic merges a nested ValidationError's lines), and `expkit schema` still gets
    every class's full JSON schema."""

    def __init__(self, name: str):
        self.name = name

    def resolved_type(self) -> type[LayerSpec]:
        """The spec class, for code that walks the schema's annotations (config/types.py)."""
        return LAYER_CLASSES[self.name]

    def __get_pydantic_core_schema__(self, source, handler):
        name = self.name

        def validate(value):
            cls = LAYER_CLASSES[name]
            return value if isinstance(value, cls) else cls.model_validate(value)

        def serialize(value, info):
            return value.model_dump(mode=info.mode)
        return core_schema.no_info_plain_validator_function(
            validate, serialization=core_schema.plain_serializer_function_ser_schema(serialize, info_arg=True))

    def __get_pydantic_json_schema__(self, schema, handler):
        if _SCHEMA_DEPTH[0] > 1:  # a wrapper in a wrapper: described loosely, or it never ends
            return {"type": "object", "description": "A layer (any type)."}
        _SCHEMA_DEPTH[0] += 1
        try:
            core = LAYER_CLASSES[self.name].__pydantic_core_schema__
            generator = getattr(handler, "generate_json_schema", None)  # through it, the class goes to $defs
            return generator.generate_inner(core) if generator else handler(core)
        finally:
            _SCHEMA_DEPTH[0] -= 1


_SCHEMA_DEPTH = [0]  # how deep `expkit schema` is in layers inside layers


def _member(name: str):
    if name in NATIVE:
        return Annotated[LAYER_CLASSES[name], Tag(name)]
    return Annotated[Any, _Lazy(name), Tag(name)]


AnyLayer = Annotated[
    Union[tuple(_member(name) for name in LAYER_CLASSES)  # type: ignore[misc]
          + (Annotated[PluginLayer, Tag("Plugin")],)],
    Discriminator(_layer_tag, custom_error_type="unknown_layer_type",
                  custom_error_message="unknown layer type")]
