"""Export a run's trained model: a Keras file, or a TensorFlow SavedModel that TensorFlow Serving serves.

TensorFlow Serving looks for numbered versions under a model's base path, so a SavedModel goes to
`<out>/1/`: `tensorflow_model_server --model_base_path=<out>` serves it as version 1.
"""
from __future__ import annotations

import os
import shutil
from pathlib import Path

from expkit.errors import ExpkitError
from expkit.runstore import RunFolder
from expkit.runstore.atomic import temp_path

FORMATS = ("keras", "savedmodel")


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
            model.export(str(staging / "1"), format="tf_saved_model", verbose=False)
        if folder.preprocessing_json.is_file():  # clients must prepare inputs as training did
            shutil.copy2(folder.preprocessing_json, staging / "preprocessing.json")
        _swap_in(staging, out)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return out / ("model.keras" if fmt == "keras" else "1")


def _swap_in(staging: Path, out: Path) -> None:
    """Put the finished export at `out`; the old one is moved aside first and removed only after."""
    old = temp_path(out) if out.exists() else None
    if old is not None:
        os.replace(out, old)
    os.replace(staging, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True) if old.is_dir() else old.unlink()
