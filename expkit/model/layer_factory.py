"""make_layer: one layer spec -> one Keras layer object, with the model-wide defaults applied.

Every layer with a kernel (Dense, Conv*, recurrent, attention, Embedding, ... whichever way it is
spelled) takes model.initializer for its kernel and model.regularization's l1/l2 for its kernel
regularizer, unless the layer sets its own. Initializers, regularizers and constraints written as
names or mappings become Keras objects here.
"""
from __future__ import annotations

from expkit.config.catalog import KERNEL_INITIALIZERS, KERNEL_REGULARIZERS, layer_args
from expkit.config.components import ConstraintSpec, InitializerSpec, RegularizerSpec
from expkit.config.layers import KernelSpec, LayerSpec
from expkit.config.plugin_specs import PluginSpec
from expkit.model.plugin_models import make_plugin_object


def keras_object(keras, value):
    """A config component -> the Keras object; anything else as it is."""
    if isinstance(value, PluginSpec):  # a plugin's initializer or regularizer
        return make_plugin_object(value)
    if isinstance(value, InitializerSpec):
        return getattr(keras.initializers, value.keras_class())(**value.keras_kwargs())
    if isinstance(value, RegularizerSpec):
        return keras.regularizers.L1L2(l1=value.l1, l2=value.l2)
    if isinstance(value, ConstraintSpec):
        return getattr(keras.constraints, value.keras_class())(**value.keras_kwargs())
    return value


def _escape_hatch(keras, spec, name: str, defaults: dict):
    """Keras' own deserializer (in its default safe mode: no lambdas), after every layer the config names, at any
    depth (a Bidirectional's inner layer), is checked against the catalogue: the config layer already
    refused the top one, this refuses one hidden in its arguments."""
    from expkit.config.catalog import LAYERS
    from expkit.config.layers import _nested_items
    for key, value in [("class_name", spec.class_name), *_nested_items(spec.config)]:
        is_layer = key == "class_name" and isinstance(getattr(keras.layers, str(value), None), type)
        if is_layer and value not in LAYERS:
            raise ValueError(f"the layer '{value}' cannot come from a config: it runs code or loads a file")
    # The model-wide initializer and l1/l2 reach this layer too, unless its config sets them.
    serialized = {k: keras.saving.serialize_keras_object(keras_object(keras, v)) for k, v in defaults.items()
                  if k not in spec.config}
    return keras.layers.deserialize({"module": "keras.layers", "class_name": spec.class_name,
                                     "config": {**serialized, **_with_plugin_components(keras, spec.config),
                                                "name": name}})


_PLUGIN_KINDS = {"_initializer": "initializers", "_regularizer": "regularizers"}


def _with_plugin_components(keras, config):
    """`config` with every *_initializer / *_regularizer (at any depth) that names a plugin's object, as its
    declared name, {name: ..., args} (the native form) or {class_name: ..., config: {args}} (Keras' form),
    replaced by that object serialized with its registered name, which Keras' deserializer finds once the
    plugin is loaded. Keras' own names and forms stay as they are; a layer nested in the config gets the
    module Keras' deserializer looks its class up in (a config may not write one: module/registered_name
    are refused as code loading)."""
    from expkit.config.plugins import plugin_for, plugin_object
    if isinstance(config, list):
        return [_with_plugin_components(keras, item) for item in config]
    if not isinstance(config, dict):
        return config
    from expkit.config.catalog import LAYERS
    # A layer inside the config (a Bidirectional's): Keras' deserializer needs its module to find the class.
    out = {"module": "keras.layers"} if config.get("class_name") in LAYERS and "config" in config else {}
    for key, value in config.items():
        kind = next((k for suffix, k in _PLUGIN_KINDS.items() if str(key).endswith(suffix)), None)
        name, args = value, {}
        if isinstance(value, dict):
            name = value.get("class_name", value.get("name"))
            args = value.get("config", {}) if "class_name" in value else {k: v for k, v in value.items() if k != "name"}
        if kind and plugin_for(kind, name) is not None and isinstance(args, dict):
            out[key] = keras.saving.serialize_keras_object(plugin_object(kind, name)(**args))
        else:
            out[key] = _with_plugin_components(keras, value)
    return out


