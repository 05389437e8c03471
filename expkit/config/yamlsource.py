"""Read YAML safely and remember where every key was written, so errors can point at it.

A config is small and written by hand, so what is read is bounded before it is built: the file's size
(EXPKIT_MAX_CONFIG_BYTES), how deep it nests, and how many values its aliases expand to
(EXPKIT_MAX_CONFIG_NODES). An alias is built once and shared, never copied: a 1 KB "billion laughs"
file names 387 million values and is refused after building a few hundred.
"""
from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from expkit.errors import ConfigError, Location, Problem

PathKey = tuple  # ("model", "layers", 3, "units")
_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}
_MERGE, _STR = "tag:yaml.org,2002:merge", "tag:yaml.org,2002:str"
_SCALAR_TAGS = {f"tag:yaml.org,2002:{t}" for t in ("null", "bool", "int", "float", "timestamp", "binary")}
MAX_BYTES = 1_000_000  # the largest catalogue config is ~3 KB
MAX_NODES = 100_000  # values after expanding aliases; pydantic validates 100,000 in about a second
MAX_DEPTH = 100  # configs nest ~6 deep; PyYAML's pure-Python composer recurses twice per level
# libyaml parses ~10x faster than PyYAML's Python parser and keeps line and column on every node.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass
class Source:
    """Plain data from one or more YAML files, and the location of each key path in it."""

    data: Any
    locations: dict[PathKey, Location] = field(default_factory=dict)

    def locate(self, path: PathKey) -> Location | None:
        """The location of the deepest written ancestor of `path` (a missing key points at its parent)."""
        path = tuple(path)
        while True:
            if path in self.locations:
                return self.locations[path]
            if not path:
                return None
            path = path[:-1]


