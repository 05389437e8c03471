"""Plugins: a project's own layers, losses, metrics, initializers, regularizers, schedules, callbacks
and dataset sources, which configs then name like Keras' own.

A plugin is a Python package that declares, in its light top-level module (no TensorFlow import),

    EXPKIT_PLUGIN = {
        "objects": "my_plugin.objects",        # the module that defines and registers them (imports Keras)
        "layers": ["ScaledDense"], "losses": ["focal_mse"], "datasets": ["noisy_sine"], ...
    }

and is made known either by an entry point in the group `expkit.plugins` (installed packages:
`[project.entry-points."expkit.plugins"] my_plugin = "my_plugin"`) or by the user on the command line,
`expkit --plugin path/or.module ...`: never by the YAML, which cannot run code.

This registry only reads the declarations, so `expkit validate` knows every name (did-you-mean
included) without importing TensorFlow. The objects module is imported when a model is built, a
dataset read or a model file loaded (`plugin_object`). It registers its Keras classes with
`keras.saving.register_keras_serializable(package=<the plugin's module name>)`, so a saved
model.keras names the plugin it needs (`registered_name: my_plugin>ScaledDense`) and loads in safe
mode once the plugin is there, and maps each declared name to its object in a dict named after the
kind: LAYERS, LOSSES, METRICS, INITIALIZERS, REGULARIZERS, SCHEDULES, CALLBACKS (Keras classes, built
with the config's other keys as arguments) and DATASETS (functions `fn(dataset_config, seed)`
returning a mapping with x_train, y_train and optionally x_test, y_test, x_val, y_val, task, kind,
class_names: numpy arrays or anything np.asarray takes).
"""
from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from expkit.errors import ExpkitError

GROUP = "expkit.plugins"
KINDS = ("layers", "losses", "metrics", "initializers", "regularizers", "schedules", "callbacks", "datasets")


def singular(kind: str) -> str:
    """'losses' -> 'loss', 'layers' -> 'layer': a kind as one of its things is called in messages."""
    return kind[:-2] if kind.endswith("sses") else kind[:-1]


@dataclass
class Plugin:
    module: str                              # the light module, also the Keras registration package
    objects: str                             # the module defining the objects
    names: dict[str, list[str]] = field(default_factory=dict)
    origin: str = ""                         # "entry point x" or "--plugin path"


_plugins: dict[str, Plugin] = {}
_discovered = False


def add_plugin(spec: str) -> Plugin:
    """`--plugin`: a module name, a .py file, a package folder, or a project folder holding one
    package that declares EXPKIT_PLUGIN."""
    module_name = _importable(spec)
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise ExpkitError(f"--plugin {spec}: cannot import '{module_name}' ({exc}); give a module name, a .py "
                          "file or a package folder") from None
    return _register(module, f"--plugin {spec}")


def _importable(spec: str) -> str:
    path = Path(spec)
    if not path.exists():
        if spec.replace(".", "").replace("_", "").isalnum():
            return spec  # a module name
        raise ExpkitError(f"--plugin {spec}: no such file, folder or module name")
    path = path.resolve()
    if path.is_file() and path.suffix == ".py":
        _on_path(path.parent)
        return path.stem
    if (path / "__init__.py").is_file():
        _on_path(path.parent)
        return path.name
    inner = [p for p in sorted(path.iterdir()) if (p / "__init__.py").is_file()
             and "EXPKIT_PLUGIN" in (p / "__init__.py").read_text(encoding="utf-8", errors="replace")]
    if len(inner) != 1:
        raise ExpkitError(f"--plugin {spec}: expected a .py file, a package folder, or a project folder with one "
                          f"package declaring EXPKIT_PLUGIN; found {len(inner)} such packages")
    _on_path(path)
    return inner[0].name


def _on_path(folder: Path) -> None:
    if str(folder) not in sys.path:
        sys.path.insert(0, str(folder))


