"""Export a run's trained model: a Keras file, a TensorFlow SavedModel that TensorFlow Serving serves,
a LiteRT (TensorFlow Lite) flatbuffer for phones and microcontrollers, or an ONNX graph.

TensorFlow Serving looks for numbered versions under a model's base path, so a SavedModel goes to
`<out>/1/`: `tensorflow_model_server --model_base_path=<out>` serves it as version 1. LiteRT and ONNX
are Keras' own `model.export(path, format=...)`: `<out>/model.tflite`, `<out>/model.onnx`.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from expkit.errors import ExpkitError
from expkit.runstore import RunFolder
from expkit.runstore.atomic import temp_path

FORMATS = ("keras", "savedmodel", "litert", "onnx")
# The file (or folder) each format writes inside the export folder.
TARGETS = {"keras": "model.keras", "savedmodel": "1", "litert": "model.tflite", "onnx": "model.onnx"}
# Python packages a format needs to be written, with the extra that installs them. LiteRT is written by
# TensorFlow's own converter; its runtime (ai-edge-litert, the `litert` extra) is needed to run it.
NEEDS = {"onnx": (("tf2onnx", "onnx"), "onnx")}


def load_run_model(run_dir: Path):
    """The run's model.keras, loaded in Keras' safe mode (no code from the file is run)."""
    from expkit.model.saving import load_model_file
    return load_model_file(RunFolder(run_dir).require_model())


def export_run(run_dir: Path, fmt: str, out: Path | None = None, force: bool = False) -> Path:
    """Write the export and return where it went. An existing export is kept unless `force`, and even
    then it is replaced only once the new one is complete: the model is loaded first, the export is
    written beside it under a temporary name, then swapped in."""
    if fmt not in FORMATS:
        raise ExpkitError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    _check_packages(fmt)
    folder = RunFolder(run_dir)
    if out is None:
        out = folder.export_dir(fmt)
        out.parent.mkdir(exist_ok=True)
    if out.exists() and not force:
        raise ExpkitError(f"{out} exists: choose another --out, or pass --force to replace it")
    if not out.parent.is_dir():
        raise ExpkitError(f"--out {out}: the folder {out.parent} does not exist")
    model = load_run_model(run_dir)
    staging = temp_path(out)
    staging.mkdir()
    try:
        if fmt == "keras":
            shutil.copy2(folder.model_file, staging / "model.keras")
        else:
            _keras_export(model, staging / TARGETS[fmt], fmt)
        if folder.preprocessing_json.is_file():  # clients must prepare inputs as training did
            shutil.copy2(folder.preprocessing_json, staging / "preprocessing.json")
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out / TARGETS[fmt]


def _call_once(model) -> None:
    import numpy as np
    dummies = [np.zeros([1] + [d or 1 for d in tensor.shape[1:]], dtype=tensor.dtype) for tensor in model.inputs]
    model(dummies[0] if len(dummies) == 1 else dummies)


def _check_packages(fmt: str) -> None:
    import importlib.util
    packages, extra = NEEDS.get(fmt, ((), None))
    missing = [p for p in packages if importlib.util.find_spec(p) is None]
    if missing:
        raise ExpkitError(f"--format {fmt} needs {' and '.join(missing)}, which is not installed: "
                          f"pip install -e '.[{extra}]' (or pip install 'expkit[{extra}]')")


def _keras_export(model, path: Path, fmt: str) -> None:
    import warnings
    keras_format = "tf_saved_model" if fmt == "savedmodel" else fmt
    if fmt == "onnx" and not model._called:  # a loaded model was never called: Keras' ONNX export refuses it
        _call_once(model)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # tf2onnx probes np.object
        try:
            model.export(str(path), format=keras_format, verbose=False)
        except Exception as exc:  # a layer the converter does not support: say which run and format
            raise ExpkitError(f"Keras could not export this model as {fmt} ({type(exc).__name__}: "
                              f"{str(exc).strip().splitlines()[0] if str(exc).strip() else ''}); "
                              "--format keras and savedmodel take every model") from None


def _swap_in(staging: Path, out: Path) -> None:
    """Put the finished export at `out`; the old one is moved aside first and removed only after."""
    old = temp_path(out) if out.exists() else None
    if old is not None:
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
