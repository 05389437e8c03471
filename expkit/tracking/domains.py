"""HParams domains: the values TensorBoard may show for a config key, from a sweep or the config schema.

Domains are plain data in the sweep's format ({"values": [...]} or {"min": a, "max": b}, ints for an
integer interval); `hparam_value` turns any config value into one TensorBoard accepts, of its domain's
type. No TensorFlow here: expkit.tracking.hparams writes the summaries.
"""
from __future__ import annotations

import json
import math
import typing
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, Discriminator, Tag

from expkit.config.experiment import ExperimentConfig
from expkit.config.types import type_members

LR_KEY = "compile.optimizer.learning_rate"
SCHEDULE_KEY = "compile.optimizer.learning_rate.schedule"
LAYERS_KEY = "model.num_layers"
BOUNDS = {annotated_types.Gt: "gt", annotated_types.Ge: "ge", annotated_types.Lt: "lt", annotated_types.Le: "le"}
Domain = dict  # {"values": [...]} or {"min": lo, "max": hi}


def lookup(data: Any, key: str) -> Any:
    """The value at a dotted key (list items by index) in plain data, or None."""
    for part in key.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data



def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def hparam_value(value: Any, domain: Domain | None = None) -> bool | int | float | str | None:
    """A value TensorBoard accepts (bool, int, float, str) of its domain's type; lists and mappings as
    text. None stays None: the key is left out of that run."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()  # numpy scalars
    if value is None or not isinstance(value, (bool, int, float, str)):
        return None if value is None else _text(value)
    items = (domain or {}).get("values") or [(domain or {}).get("min")]
    if isinstance(items[0], str):
        return _text(value)
    if _is_number(items[0]) and _is_number(value):
        return int(value) if isinstance(items[0], int) and float(value).is_integer() else float(value)
    return value


def _discrete(values) -> Domain | None:
    """Distinct values of one type: bools, numbers (floats if any is), or else all as text."""
    vals = [hparam_value(v) for v in values if v is not None]
    if vals and all(_is_number(v) for v in vals) and any(isinstance(v, float) for v in vals):
        vals = [float(v) for v in vals]
    elif not (all(isinstance(v, bool) for v in vals) or all(_is_number(v) for v in vals)):
        vals = [_text(v) for v in vals]
    return {"values": sorted(set(vals))} if vals else None


def _interval(low, high, integer: bool) -> Domain:
    return {"min": int(low), "max": int(high)} if integer else {"min": float(low), "max": float(high)}

# ---- domains from the schema --------------------------------------------------------------------

def _members(tp, meta=()) -> list[tuple[Any, tuple]]:
    """Each alternative of a type with its metadata, None dropped."""
    return type_members(tp, tuple(meta), keep_none=False)


def _is_model(tp) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _shape(tp) -> str:
    if _is_model(tp) or tp is dict or typing.get_origin(tp) is dict:
        return "mapping"
    return "list" if typing.get_origin(tp) in (list, tuple) else "scalar"


def _fits(tp, meta, data: dict) -> bool:
    """Whether a union member is the one a mapping picks: by the layer union's tag, or the schedule's kind."""
    # Nested tagged unions (a loss: one or per output, then Keras' or a plugin's): each level's
    # discriminator comes before the tag of its member, in order.
    tags = [m.tag for m in meta if isinstance(m, Tag)]
    picks = [m.discriminator for m in meta if isinstance(m, Discriminator)]
    if any(callable(pick) and pick(data) != tag for pick, tag in zip(picks, tags)):
        return False
    field = next((m.discriminator for m in meta if isinstance(getattr(m, "discriminator", None), str)), None)
    if field and _is_model(tp) and field in tp.model_fields:
        return data.get(field) in typing.get_args(tp.model_fields[field].annotation)
    return True


def _is_plugin(meta) -> bool:
    return any(isinstance(m, Tag) and m.tag == "plugin" for m in meta)


def _narrow(members: list, data: Any) -> list:
    """The alternatives that fit the config's value here (its shape, then its member of a
    discriminated union); all of them when none fits."""
    # A plugin's spec (config/plugin_specs.plugin_or) names free text: it counts only where the value picks it.
    members = [m for m in members if not _is_plugin(m[1]) or isinstance(data, dict) and _fits(*m, data)] or members
    if data is None:
        return members
    shape = "mapping" if isinstance(data, dict) else "list" if isinstance(data, list) else "scalar"
    kept = [m for m in members if _shape(m[0]) == shape] or members
    return ([m for m in kept if _fits(*m, data)] or kept) if shape == "mapping" else kept


def schema_types(key: str, config: dict | None = None) -> list[tuple[Any, tuple]]:
    """The types (with their bounds metadata) the schema allows at a dotted key, walking the pydantic
    models from ExperimentConfig, list items by index. At a union (layer types, schedules) the config's
    value picks the member; without a config, every member that has the key counts."""
    current, data = [(ExperimentConfig, ())], config
    for part in key.split("."):
        following = []
        for tp, meta in _narrow([m for t, x in current for m in _members(t, x)], data):
            origin, args = typing.get_origin(tp), [a for a in typing.get_args(tp) if a is not Ellipsis]
            if origin in (list, tuple) and part.isdigit():
                if origin is list or len(args) == 1:
                    following.append((args[0], ()))
                elif int(part) < len(args):
                    following.append((args[int(part)], ()))
            elif _is_model(tp) and part in tp.model_fields:
                field = tp.model_fields[part]
                following.append((field.annotation, tuple(field.metadata)))
        if not following:
            return []
        current, data = following, lookup(data, part)
    return [m for t, x in current for m in _members(t, x)]


def _bounds(tp, meta) -> tuple[float | None, float | None]:
    low = high = None
    step = 1 if tp is int else 0  # an exclusive bound on an int moves to the next int
    for item in meta:
        kind = BOUNDS.get(type(item))
        if kind in ("gt", "ge"):
            low = getattr(item, kind) + (step if kind == "gt" else 0)
        elif kind in ("lt", "le"):
            high = getattr(item, kind) - (step if kind == "lt" else 0)
    return low, high


def _schema_domain(members: list, values: list) -> Domain | None:
    if members and all(typing.get_origin(tp) is Literal or tp is bool for tp, _ in members):
        return _discrete(v for tp, _ in members for v in (typing.get_args(tp) if tp is not bool else (False, True)))
    if not members or not all(tp in (int, float) for tp, _ in members):
        return None
    ends = [_bounds(tp, meta) for tp, meta in members]
    low = None if any(lo is None for lo, _ in ends) else min(lo for lo, _ in ends)
    high = None if any(hi is None for _, hi in ends) else max(hi for _, hi in ends)
    seen = [v for v in values if _is_number(v) and math.isfinite(v)]
    if seen:  # an open end takes the values seen: a RealInterval needs finite ends
        low = min(seen) if low is None else min(low, *seen)
        high = max(seen) if high is None else max(high, *seen)
    if low is None or high is None:
        return None
    return _interval(low, high, integer=all(tp is int for tp, _ in members))


def domain_for(key: str, values=(), *, sweep: Domain | None = None, config: dict | None = None) -> Domain | None:
    """The HParams domain of a dotted key, or None (an hparam without a domain).

    `sweep` (a grid's {"values": [...]} or a random range's {"min", "max"}) overrides the schema.
    Otherwise the config schema decides: Literal and bool fields give every allowed value; int and float
    fields their bounds (ge/gt/le/lt), an open end replaced by the extreme of `values` (the values seen);
    anything else (free text, mappings, mixed unions) none. `config` picks the member of a union on the
    way (the layer's type, the schedule's kind); a path it lacks takes every member that has it."""
    values = [hparam_value(v) for v in values]
    if sweep is not None:
        if "values" in sweep:
            return _discrete(sweep["values"])
        return _interval(sweep["min"], sweep["max"], all(isinstance(v, int) and _is_number(v)
                                                          for v in [sweep["min"], sweep["max"], *values]))
    if key == LAYERS_KEY:
        field = ExperimentConfig.model_fields["model"].annotation.model_fields["layers"]
        low = next((m.min_length for m in field.metadata if isinstance(m, annotated_types.MinLen)), 0)
        return _interval(low, max([low, *values]), integer=True)
    members = schema_types(key, config) or schema_types(key)
    if values and all(isinstance(v, (bool, int, float, str)) for v in values):
        members = [m for m in members if _shape(m[0]) == "scalar"]
    domain = _schema_domain(members, values)
    if key == SCHEDULE_KEY and domain is not None:
        domain = _discrete(["constant", *domain["values"]])
    return domain