def model_defaults(spec: LayerSpec, cfg, reg) -> dict:
    """The kernel initializer and regularizer a layer takes from the model unless it sets its own."""
    hatch = spec.type == "Keras"  # type: keras names its class in class_name
    args = layer_args(spec.class_name if hatch else spec.type)
    out = {}
    if isinstance(spec, KernelSpec) or hatch:
        init = getattr(spec, "initializer", None) or cfg.model.initializer
        for key in KERNEL_INITIALIZERS:
            if key in args and getattr(spec, key, None) is None:
                out[key] = init
        if reg.l1 or reg.l2:
            for key in KERNEL_REGULARIZERS:
                if key in args and getattr(spec, key, None) is None:
                    out[key] = RegularizerSpec(l1=reg.l1, l2=reg.l2)
    return out


def make_layer(keras, spec: LayerSpec, name: str, cfg, reg, *, no_activation=False, input_shape=None):
    """One Keras layer from its spec, with the model's initializer and L1/L2 unless it overrides them.
    `input_shape` (one sample's) is needed by the layers that are whole models (Application)."""
    if spec.type == "Keras":
        return _escape_hatch(keras, spec, name, model_defaults(spec, cfg, reg))
    if type(spec).__name__ == "PluginLayer":  # a plugin's class, built with the config's arguments
        from expkit.config.plugins import plugin_object
        kwargs = {k: keras_object(keras, v) for k, v in spec.keras_kwargs().items()}
        return plugin_object("layers", spec.type)(name=name, **kwargs)
    if spec.type == "Application":
        return make_application(keras, spec, name, input_shape)
    if spec.type in ("PositionEmbedding", "EuclideanDistance"):  # expkit's own (model/native.py)
        from expkit.model import native
        return getattr(native, spec.type)(name=name, **{k: keras_object(keras, v) for k, v in spec.keras_kwargs().items()})
    kwargs = {**spec.keras_kwargs(), **model_defaults(spec, cfg, reg)}
    kwargs = {k: keras_object(keras, v) for k, v in kwargs.items()}
    if no_activation:
        kwargs["activation"] = None
    cls = getattr(keras.layers, spec.type)
    wrapped = getattr(spec, "layer", None)
    if isinstance(wrapped, LayerSpec):  # Bidirectional, TimeDistributed, SpectralNormalization
        inner = make_layer(keras, wrapped, f"{name}_inner", cfg, reg)
        backward = getattr(spec, "backward_layer", None)
        if backward is not None:
            kwargs["backward_layer"] = make_layer(keras, backward, f"{name}_backward", cfg, reg)
        return cls(inner, name=name, **kwargs)
    return cls(name=name, **kwargs)


def _cached_imagenet(keras, model: str) -> bool:
    """Has Keras already downloaded some ImageNet weights for `model` (its cache, ~/.keras/models)?"""
    import os
    from pathlib import Path
    home = Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "models"
    stem = model.lower().replace("v2", "_v2").replace("v3", "_v3")
    return home.is_dir() and any(stem in f.name.lower() or model.lower() in f.name.lower() for f in home.iterdir())


def make_application(keras, spec, name: str, input_shape):
    """A keras.applications backbone as one layer: offline weights, then the freezing asked for."""
    from pathlib import Path
    weights = spec.weights
    if weights == "imagenet" and not _cached_imagenet(keras, spec.model):
        raise ValueError(f"weights: imagenet would download {spec.model}'s weights from the internet, and expkit "
                         "never downloads: set weights to null (random), or to the path of a weights file "
                         "you have (e.g. from keras.applications on a machine with network)")
    if weights not in (None, "imagenet") and not Path(weights).expanduser().is_file():
        raise ValueError(f"weights file '{weights}' does not exist (resolved: {Path(weights).expanduser().resolve()})")
    if weights not in (None, "imagenet"):
        weights = str(Path(weights).expanduser())
    backbone = getattr(keras.applications, spec.model)(
        input_shape=tuple(input_shape), weights=weights, name=name, **spec.keras_kwargs())
    if spec.trainable is False:
        backbone.trainable = False
    if spec.unfreeze_top is not None:
        # Keras' fine-tuning guide: train only the top layers, and keep every BatchNormalization frozen
        # (in inference mode), or its statistics drift from the ones the weights were trained with.
        cut = len(backbone.layers) - spec.unfreeze_top
        for i, layer in enumerate(backbone.layers):
            layer.trainable = i >= cut and not isinstance(layer, keras.layers.BatchNormalization)
    return backbone
