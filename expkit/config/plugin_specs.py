"""A plugin's component in a config: its declared name where Keras' own names go (`name` for a loss,
metric, callback, initializer or regularizer, `schedule` for a learning-rate schedule, `type` for a
layer: see layer_special.PluginLayer), and any other key passed to its class as a constructor argument
(checked by the class when the model is built: the declaration holds names, not signatures)."""
from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Annotated, Any, ClassVar, Union

from pydantic import AfterValidator, BaseModel, ConfigDict, Discriminator, Field, Tag

from expkit.config.base import NamedSpec, Spec
from expkit.config.plugins import plugin_for, plugin_names, singular
from expkit.errors import suggest


def declared_by_plugin(kind: str) -> AfterValidator:
    """The check every plugin spec makes of its name: a loaded plugin declares it as `kind`; otherwise
    the error names the closest plugin name and the ones loaded."""
    def check(value: str) -> str:
        if plugin_for(kind, value) is None:
            known = plugin_names(kind)
            raise ValueError(f"no loaded plugin declares the {singular(kind)} '{value}'{suggest(value, known)}; "
                             f"loaded: {', '.join(known) or 'none (expkit --plugin PATH)'}")
        return value
    return AfterValidator(check)


class PluginSpec(Spec):
    """A plugin's object, named by the field `name_key`; the other keys are its class's arguments."""
    model_config = ConfigDict(extra="allow", frozen=True)
    kind: ClassVar[str]
    name_key: ClassVar[str] = "name"

    @property
    def plugin_name(self) -> str:
        return getattr(self, self.name_key)

    def keras_kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class PluginNamed(NamedSpec, PluginSpec):
    """...and a bare string is shorthand for {name: ...}, as for Keras' own."""
    model_config = ConfigDict(extra="allow", frozen=True)


class PluginLoss(PluginNamed):
    kind = "losses"
    name: Annotated[str, declared_by_plugin("losses")] = Field(description="A loss a plugin declares.")


class PluginMetric(PluginNamed):
    kind = "metrics"
    name: Annotated[str, declared_by_plugin("metrics")] = Field(description="A metric a plugin declares.")


class PluginCallback(PluginNamed):
    kind = "callbacks"
    name: Annotated[str, declared_by_plugin("callbacks")] = Field(description=(
        "A callback a plugin declares; any other key is an argument of its class."))


class PluginInitializer(PluginNamed):
    kind = "initializers"
    name: Annotated[str, declared_by_plugin("initializers")] = Field(description=(
        "An initializer a plugin declares; any other key is an argument of its class."))


class PluginRegularizer(PluginNamed):
    kind = "regularizers"
    name: Annotated[str, declared_by_plugin("regularizers")] = Field(description=(
        "A regularizer a plugin declares; any other key is an argument of its class."))


class PluginSchedule(PluginSpec):
    """A learning-rate schedule a plugin declares, written as Keras' own are: {schedule: NAME, ...}."""
    kind = "schedules"
    name_key = "schedule"
    schedule: Annotated[str, declared_by_plugin("schedules")] = Field(description=(
        "A learning-rate schedule a plugin declares; any other key is an argument of its class."))


def plugin_or(kind: str, built_in_type: Any, plugin_spec: type[BaseModel],
              built_in: Collection[str] | Callable[[str], bool], key: str = "name") -> Any:
    """`built_in_type`, or `plugin_spec` when the value names (a string, or a mapping's `key`) what a
    loaded plugin declares as `kind`. A tagged union: the value is validated by one member only, so a
    built-in's schema and error messages stay as they are, and a resolved config dumps either. A
    built-in name always means the built-in."""
    is_built_in = built_in if callable(built_in) else built_in.__contains__

    def pick(value) -> str:
        if isinstance(value, BaseModel):
            return "plugin" if isinstance(value, plugin_spec) else "built_in"
        named = value if isinstance(value, str) and key == "name" else (
            value.get(key) if isinstance(value, dict) else None)
        if isinstance(named, str) and not is_built_in(named) and plugin_for(kind, named) is not None:
            return "plugin"
        return "built_in"
    return Annotated[Union[Annotated[built_in_type, Tag("built_in")], Annotated[plugin_spec, Tag("plugin")]],
                     Discriminator(pick), _AnyOf()]


class _AnyOf:
    """JSON Schema: anyOf, not pydantic's oneOf for a tagged union: a Keras name fits the plugin spec's
    free-form name too, and an editor must not reject it for fitting both."""

    def __get_pydantic_json_schema__(self, core_schema, handler):
        schema = handler(core_schema)
        if "oneOf" in schema:
            schema["anyOf"] = schema.pop("oneOf")
        return schema
