"""Read YAML safely and remember where every key was written, so errors can point at it."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from expkit.errors import ConfigError, Location, Problem

PathKey = tuple  # ("model", "layers", 3, "units")
_PLAIN_TAGS = {"tag:yaml.org,2002:map", "tag:yaml.org,2002:seq"}


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


def read_yaml(file: Path) -> Source:
    """Parse one file with PyYAML's safe loader; a `!!python/...` tag or a duplicate key is an error."""
    name = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(Problem(None, "", f"config file not found: {name}")) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(Problem(None, "", f"cannot read config file {name}: {exc}")) from None
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            raise ConfigError(Problem(Location(name, 1, 1), "", "the file is empty: an experiment needs at least "
                                      "the sections experiment, dataset, model and compile"))
        source = Source(None, {(): Location(name)})  # a missing top-level section points at the file
        source.data = _convert(loader, node, (), source.locations, name)
        return source
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = Location(name, mark.line + 1, mark.column + 1) if mark else Location(name)
        context = exc.context
        if context and exc.context_mark and mark and exc.context_mark.line != mark.line:
            context += f" (started at line {exc.context_mark.line + 1}, column {exc.context_mark.column + 1})"
        detail = " ".join(str(p) for p in (context, exc.problem) if p)
        raise ConfigError(Problem(where, "", f"invalid YAML: {detail}")) from None
    except yaml.YAMLError as exc:
        raise ConfigError(Problem(Location(name), "", f"invalid YAML: {exc}")) from None
    finally:
        loader.dispose()


def _convert(loader, node, path: PathKey, locations: dict, name: str):
    def here(n):
        return Location(name, n.start_mark.line + 1, n.start_mark.column + 1)

    if isinstance(node, yaml.ScalarNode):
        return loader.construct_object(node, deep=True)  # raises ConstructorError for unsafe tags
    if node.tag not in _PLAIN_TAGS:
        raise ConfigError(Problem(here(node), dotted(path), f"YAML tag '{node.tag}' is not allowed: expkit reads "
                                  "plain YAML only (no !!python tags); write the value as a plain mapping or list"))
    if isinstance(node, yaml.SequenceNode):
        out = []
        for i, item in enumerate(node.value):
            locations[path + (i,)] = here(item)
            out.append(_convert(loader, item, path + (i,), locations, name))
        return out
    loader.flatten_mapping(node)  # resolves YAML merge keys (<<: *anchor)
    out = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if not isinstance(key, (str, int)):
            raise ConfigError(Problem(here(key_node), dotted(path), f"keys must be names, got {key!r}"))
        if key in out:
            first = locations[path + (key,)]
            raise ConfigError(Problem(here(key_node), dotted(path + (key,)),
                                      f"duplicate key '{key}' (first written at line {first.line}); keep one"))
        locations[path + (key,)] = here(key_node)
        out[key] = _convert(loader, value_node, path + (key,), locations, name)
    return out
