"""A plugin's objects in a model: built from their config spec, and, in a model file, named
`<package>>Class` (Keras' registered_name, the package being the plugin's module): those plugins are
loaded before Keras reads the file, and a missing one is named in the error instead of Keras'
"Could not locate class"."""
from __future__ import annotations

import json
import zipfile
from pathlib import Path

from expkit.config.plugin_specs import PluginSpec
from expkit.config.plugins import load_objects, plugin_by_package, plugin_object
from expkit.errors import ExpkitError

BUILT_IN = ("keras", "expkit")  # packages whose classes need no plugin


def make_plugin_object(spec: PluginSpec):
    """The plugin's class for `spec` (a loss, metric, callback, initializer, regularizer or schedule),
    built with the config's other keys as its arguments."""
    return plugin_object(spec.kind, spec.plugin_name)(**spec.keras_kwargs())


def needed_packages(model_file: Path) -> dict[str, list[str]]:
    """package -> the class names a .keras file registers under it (besides Keras' and expkit's)."""
    try:
        with zipfile.ZipFile(model_file) as archive:
            config = json.loads(archive.read("config.json"))
    except (OSError, KeyError, ValueError, zipfile.BadZipFile):
        return {}  # not a .keras archive we can read: Keras' loader says what is wrong
    found: dict[str, list[str]] = {}

    def walk(node):
        if isinstance(node, dict):
            name = node.get("registered_name")
            if isinstance(name, str) and ">" in name:
                package, cls = name.split(">", 1)
                if package.split(".")[0] not in BUILT_IN:
                    found.setdefault(package, [])
                    if cls not in found[package]:
                        found[package].append(cls)
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)
    walk(config)
    return found


def load_needed_plugins(model_file: Path) -> None:
    for package, classes in needed_packages(Path(model_file)).items():
        plugin = plugin_by_package(package)
        if plugin is None:
            raise ExpkitError(f"{model_file}: the model uses {', '.join(classes)} from plugin '{package}', which is "
                              f"not loaded: install it (pip install <its package>, found by its expkit.plugins entry "
                              f"point) or pass it: expkit --plugin PATH_OR_MODULE ...")
        load_objects(plugin)