def _register(module, origin: str) -> Plugin:
    declared = getattr(module, "EXPKIT_PLUGIN", None)
    if not isinstance(declared, dict) or not isinstance(declared.get("objects"), str):
        raise ExpkitError(f"{origin}: module '{module.__name__}' declares no EXPKIT_PLUGIN = {{'objects': "
                          "'<module>', 'layers': [...], ...}; see examples/expkit_example_plugin")
    unknown = set(declared) - set(KINDS) - {"objects"}
    if unknown:
        raise ExpkitError(f"{origin}: EXPKIT_PLUGIN has unknown key(s) {', '.join(sorted(unknown))}; "
                          f"expected objects and any of {', '.join(KINDS)}")
    plugin = Plugin(module.__name__, declared["objects"],
                    {k: [str(n) for n in declared.get(k, [])] for k in KINDS}, origin)
    for kind, names in plugin.names.items():
        for name in names:
            owner = plugin_for(kind, name, discover=False)
            if owner is not None and owner.module != plugin.module:
                raise ExpkitError(f"{origin}: {singular(kind)} '{name}' is also declared by plugin '{owner.module}' "
                                  f"({owner.origin}); one name, one plugin")
    _plugins[plugin.module] = plugin
    return plugin


def discover() -> None:
    """Read the declarations of installed plugins (entry points, group expkit.plugins), once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    import os
    for spec in [s for s in os.environ.get(PLUGINS_ENV, "").split(os.pathsep) if s]:  # from a parent expkit
        add_plugin(spec)
    from importlib.metadata import entry_points
    for point in entry_points(group=GROUP):
        if point.value.split(":")[0] in _plugins:
            continue
        try:
            module = importlib.import_module(point.value.split(":")[0])
        except Exception as exc:  # a broken plugin must not stop expkit: say which one
            print(f"warning: plugin entry point '{point.name}' ({point.value}) failed to import: {exc}",
                  file=sys.stderr)
            continue
        _register(module, f"entry point {point.name}")


def plugins() -> list[Plugin]:
    discover()
    return list(_plugins.values())


def plugin_names(kind: str) -> list[str]:
    return [name for plugin in plugins() for name in plugin.names.get(kind, [])]


def plugin_for(kind: str, name: Any, discover: bool = True) -> Plugin | None:
    if not isinstance(name, str):
        return None
    for plugin in (plugins() if discover else list(_plugins.values())):
        if name in plugin.names.get(kind, []):
            return plugin
    return None


def load_objects(plugin: Plugin):
    """Import the plugin's objects module (its Keras classes register themselves). Called by the
    builder, the data loader and the model loader, never by validation."""
    try:
        return importlib.import_module(plugin.objects)
    except Exception as exc:
        raise ExpkitError(f"plugin '{plugin.module}' ({plugin.origin}): importing its objects module "
                          f"'{plugin.objects}' failed: {type(exc).__name__}: {exc}") from None


def plugin_object(kind: str, name: str):
    """The object a plugin declared as `name` of `kind` (a Keras class, or a dataset function)."""
    plugin = plugin_for(kind, name)
    if plugin is None:
        raise ExpkitError(f"no plugin declares the {singular(kind)} '{name}'")
    table = getattr(load_objects(plugin), kind.upper(), None)
    if not isinstance(table, dict) or name not in table:
        raise ExpkitError(f"plugin '{plugin.module}' declares the {singular(kind)} '{name}' but its module "
                          f"'{plugin.objects}' has no {kind.upper()}[{name!r}]")
    return table[name]


def plugin_by_package(package: str) -> Plugin | None:
    """The plugin whose Keras registration package (its module name) is `package`."""
    return next((p for p in plugins() if p.module == package), None)



PLUGINS_ENV = "EXPKIT_PLUGINS"  # the --plugin values, passed on to child processes (sweep points)


def load_cli_plugins(specs: list[str]) -> None:
    """`expkit --plugin A --plugin B ...`: load each, and hand them to the processes expkit starts."""
    import os
    for spec in specs:
        add_plugin(spec)
    if specs:
        given = [s for s in os.environ.get(PLUGINS_ENV, "").split(os.pathsep) if s]
        os.environ[PLUGINS_ENV] = os.pathsep.join(dict.fromkeys(given + [str(Path(s).resolve()) if Path(s).exists()
                                                                          else s for s in specs]))
