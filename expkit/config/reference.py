"""The config reference in Markdown, generated from the pydantic models (the README embeds it)."""
from __future__ import annotations

import typing

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from expkit.config.types import is_union
from expkit.config.components import InitializerSpec, LayerRegularizationSpec, RegularizationSpec
from expkit.config.dataset import DatasetConfig
from expkit.config.experiment import ExperimentInfo
from expkit.config.layers import EXPKIT_FIELDS, LAYER_CLASSES, snake_case
from expkit.config.model import InputSpec, ModelConfig
from expkit.config.optim import (CompileConfig, CosineDecay, ExponentialDecay, LinearWarmup, LossSpec, OneCycle,
                                 OptimizerSpec, PiecewiseConstant)
from expkit.config.tfrecord import FeatureSpec, TFRecordSpec
from expkit.config.sweep import RandomParam, RandomSearch, SweepConfig, Variant
from expkit.config.tracking import MlflowSpec, TrackingConfig
from expkit.config.training import (CallbacksConfig, CheckpointSpec, EarlyStoppingSpec, ReduceLROnPlateauSpec,
                                    TensorBoardSpec, TrainingConfig)

SECTIONS = [
    ("experiment", ExperimentInfo), ("dataset", DatasetConfig), ("dataset.tfrecord", TFRecordSpec),
    ("dataset.tfrecord.features.<name>", FeatureSpec), ("model", ModelConfig),
    ("model.inputs[]", InputSpec), ("model.initializer", InitializerSpec),
    ("model.regularization", RegularizationSpec), ("layer `regularization` (per-layer override)", LayerRegularizationSpec),
    ("compile", CompileConfig), ("compile.loss", LossSpec), ("compile.optimizer", OptimizerSpec),
    ("learning_rate: {schedule: exponential_decay}", ExponentialDecay),
    ("learning_rate: {schedule: cosine_decay}", CosineDecay),
    ("learning_rate: {schedule: piecewise_constant}", PiecewiseConstant),
    ("learning_rate: {schedule: linear_warmup}", LinearWarmup),
    ("learning_rate: {schedule: one_cycle}", OneCycle),
    ("training", TrainingConfig), ("training.callbacks", CallbacksConfig),
    ("training.callbacks.tensorboard", TensorBoardSpec), ("training.callbacks.early_stopping", EarlyStoppingSpec),
    ("training.callbacks.reduce_lr_on_plateau", ReduceLROnPlateauSpec),
    ("training.callbacks.checkpoint", CheckpointSpec),
    ("sweep", SweepConfig), ("sweep.variants[]", Variant), ("sweep.random", RandomSearch),
    ("sweep.random.params.<key>", RandomParam), ("tracking", TrackingConfig), ("tracking.mlflow", MlflowSpec),
]


def _number(value) -> str:
    return f"{value:g}" if isinstance(value, float) else str(value)


def _type_name(tp) -> str:
    """A short, readable type: 'int > 0', "'auto' | 'cpu'", 'list of float', 'float or none'."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin is typing.Annotated:
        base, meta = _type_name(args[0]), args[1:]
        bounds = [f"{op} {_number(getattr(m, k))}" for m in meta for k, op in
                  (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")) if getattr(m, k, None) is not None]
        return f"{base} {' '.join(bounds)}".strip() if bounds else base
    if origin is typing.Literal:
        if len(args) > 6:
            return "name (listed in the description)"
        return " \\| ".join(repr(a) for a in args)
    if is_union(tp):
        parts = [_type_name(a) for a in args if a is not type(None)]
        text = " or ".join(dict.fromkeys(parts))
        return text + " or none" if type(None) in args else text
    if origin in (list, tuple):
        inner = dict.fromkeys(_type_name(a) for a in args if a is not Ellipsis)
        return ("list of " if origin is list else "pair of ") + " or ".join(inner)
    if origin is dict:
        return "mapping"
    if isinstance(tp, type):
        if tp.__name__ == "AnyLayer" or tp.__name__ in LAYER_CLASSES or issubclass(tp, BaseModel):
            return "layer" if tp.__name__ in LAYER_CLASSES else "mapping"
        return tp.__name__
    return "layer" if "Dense" in str(tp) else str(tp).replace("typing.", "")


def _default(field) -> str:
    if field.description and field.description.endswith("Default: the config file's name."):
        return "the file's name"
    if field.default is PydanticUndefined and field.default_factory is None:
        return "**required**"
    value = field.default_factory() if field.default_factory else field.default
    if isinstance(value, BaseModel):
        return "(defaults)"
    return f"`{value!r}`" if value is not None else "—"


def _table(model: type[BaseModel], skip=()) -> list[str]:
    rows = ["| key | type | default | description |", "|---|---|---|---|"]
    for name, field in model.model_fields.items():
        if name in skip or field.exclude:
            continue
        desc = (field.description or "").replace("|", "\\|").replace("\n", " ")
        kind = _type_name(field.annotation)
        if field.metadata and kind in ("int", "float"):
            kind = _type_name(typing.Annotated[(field.annotation, *field.metadata)])
        rows.append(f"| `{name}` | {kind} | "
                    f"{_default(field)} | {desc} |")
    return rows


def markdown_reference() -> str:
    out = ["<!-- generated by `expkit schema --markdown`; do not edit by hand -->"]
    for title, model in SECTIONS:
        out += ["", f"#### `{title}`", ""] + _table(model)
    out += ["", "#### Layers", "",
            "Every class in `keras.layers` is a layer type, by its class name or snake_case form, with all "
            "of Keras' constructor arguments (read from `expkit/config/keras_layers.json`, generated from the "
            "installed Keras' signatures and docstrings; `expkit schema` has each argument's description). "
            "Every layer also takes `name`, `inputs` (graph form) and `call` (non-tensor call arguments). "
            "Layers with a kernel also take `initializer` and `regularization` (model-wide defaults "
            "otherwise). The table lists the keys expkit checks itself and the required ones; "
            "`+N` counts Keras' other arguments:", "",
            "| type | also accepted | keys |", "|---|---|---|"]
    for name, cls in LAYER_CLASSES.items():
        keys, others = [], 0
        hand = {k for base in cls.__mro__[1:2] for k in getattr(base, "model_fields", {})}
        for key, field in cls.model_fields.items():
            if (key in EXPKIT_FIELDS and key not in ("layer", "share")) or key == "use_bias" or field.exclude:
                continue
            req = field.default is PydanticUndefined and field.default_factory is None
            if req or key in hand:
                keys.append(f"`{key}`" + ("*" if req else ""))
            else:
                others += 1
        alias = "keras" if name == "Keras" else snake_case(name)
        keys.append(f"+{others}" if others else "")
        out.append(f"| `{name}` | `{alias}` | {', '.join(k for k in keys if k) or '—'} |")
    out.append("")
    out.append("`*` required. `type: keras` builds any other class in `keras.layers` from `class_name` and `config`.")
    return "\n".join(out) + "\n"


def update_readme(path: str = "README.md") -> None:
    """Replace the README's generated reference (from its marker to the end) with a fresh one."""
    from pathlib import Path
    readme = Path(path)
    text = readme.read_text(encoding="utf-8")
    marker = "<!-- generated by `expkit schema --markdown`"
    readme.write_text(text[:text.index(marker)] + markdown_reference(), encoding="utf-8")
