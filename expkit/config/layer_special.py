"""The layer types that are not one keras.layers class: a layer applied again (Shared), a whole
keras.applications model used as one layer (Application), expkit's own PositionEmbedding and
EuclideanDistance, and a plugin's layer."""
from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import ConfigDict, Field, PositiveFloat, PositiveInt, TypeAdapter, ValidationError, model_validator

from expkit.config.base import KeyProblem
from expkit.config.catalog import CATALOG
from expkit.config.components import Initializer, InitializerSpec, Regularizer
from expkit.config.layer_base import LayerSpec
from expkit.config.plugin_specs import declared_by_plugin
from expkit.config.plugins import plugin_names
from expkit.errors import suggest


class SharedLayer(LayerSpec):
    """A layer (or a chain of layers) defined above, applied again: the same weights at a second place."""

    type: str = Field("Shared", description="Shared (may be left out when `share` is given).")
    share: str | list[str] = Field(description=(
        "Name of the layer to apply again, or a list of names applied in order (a shared tower). "
        "Inserted batch norm and dropout of those layers come along."))

    def shared_names(self) -> list[str]:
        return [self.share] if isinstance(self.share, str) else list(self.share)


APPLICATIONS = CATALOG["applications"]


class Application(LayerSpec):
    """A keras.applications backbone (MobileNetV2, ResNet50, EfficientNetB0, ...) used as one layer."""

    model_config = ConfigDict(extra="allow", frozen=True, validate_default=True)
    model: Literal[tuple(APPLICATIONS)] = Field(description=(  # type: ignore[valid-type]
        "The keras.applications model: " + ", ".join(APPLICATIONS) + ". Other keys are its arguments "
        "(alpha, classes, classifier_activation, ...)."))
    weights: str | None = Field(None, description=(
        "null: random weights (offline); a path to a local weights file (.h5 or .weights.h5); imagenet only "
        "when Keras already has the file in ~/.keras/models (expkit never downloads it)."))
    include_top: bool = Field(False, description="Keep the ImageNet classifier on top (usually false: add your head).")
    pooling: Literal["avg", "max"] | None = Field(None, description=(
        "Pool the last feature map to a vector (avg or max); null keeps the feature map."))
    unfreeze_top: int | None = Field(None, ge=0, description=(
        "Fine-tuning: freeze the backbone except its last N layers (0 freezes it all). The backbone then runs "
        "in inference mode, so its BatchNormalization statistics stay as loaded."))

    @model_validator(mode="after")
    def _arguments(self):
        allowed = set(APPLICATIONS[self.model]["args"]) - {"weights", "include_top", "pooling", "input_tensor"}
        for key in self.model_extra or {}:
            if key not in allowed:
                raise KeyProblem(key, f"unknown key '{key}' for {self.model}{suggest(key, sorted(allowed))}; "
                                 f"it takes {', '.join(sorted(allowed)) or 'no other arguments'}")
        return self

    def keras_kwargs(self) -> dict[str, Any]:
        return {"include_top": self.include_top, "pooling": self.pooling, **(self.model_extra or {})}


class PositionEmbedding(LayerSpec):
    """expkit's own layer (keras_hub's PositionEmbedding, which Keras core lacks): a learned vector for each
    position 0..sequence_length-1, returned for a (batch, sequence, features) input in its shape; add it to
    the token embeddings with an Add layer."""

    sequence_length: PositiveInt = Field(description=(
        "Number of positions learned: at least the input's sequence length (a shorter input takes the first)."))
    initializer: Initializer = Field(InitializerSpec(name="glorot_uniform"), description=(  # type: ignore[valid-type]
        "Initializer of the position vectors (keras_hub's default: glorot_uniform)."))

    def keras_kwargs(self) -> dict[str, Any]:
        return {**super().keras_kwargs(), "initializer": self.initializer}


class EuclideanDistance(LayerSpec):
    """expkit's own merge (keras.io's siamese network writes it in a Lambda, and Keras core has no square root
    layer): the Euclidean distance between two nodes, sqrt(max(sum((a - b)^2 over the last axis), epsilon)),
    one value per sample. Written with `inputs: [a, b]`."""

    epsilon: PositiveFloat = Field(1e-7, description=(
        "Floor under the squared distance before its square root (keras.io: keras.backend.epsilon(), 1e-7), "
        "so that two equal embeddings give a finite gradient."))

    def keras_kwargs(self) -> dict[str, Any]:
        return {**super().keras_kwargs(), "epsilon": self.epsilon}


class PluginLayer(LayerSpec):
    """A layer a plugin declares, by its name as `type`; any other key is an argument of its class. An
    argument named `*_initializer` or `*_regularizer` is read as for Keras' layers (Keras' or a plugin's)."""

    model_config = ConfigDict(extra="allow", frozen=True)
    type: Annotated[str, declared_by_plugin("layers")] = Field(description=(
        "A layer a plugin declares (expkit --plugin, or an installed plugin)."))

    @model_validator(mode="after")
    def _components(self):
        extra = self.__pydantic_extra__ or {}
        for key, value in extra.items():
            kind = Initializer if key.endswith("_initializer") else Regularizer if key.endswith("_regularizer") else None
            if kind is None or value is None:
                continue
            try:
                extra[key] = TypeAdapter(kind).validate_python(value)
            except ValidationError as exc:
                raise KeyProblem(key, _component_problem(key, exc)) from None
        return self

    def keras_kwargs(self) -> dict[str, Any]:
        return {**super().keras_kwargs(), **(self.model_extra or {})}


def _component_problem(key: str, exc: ValidationError) -> str:
    """One line for a plugin layer's bad initializer or regularizer, with the closest name (Keras' or a
    loaded plugin's) for an unknown one."""
    err = exc.errors(include_url=False)[0]
    if err["type"] != "literal_error":
        return f"{key}: {err['msg'].removeprefix('Value error, ')}"
    kind = "initializers" if key.endswith("_initializer") else "regularizers"
    known = [o.strip(" '") for o in err["ctx"]["expected"].replace(" or ", ", ").split(",")] + plugin_names(kind)
    return f"{key}: unknown {kind[:-1]} {err['input']!r}{suggest(err['input'], known)}; expected one of {', '.join(known)}"