def dotted(path: PathKey) -> str:
    """('model', 'layers', 3, 'rate') -> 'model.layers[3].rate'."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def limit(variable: str, default: int) -> int:
    """A size limit a user may raise through an environment variable."""
    raw = os.environ.get(variable, "").strip().replace("_", "")
    if not raw:
        return default
    if not raw.isdigit():
        raise ConfigError(Problem(None, "", f"{variable} must be a whole number, got {raw!r}; "
                                  f"unset it for the default, {default}"))
    return int(raw)


def read_yaml(file: Path) -> Source:
    """Parse one file; a `!!python/...` tag, a duplicate key or a file over the limits is an error."""
    name = str(file)
    source = parse_yaml(_read_text(file, name), name)
    if source.data is None:
        raise ConfigError(Problem(Location(name, 1, 1), "", "the file is empty: an experiment needs at least "
                                  "the sections experiment, dataset, model and compile"))
    return source


def _read_text(file: Path, name: str) -> str:
    cap = limit("EXPKIT_MAX_CONFIG_BYTES", MAX_BYTES)
    try:
        with open(file, "rb") as stream:
            raw = stream.read(cap + 1)  # never more: the "file" may be /dev/zero
    except FileNotFoundError:
        raise ConfigError(Problem(None, "", f"config file not found: {name}")) from None
    except IsADirectoryError:
        raise ConfigError(Problem(None, "", f"{name} is a folder, not a config file")) from None
    except OSError as exc:
        raise ConfigError(Problem(None, "", f"cannot read config file {name}: {exc.strerror or exc}")) from None
    if len(raw) > cap:
        raise ConfigError(Problem(Location(name), "", f"the file is larger than {cap:,} bytes, the limit for a "
                                  "config file (a config names its data files, it does not hold them); to read it "
                                  f"anyway, raise the limit: EXPKIT_MAX_CONFIG_BYTES={max(cap * 10, 10_000_000)}"))
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(Problem(_offset_location(raw, exc.start, name, b"\n"), "",
                                  f"byte 0x{raw[exc.start]:02x} is not UTF-8 text; save the file as UTF-8")) from None
    bad = yaml.reader.Reader.NON_PRINTABLE.search(text)
    if bad:
        raise ConfigError(Problem(_offset_location(text, bad.start(), name, "\n"), "",
                                  f"control character U+{ord(bad.group()):04X} is not allowed in YAML; delete it "
                                  "(inside a double-quoted string it can be written as an escape, e.g. \"\\t\")"))
    return text


def _offset_location(text, offset: int, name: str, newline) -> Location:
    start = text.rfind(newline, 0, offset) + 1
    return Location(name, text.count(newline, 0, offset) + 1, offset - start + 1)


def parse_yaml(text: str, name: str) -> Source:
    """YAML text -> plain data (None for an empty document) and where each key was written."""
    loader = None
    try:
        loader = _LOADER(text)
        node = loader.get_single_node()
        source = Source(None, {(): Location(name)})  # a missing top-level section points at the file
        if node is not None:
            source.data = _Builder(loader, name, source.locations).build(node, (), 0)[0]
        return source
    except yaml.MarkedYAMLError as exc:
        raise _yaml_problem(exc, name, text) from None
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(Location(name), "", f"invalid YAML: {exc}")) from None
    except RecursionError:  # only PyYAML's Python composer recurses; libyaml stops at 1,000 levels itself
        raise ConfigError(Problem(Location(name), "", f"invalid YAML: nested more than {MAX_DEPTH} levels deep; "
                                  "a config needs a handful")) from None
    finally:
        if loader is not None:
            loader.dispose()


def _yaml_problem(exc: yaml.MarkedYAMLError, name: str, text: str) -> ConfigError:
    mark = exc.problem_mark or exc.context_mark
    if exc.problem == "found undefined alias" and mark:  # libyaml leaves out which one
        alias = re.match(r"\*[^\s,\[\]{}]*", text.splitlines()[mark.line][mark.column:])
        exc.problem += f" '{alias.group()[1:]}'" if alias else ""
    where = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
    context = exc.context
    if context and exc.context_mark and mark and exc.context_mark.line != mark.line:
        context += f" (started at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
    detail = " ".join(str(p) for p in (context, exc.problem) if p)
    return ConfigError(Problem(where, "", f"invalid YAML: {detail}"))


class _Builder:
    """Nodes -> plain data. Each node is built once (an alias shares the anchor's value) and its size
    counted as if expanded, so the limit is checked before anything is copied or validated."""

    def __init__(self, loader, name: str, locations: dict):
        self.loader, self.name, self.locations = loader, name, locations
        self.cap = limit("EXPKIT_MAX_CONFIG_NODES", MAX_NODES)
        self.built: dict[int, tuple[Any, int]] = {}  # id(node) -> (value, expanded size)
        self.open: set[int] = set()  # mappings and lists being built: an alias to one is a cycle
        self.key_at: dict[int, dict] = {}  # id(mapping node) -> {key: Location}, for merge keys

    def here(self, node) -> Location:
        return Location(self.name, node.start_mark.line + 1, node.start_mark.column + 1)

    def fail(self, node, path, message: str) -> ConfigError:
        return ConfigError(Problem(self.here(node), dotted(path or ()), message))

    def build(self, node, path: PathKey | None, depth: int) -> tuple[Any, int]:
        """(value, expanded size); `path` None: a merge source, whose keys are located through key_at."""
        if id(node) in self.built:
            return self.built[id(node)]
        if isinstance(node, yaml.ScalarNode):
            return self.scalar(node, path), 1
        if id(node) in self.open:
            raise self.fail(node, path, "an alias refers to the anchor that contains it, which would make a "
                            "value that contains itself; a config cannot hold one: remove the alias")
        if depth > MAX_DEPTH:
            raise self.fail(node, (), f"nested more than {MAX_DEPTH} levels deep; a config needs a handful")
        if node.tag not in _PLAIN_TAGS:
            raise self.fail(node, path, f"YAML tag '{node.tag}' is not allowed: expkit reads plain YAML only "
                            "(no !!python tags); write the value as a plain mapping or list")
        self.open.add(id(node))
        value, size = (self.sequence if isinstance(node, yaml.SequenceNode) else self.mapping)(node, path, depth)
        self.open.discard(id(node))
        if size > self.cap:
            raise self.fail(node, path, f"this value expands to {size:,} values (aliases counted at each use), "
                            f"more than the {self.cap:,} a config may hold; if it is meant to be this large, "
                            f"raise the limit: EXPKIT_MAX_CONFIG_NODES={size}")
        self.built[id(node)] = (value, size)
        return value, size

    def scalar(self, node, path):
        if node.tag == _STR:
            return node.value
        try:
            if node.tag in _SCALAR_TAGS:  # PyYAML's construct_object would add ~10 us to each
                return self.loader.yaml_constructors[node.tag](self.loader, node)
            return self.loader.construct_object(node, deep=True)  # raises ConstructorError for unsafe tags
        except (ValueError, TypeError, AttributeError, OverflowError) as exc:  # `!!int abc`, `2001-02-30`
            raise self.fail(node, path, f"cannot read {node.value[:80]!r} as {node.tag.rsplit(':', 1)[-1]}: "
                            f"{exc}") from None

    def sequence(self, node, path, depth):
        out, size = [], 1
        for i, item in enumerate(node.value):
            here = None if path is None else path + (i,)
            if here is not None:
                self.locations[here] = self.here(item)
            value, n = self.build(item, here, depth + 1)
            out.append(value)
            size += n
        return out, size

    def mapping(self, node, path, depth):
        out, merged, size = {}, {}, 1
        key_at = self.key_at.setdefault(id(node), {})
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:  # `<<: *base`: the base's keys, unless this mapping writes them
                size += self.merge(value_node, merged, path, depth)
                continue
            key = self.scalar(key_node, path) if isinstance(key_node, yaml.ScalarNode) else None
            if not isinstance(key, (str, int)):
                got = repr(key) if isinstance(key_node, yaml.ScalarNode) else "a " + key_node.id
                raise self.fail(key_node, path, f"keys must be names, got {got}")
            here = None if path is None else path + (key,)
            if key in out:
                raise self.fail(key_node, here, f"duplicate key '{key}' (first written at line "
                                f"{key_at[key].line}); keep one")
            key_at[key] = self.here(key_node)
            if here is not None:
                self.locations[here] = key_at[key]
            out[key], n = self.build(value_node, here, depth + 1)
            size += n
        for key, (value, where) in merged.items():
            if key not in out and path is not None:
                self.locations[path + (key,)] = where
        return {**{k: v for k, (v, _) in merged.items() if k not in out}, **out}, size

    def merge(self, value_node, merged: dict, path, depth) -> int:
        """Keys of `<<: *base` or `<<: [*a, *b]` (the first mapping that has a key wins)."""
        sources = value_node.value if isinstance(value_node, yaml.SequenceNode) else [value_node]
        size = 0
        for source in sources:
            if not isinstance(source, yaml.MappingNode):
                raise self.fail(source, path, "a merge key (<<) takes a mapping or a list of mappings, "
                                "e.g. <<: *base")
            value, n = self.build(source, None, depth + 1)
            size += n
            for key, item in value.items():
                merged.setdefault(key, (item, self.key_at.get(id(source), {}).get(key, self.here(source))))
        return size
