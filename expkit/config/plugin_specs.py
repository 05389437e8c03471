"""A plugin's layer or loss in a config: its declared name as `type` (layers) or `name` (losses), and
any other key passed to its class as a constructor argument (checked by the class when the model is
built: the declaration holds names, not signatures)."""
from __future__ import annotations

from typing import Any

from pydantic import ConfigDict, Field, field_validator

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
