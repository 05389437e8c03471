"""Turn pydantic's validation errors into located, plain-language problems."""
from __future__ import annotations

import collections
import typing

from pydantic import BaseModel, ValidationError

from expkit.config.base import KeyProblem
from expkit.config.layers import LAYER_CLASSES, LAYER_TYPES
from expkit.config.types import type_members
from expkit.config.yamlsource import PathKey, Source, dotted
from expkit.errors import Problem, suggest

MAX_ERRORS = 1_000


def _members(tp) -> list:
    """The concrete types behind Annotated / Optional / Union, flattened."""
    return [member for member, _ in type_members(tp)]


def _model_at(root: type[BaseModel], loc: tuple) -> type[BaseModel] | None:
    """The pydantic model that owns the last element of an error's `loc` (tags and all)."""
    candidates = [root]
    for elem in loc[:-1]:
        models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
        if isinstance(elem, str) and elem in LAYER_CLASSES and elem not in {f for m in models for f in m.model_fields}:
            candidates = [LAYER_CLASSES[elem]]
            continue
        nxt = []
        for c in candidates:
            if isinstance(c, type) and issubclass(c, BaseModel) and elem in c.model_fields:
                nxt += _members(c.model_fields[elem].annotation)
            elif typing.get_origin(c) in (list, tuple) and isinstance(elem, int):
                nxt += _members(typing.get_args(c)[0])
            elif typing.get_origin(c) is dict and isinstance(elem, str):
                nxt += _members(typing.get_args(c)[1])
        if nxt:
            candidates = nxt
        else:  # a union tag such as 'exponential_decay': keep the member it names
            named = [c for c in models if c.__name__ == elem or _literal_of(c) == elem]
            candidates = named or candidates
    models = [c for c in candidates if isinstance(c, type) and issubclass(c, BaseModel)]
    return models[0] if len(models) == 1 else None


def _literal_of(model: type[BaseModel]):
    field = model.model_fields.get("schedule")
    args = typing.get_args(field.annotation) if field else ()
    return args[0] if args else None


def _data_path(data, loc: tuple, missing_key: bool = False) -> PathKey:
    """Drop the union tags from a pydantic `loc`, keeping the keys that are (or should be) in the data."""
    path, current = [], data
    for i, elem in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(current, dict) and elem in current:
            path.append(elem)
            current = current[elem]
        elif isinstance(current, list) and isinstance(elem, int) and elem < len(current):
            path.append(elem)
            current = current[elem]
        elif isinstance(current, dict) and last and missing_key and isinstance(elem, str):
            path.append(elem)  # a missing key (a union tag such as 'piecewise_constant' is not one)
        elif not isinstance(current, (dict, list)):
            break
    return tuple(path)


def _message(err: dict, root: type[BaseModel]) -> str:
    kind, value, loc = err["type"], err.get("input"), err["loc"]
    if kind == "missing":
        return f"required key '{loc[-1]}' is missing"
    if kind == "extra_forbidden":
        owner = _model_at(root, loc)
        fields = list(owner.model_fields) if owner else []
        hint = suggest(loc[-1], fields) or (f"; valid keys: {', '.join(fields)}" if fields else "")
        return f"unknown key '{loc[-1]}'{hint}"
    if kind == "unknown_layer_type":
        raw = value.get("type") if isinstance(value, dict) else None
        if raw is None:
            return "each layer needs a 'type', e.g. type: Dense"
        if isinstance(raw, str) and LAYER_TYPES.get(raw, LAYER_TYPES.get(raw.lower())):
            return f"{err['msg']}, got '{raw}'"  # a known type where it is not allowed (Bidirectional)
        from expkit.config.plugins import plugin_names
        extra = plugin_names("layers")  # a loaded plugin's layers count as known names
        names = sorted(set(LAYER_TYPES.values())) + extra
        close = suggest(raw, list(LAYER_TYPES) + extra)
        if close:
            close = f" (did you mean '{LAYER_TYPES.get(close.split(chr(39))[1], close.split(chr(39))[1])}'?)"
        return (f"unknown layer type '{raw}'{close}; expected one of {', '.join(names)} "
                f"(or type: keras with class_name for any other built-in Keras layer)")
    if kind == "union_tag_invalid":
        tag, expected = err["ctx"]["tag"], err["ctx"]["expected_tags"]
        field = err["ctx"]["discriminator"].strip(chr(39))
        options = expected.replace(chr(39), "").split(", ") + _plugin_names(field)
        return f"unknown {field} '{tag}'{suggest(tag, options)}; expected one of {expected}{_or_plugins(field)}"
    if kind == "literal_error":
        expected = err["ctx"]["expected"]
        options = [o.strip(" '") for o in expected.replace(" or ", ", ").split(",")]
        # loss, metric or initializer names: a loaded plugin's are names too
        field = "loss" if "mean_squared_error" in options else "initializer" if "glorot_uniform" in options else ""
        listed = _or_plugins(field) if field == "initializer" else ""  # losses and metrics share this test
        return f"must be one of {expected}{listed}, got {value!r}{suggest(value, options + _plugin_names(field))}"
    if kind in ("value_error", "assertion_error"):
        return err["msg"].removeprefix("Value error, ").removeprefix("Assertion failed, ")
    if value is None:
        return f"a value is required here, got an empty value (null); {_expected(err)}"
    if kind == "too_short":
        return f"must have at least {err['ctx']['min_length']} item(s), got {len(value)}"
    if kind == "int_from_float":
        return f"must be a whole number, got {value!r}"
    msg = err["msg"].replace("Input should be", "must be").replace("Input should have", "must have")
    return f"{msg}, got {value!r}"


