"""A plugin's layer or loss in a config: its declared name as `type` (layers) or `name` (losses), and
any other key passed to its class as a constructor argument (checked by the class when the model is
built: the declaration holds names, not signatures)."""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, WrapValidator, field_validator

from expkit.config.base import NamedSpec
from expkit.config.layer_base import LayerSpec
from expkit.config.plugins import plugin_for


class PluginLayer(LayerSpec):
    model_config = ConfigDict(extra="allow", frozen=True)
    type: str = Field(description="A layer a plugin declares (expkit --plugin, or an installed plugin).")

    @field_validator("type")
    @classmethod
    def _declared(cls, value: str) -> str:
        if plugin_for("layers", value) is None:
            raise ValueError(f"no loaded plugin declares the layer '{value}'")
        return value

    def keras_kwargs(self) -> dict[str, Any]:
        return {**super().keras_kwargs(), **(self.model_extra or {})}


class PluginLoss(NamedSpec):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(description="A loss a plugin declares.")

    @field_validator("name")
    @classmethod
    def _declared(cls, value: str) -> str:
        if plugin_for("losses", value) is None:
            raise ValueError(f"no loaded plugin declares the loss '{value}'")
        return value

    def keras_kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PluginMetric(NamedSpec):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(description="A metric a plugin declares.")

    def keras_kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PluginCallback(NamedSpec):
    model_config = ConfigDict(extra="allow", frozen=True)
    name: str = Field(description="A callback a plugin declares; any other key is an argument of its class.")

    @field_validator("name")
    @classmethod
    def _declared(cls, value: str) -> str:
        if plugin_for("callbacks", value) is None:
            from expkit.config.plugins import plugin_names
            from expkit.errors import suggest
            known = plugin_names("callbacks")
            raise ValueError(f"no loaded plugin declares the callback '{value}'{suggest(value, known)}; "
                             f"loaded: {', '.join(known) or 'none (expkit --plugin PATH)'}")
        return value

    def keras_kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


def plugin_first(kind: str, spec: type, built_in) -> WrapValidator:
    """A field validator that takes a plugin's name (a string, or a mapping with `name`) as `spec`
    before the field's own validation, which then sees only other values: its schema and its error
    messages stay as they are. A built-in name always means the built-in."""
    def validate(value, handler):
        named = value if isinstance(value, str) else value.get("name") if isinstance(value, dict) else None
        if isinstance(named, str) and named not in built_in and plugin_for(kind, named) is not None:
            return spec.model_validate(value)
        return handler(value)
    return WrapValidator(validate)
