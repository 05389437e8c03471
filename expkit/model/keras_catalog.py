"""Writes expkit/config/keras_layers.json: every class in keras.layers (and the loss and metric
classes) with its constructor arguments, read from Keras' own signatures and docstrings.

The config layer reads that file to validate any Keras layer without importing TensorFlow; this
module is the only one that looks at Keras to make it. Run by `make docs`:

    python -m expkit.model.keras_catalog            # rewrites the file
    python -m expkit.model.keras_catalog --check    # exit 1 when the file is stale

tests/test_keras_catalog.py fails when the file no longer matches the installed Keras.
"""
from __future__ import annotations

import inspect
import json
import re
import sys
from pathlib import Path

CATALOG_FILE = Path(__file__).resolve().parent.parent / "config" / "keras_layers.json"
# Layers a YAML file cannot describe: they take Python code, other frameworks' modules, a saved
# model, or a cell object; cells only make sense inside RNN.
SKIPPED = {"Layer", "InputLayer", "Lambda", "TFSMLayer", "JaxLayer", "FlaxLayer", "TorchModuleWrapper",
           "Wrapper", "RNN", "StackedRNNCells", "Pipeline"}
SKIPPED_ARGS = {"self", "name", "kwargs", "args", "trainable", "autocast", "input_shape", "input_dim_"}
KIND_BY_SUFFIX = (("_initializer", "initializer"), ("_regularizer", "regularizer"), ("_constraint", "constraint"))


def _kind(name: str, default) -> str:
    for suffix, kind in KIND_BY_SUFFIX:
        if name.endswith(suffix):
            return kind
    if name in ("activation", "recurrent_activation"):
        return "activation"
    if name == "dtype":
        return "dtype"
    if isinstance(default, bool):
        return "bool"
    if isinstance(default, int):
        return "int"
    if isinstance(default, float):
        return "float"
    if isinstance(default, str):
        return "str"
    return "any"


def _json_default(value):
    if isinstance(value, tuple):
        value = list(value)
    try:
        json.dumps(value)
    except TypeError:
        return None
    return value


def docstring_sections(doc: str | None) -> dict[str, dict[str, str]]:
    """{'Args': {'units': 'Positive integer, ...'}, 'Call arguments': {...}} from a Google-style docstring."""
    sections: dict[str, dict[str, str]] = {}
    current, indent, key = None, None, None
    for line in inspect.cleandoc(doc or "").splitlines():
        stripped = line.strip()
        head = re.fullmatch(r"(Args|Arguments|Call arguments|Call args)\s*:", stripped)
        if head:
            current, indent, key = sections.setdefault(head.group(1).replace("Arguments", "Args")
                                                      .replace("Call args", "Call arguments"), {}), None, None
            continue
        if current is None:
            continue
        if not stripped:
            continue
        depth = len(line) - len(line.lstrip())
        if depth == 0:
            current = None
            continue
        match = re.match(r"\s*`?(\w+)`?\s*(\([^)]*\))?\s*:\s*(.*)", line)
        if match and (indent is None or depth == indent):
            indent, key = depth, match.group(1)
            current[key] = match.group(3).strip()
        elif key is not None:
            current[key] = (current[key] + " " + stripped).strip()
    return sections


def _first_sentence(text: str) -> str:
    text = re.sub(r"\s+", " ", text).strip()
    cut = re.search(r"(?<=[.!?])\s+(?=[A-Z`(])", text)
    text = text[:cut.start()] if cut else text
    return text[:300]


def _arguments(cls, docs: dict[str, str]) -> dict[str, dict]:
    return _parameters(list(inspect.signature(cls.__init__).parameters.values())[1:], docs)


def _parameters(params, docs: dict[str, str]) -> dict[str, dict]:
    args = {}
    for param in params:
        if param.kind in (param.VAR_KEYWORD, param.VAR_POSITIONAL) or param.name in SKIPPED_ARGS:
            continue
        required = param.default is inspect.Parameter.empty
        default = None if required else _json_default(param.default)
        entry = {"kind": _kind(param.name, None if required else param.default),
                 "doc": _first_sentence(docs.get(param.name, ""))}
        if required:
            entry["required"] = True
        else:
            entry["default"] = default
        args[param.name] = entry
    return args