# A field whose names a plugin adds to: the kinds of plugin names that count there.
PLUGIN_KINDS = {"loss": ("losses", "metrics"), "initializer": ("initializers",), "schedule": ("schedules",)}


def _plugin_names(field: str) -> list[str]:
    from expkit.config.plugins import plugin_names
    return [name for kind in PLUGIN_KINDS.get(field, ()) for name in plugin_names(kind)]


def _or_plugins(field: str) -> str:
    names = _plugin_names(field)
    return f" or a loaded plugin's ({', '.join(names)})" if names else ""


def _expected(err: dict) -> str:
    """What pydantic wanted, from its message: 'expected a valid integer'."""
    msg = err["msg"].replace("Input should be ", "").replace("Input should have ", "")
    return f"expected {msg}"


def _is_type_error(err: dict) -> bool:
    return err["type"].endswith(("_type", "_parsing")) or err["type"] == "model_attributes_type"


def _offending_key(err: dict) -> str | None:
    """The key inside the failing mapping that the error is about: a validator's KeyProblem key,
    a union's discriminator ('schedule'), a layer's 'type'."""
    if isinstance((err.get("ctx") or {}).get("error"), KeyProblem):
        return err["ctx"]["error"].key
    if err["type"] == "union_tag_invalid":
        return err["ctx"]["discriminator"].strip("'")
    if err["type"] == "unknown_layer_type":
        return "type"
    return None


def _error_path(data, err: dict) -> PathKey:
    path = _data_path(data, err["loc"], missing_key=err["type"] == "missing")
    key, node = _offending_key(err), data
    if key is None:
        return path
    for part in path:  # every part is in the data: only a missing key is added beyond it
        node = node[part]
    return path + (key,) if isinstance(node, dict) and key in node else path


def problems_from(exc: ValidationError, source: Source, root: type[BaseModel]) -> list[Problem]:
    """One problem per offending path; alternative branches of a union are merged into one line."""
    by_path: dict[PathKey, list[str]] = {}
    errors = exc.errors(include_url=False)
    paths = [_data_path(source.data, e["loc"], missing_key=e["type"] == "missing") for e in errors]
    counts = collections.Counter(paths)
    # In a union (a number or a schedule), the branch whose type does not fit at all is noise.
    errors = [e for e, p in zip(errors, paths) if not (_is_type_error(e) and counts[p] > 1)] or errors
    for err in errors[:MAX_ERRORS]:  # a list of 50,000 bad items needs no 50,000 suggestions
        path = _error_path(source.data, err)
        message = _message(err, root)
        if message not in by_path.setdefault(path, []):
            by_path[path].append(message)
    problems = []
    for path, messages in by_path.items():
        text = messages[0] if len(messages) == 1 else "expected one of these, none fits: " + "; or ".join(messages)
        problems.append(Problem(source.locate(path), dotted(path), text))
    return sorted(problems, key=lambda p: (str(p.location.file) if p.location else "",
                                           p.location.line or 0 if p.location else 0))
