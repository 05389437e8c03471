"""load_config: YAML file -> `extends:` base -> `--set` overrides -> validated, frozen ExperimentConfig."""
from __future__ import annotations

import copy
import functools
import types
from dataclasses import dataclass
from pathlib import Path

import yaml
from pydantic import BaseModel, TypeAdapter, ValidationError

from expkit.config.errors_map import problems_from
from expkit.config.experiment import ExperimentConfig, cross_checks
from expkit.config.yamlsource import Source, dotted, parse_yaml, read_yaml
from expkit.errors import ConfigError, Location, Problem


@dataclass(frozen=True)
class LoadedConfig:
    config: ExperimentConfig
    file: Path
    source: Source

    def to_yaml(self) -> str:
        """The fully resolved config (defaults filled, overrides applied), loadable again as is."""
        return dump_config(self.config)


def resolved_data(config: ExperimentConfig) -> dict:
    """The resolved config as plain data: what config.yaml and config.json of a run hold."""
    data = _drop_default_nones(config, config.model_dump(mode="json"))
    data.pop("sweep", None)  # a run is one point: the sweep that made it is in sweep.json
    return data


def dump_config(config: ExperimentConfig) -> str:
    return yaml.safe_dump(resolved_data(config), sort_keys=False)


def _drop_default_nones(model, data):
    """Leave out the None values that are only defaults, but keep a None that replaces another
    default (Bidirectional's `merge_mode: null`), or the reloaded config would differ."""
    if isinstance(model, BaseModel) and isinstance(data, dict):
        fields = type(model).model_fields
        return {key: _drop_default_nones(getattr(model, key), value) for key, value in data.items()
                if not (value is None and key in fields and fields[key].default is None)}
    if isinstance(model, (list, tuple)) and isinstance(data, list):
        return [_drop_default_nones(m, d) for m, d in zip(model, data)]
    return data


def load_config(file: str | Path, overrides: list[str] = (), name: str | None = None) -> LoadedConfig:
    """Read, merge and validate a config; every problem in it is raised together as one ConfigError.

    The data may share values (a YAML alias is built once), so every change below copies the
    mappings and lists on its path first instead of writing into a value another key also holds."""
    file = Path(file)
    source = _read_with_bases(file, ())
    for item in overrides:
        _apply_override(source, item)
    data = source.data
    if isinstance(data.setdefault("experiment", {}), dict):
        data["experiment"] = {"name": _safe_name(file.stem), **data["experiment"], **({"name": name} if name else {})}
    _resolve_dataset_path(source)
    try:
        config = ExperimentConfig.model_validate(data)
    except ValidationError as exc:
        # Checks that span sections still run on the sections that are valid, so one run of
        # `expkit validate` lists every problem.
        problems = problems_from(exc, source, ExperimentConfig)
        valid = _valid_sections(data, {e["loc"][0] for e in exc.errors() if e["loc"]})
        problems += _cross_problems(source, cross_checks(types.SimpleNamespace(**valid), set(valid)))
        raise ConfigError(sorted(problems, key=_by_place)) from None
    problems = _cross_problems(source, cross_checks(config))
    if problems:
        raise ConfigError(problems)
    return LoadedConfig(config, file, source)


def _cross_problems(source: Source, found: list[tuple[str, str]]) -> list[Problem]:
    return [Problem(source.locate(_split(path)), path, msg) for path, msg in found]


def _by_place(problem: Problem):
    where = problem.location
    return (where.file if where else "", where.line or 0 if where else 0)


@functools.cache
def _section_adapter(name: str) -> TypeAdapter:
    return TypeAdapter(ExperimentConfig.model_fields[name].annotation)


def _valid_sections(data: dict, failed: set) -> dict:
    """The top-level sections that validate on their own (a missing optional one takes its default)."""
    valid = {}
    for name, spec in ExperimentConfig.model_fields.items():
        if name in failed or (name not in data and spec.is_required()):
            continue
        value = data[name] if name in data else spec.get_default(call_default_factory=True)
        try:
            valid[name] = _section_adapter(name).validate_python(value)
        except ValidationError:
            continue
    return valid


def _safe_name(stem: str) -> str:
    import re
    return re.sub(r"[^A-Za-z0-9_.-]", "-", stem).lstrip("-_.") or "experiment"


def _read_with_bases(file: Path, chain: tuple[Path, ...]) -> Source:
    source = read_yaml(file)
    if not isinstance(source.data, dict):
        raise ConfigError(Problem(Location(str(file), 1, 1), "", "the top level must be a mapping of sections "
                                  f"(experiment, dataset, model, compile, training), got {type(source.data).__name__}"))
    bases = source.data.pop("extends", None)
    if bases is None:
        return source
    where = source.locations.get(("extends",))
    if isinstance(bases, str):
        bases = [bases]
    if not isinstance(bases, list) or not all(isinstance(b, str) for b in bases):
        raise ConfigError(Problem(where, "extends", f"must be a file name or a list of them, got {bases!r}"))
    merged = Source({})
    for base in bases:
        base_file = (file.parent / base).resolve()
        if base_file in chain or base_file == file.resolve():
            raise ConfigError(Problem(where, "extends", f"'{base}' extends itself through "
                                      f"{' -> '.join(p.name for p in chain + (file,))}: remove the cycle"))
        if not base_file.is_file():
            raise ConfigError(Problem(where, "extends", f"base config '{base}' not found (looked for {base_file}); "
                                      "paths in extends are relative to the file that names them"))
        _merge(merged, _read_with_bases(base_file, chain + (file.resolve(),)), ())
    _merge(merged, source, ())
    merged.locations[()] = source.locations[()]
    return merged