def _call(cls, docs: dict[str, str]) -> dict:
    """Which call arguments take tensors (by name) and which take plain values (flags)."""
    params = [p for p in list(inspect.signature(cls.call).parameters.values())[1:]
              if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL) and p.name not in ("training", "mask")]
    tensors = [p.name for p in params if p.default is inspect.Parameter.empty or p.default is None]
    flags = {p.name: _json_default(p.default) for p in params if p.name not in tensors}
    first = tensors[0] if tensors else None
    listed = None
    text = docs.get(first or "", "")
    if first == "inputs" and re.match(r"(a )?list of", text, re.I):
        listed = re.findall(r"- `(\w+)`", text) or None
    return {"tensors": tensors, "list_of": listed, "flags": flags}


def layer_entry(keras, cls, aliases: list[str]) -> dict:
    sections = docstring_sections(cls.__doc__)
    base = keras.src.layers.merging.base_merge.Merge
    rnn = keras.src.layers.rnn.rnn.RNN
    args = _arguments(cls, sections.get("Args", {}))
    call = _call(cls, sections.get("Call arguments", {}))
    if issubclass(cls, base):
        call["list_of"] = call["list_of"] or []
    return {"aliases": aliases, "doc": _first_sentence(inspect.cleandoc(cls.__doc__ or "").split("\n\n")[0]),
            "args": args, "call": call, "merge": issubclass(cls, base),
            "recurrent": issubclass(cls, rnn), "wrapper": "layer" in args and args["layer"].get("required", False)}


def _classes(module, base) -> dict[type, list[str]]:
    found: dict[type, list[str]] = {}
    for name in sorted(dir(module)):
        obj = getattr(module, name)
        if name[:1].isupper() and isinstance(obj, type) and issubclass(obj, base):
            found.setdefault(obj, []).append(name)
    return found


def _canonical(names: list[str]) -> str:
    """Keras' long name is the canonical one (MaxPooling2D, not MaxPool2D; Conv2D, not Convolution2D)."""
    return sorted(names, key=lambda n: ("Convolution" in n, "Pool" in n and "Pooling" not in n, len(n), n))[0]


def _components(module, base) -> dict[str, dict]:
    out = {}
    for cls, names in _classes(module, base).items():
        if cls is base or inspect.isabstract(cls) or "fn" in inspect.signature(cls.__init__).parameters:
            continue  # wrappers of a Python function (MeanMetricWrapper) cannot be written in YAML
        name = _canonical(names)
        out[name] = {"aliases": sorted(set(names) - {name}),
                     "args": _arguments(cls, docstring_sections(cls.__doc__).get("Args", {}))}
    return dict(sorted(out.items()))


def build_catalog() -> dict:
    from expkit.backend import import_keras
    keras = import_keras()
    layers = {}
    for cls, names in _classes(keras.layers, keras.layers.Layer).items():
        name = _canonical(names)
        if name in SKIPPED or name.endswith("Cell"):
            continue
        layers[name] = layer_entry(keras, cls, sorted(set(names) - {name}))
    activations = sorted(n for n in keras.src.activations.ALL_OBJECTS_DICT if n.islower())
    applications = {}
    for name in sorted(dir(keras.applications)):
        fn = getattr(keras.applications, name)
        if name[:1].isupper() and callable(fn):
            params = list(inspect.signature(fn).parameters.values())
            applications[name] = {"args": _parameters(params, docstring_sections(fn.__doc__).get("Args", {}))}
    return {"keras_version": keras.__version__,
            "applications": applications,
            "activations": activations,
            "layers": dict(sorted(layers.items())),
            "losses": _components(keras.losses, keras.losses.Loss),
            "metrics": _components(keras.metrics, keras.metrics.Metric)}


def render(catalog: dict) -> str:
    return json.dumps(catalog, indent=1, sort_keys=False) + "\n"


def main(argv: list[str]) -> int:
    text = render(build_catalog())
    if "--check" in argv:
        stale = not CATALOG_FILE.is_file() or CATALOG_FILE.read_text(encoding="utf-8") != text
        if stale:
            print(f"{CATALOG_FILE} is stale against the installed Keras: run `make docs` "
                  "(python -m expkit.model.keras_catalog)", file=sys.stderr)
        return int(stale)
    CATALOG_FILE.write_text(text, encoding="utf-8")
    print(f"wrote {CATALOG_FILE}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