def _merge(into: Source, top: Source, path: tuple) -> None:
    """Deep-merge `top` over `into`: mappings merge key by key, anything else is replaced whole."""
    def walk(dst: dict, src: dict, prefix: tuple):
        for key, value in src.items():
            here = prefix + (key,)
            if isinstance(value, dict) and isinstance(dst.get(key), dict):
                dst[key] = dict(dst[key])  # it may be an alias's value, shared with another key
                walk(dst[key], value, here)
            else:
                for stale in [p for p in into.locations if p[:len(here)] == here]:
                    del into.locations[stale]
                dst[key] = copy.deepcopy(value)
                into.locations.update({p: loc for p, loc in top.locations.items() if p[:len(here)] == here})
            if here in top.locations:
                into.locations[here] = top.locations[here]
    walk(into.data, top.data, path)


def _split(dotted_path: str) -> tuple:
    parts = []
    for piece in dotted_path.replace("]", "").replace("[", ".").split("."):
        parts.append(int(piece) if piece.isdigit() else piece)
    return tuple(parts)


def _apply_override(source: Source, item: str) -> None:
    """`--set model.layers.2.rate=0.3`: the value is parsed as YAML; the path must exist up to its last key."""
    where = Location(f"--set {item}")
    key, sep, raw = item.partition("=")
    if not sep or not key.strip():
        raise ConfigError(Problem(where, "", "expected KEY.PATH=VALUE, e.g. --set training.epochs=5"))
    try:
        value = parse_yaml(raw, where.file).data if raw.strip() else None
    except ConfigError as exc:  # the same limits as a file: no alias bomb through --set either
        message = exc.problems[0].message.removeprefix("invalid YAML: ")
        raise ConfigError(Problem(where, key, f"the value is not valid YAML: {message}")) from None
    path = _split(key.strip())
    node = source.data
    for depth, part in enumerate(path[:-1]):
        node = _step(node, part, path[:depth + 1], where)
    last = path[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or not -len(node) <= last < len(node):
            raise ConfigError(Problem(where, key, f"no item {last} in a list of {len(node)}"))
    elif not isinstance(node, dict):
        raise ConfigError(Problem(where, key, f"'{dotted(path[:-1])}' is a value, not a section"))
    node[last] = value
    for stale in [p for p in source.locations if p[:len(path)] == path]:
        del source.locations[stale]
    source.locations[path] = where


def _step(node, part, path, where):
    if isinstance(node, list):
        if isinstance(part, int) and -len(node) <= part < len(node):
            node[part] = copy.copy(node[part])  # it may be an alias's value, shared with another item
            return node[part]
        raise ConfigError(Problem(where, dotted(path), f"no item {part} in a list of {len(node)} "
                                  f"(items are numbered from 0)"))
    if isinstance(node, dict):
        if part not in node:
            node[part] = {}  # a section the file left to its defaults
        node[part] = copy.copy(node[part])  # it may be an alias's value, shared with another key
        return node[part]
    raise ConfigError(Problem(where, dotted(path), f"'{dotted(path[:-1])}' is a value, not a section"))


def _resolve_dataset_path(source: Source) -> None:
    dataset = source.data.get("dataset")
    if not isinstance(dataset, dict):
        return
    if isinstance(dataset.get("path"), str):
        dataset = source.data["dataset"] = {**dataset, "path": _resolved(source, ("dataset", "path"), dataset["path"])}
    tfrecord = dataset.get("tfrecord")
    if isinstance(tfrecord, dict):  # tfrecord's globs of validation and test files
        for key in ("validation", "test"):
            if isinstance(tfrecord.get(key), str):
                tfrecord = {**tfrecord, key: _resolved(source, ("dataset", "tfrecord", key), tfrecord[key])}
        source.data["dataset"] = {**dataset, "tfrecord": tfrecord}


def _resolved(source: Source, key: tuple, value: str) -> str:
    """A path (or glob) of the config, relative to the file that wrote it."""
    where = source.locations.get(key)
    base = Path(where.file).parent if where and where.line else Path.cwd()
    try:
        path = Path(value).expanduser()
        return str(path if path.is_absolute() else (base / path).resolve())
    except (ValueError, RuntimeError, OSError) as exc:  # a NUL byte, an unknown ~user
        raise ConfigError(Problem(where, dotted(key), f"not a usable path: {exc}, got {value!r}"))
