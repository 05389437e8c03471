"""Export a run's trained model: a Keras file, or a TensorFlow SavedModel that TensorFlow Serving serves.

TensorFlow Serving looks for numbered versions under a model's base path, so a SavedModel goes to
`<out>/1/`: `tensorflow_model_server --model_base_path=<out>` serves it as version 1.
"""
from __future__ import annotations

import shutil
from pathlib import Path

from expkit.errors import ExpkitError

FORMATS = ("keras", "savedmodel")


def load_run_model(run_dir: Path):
    """The run's model.keras, loaded in Keras' safe mode (no code from the file is run)."""
    from expkit.tfenv import import_keras
    model_file = run_dir / "model.keras"
    if not model_file.is_file():
        raise ExpkitError(f"{run_dir}: no model.keras (not a completed run?); give the folder of a completed run")
    keras = import_keras()
    try:
        return keras.saving.load_model(model_file, safe_mode=True)
    except Exception as exc:  # a corrupt or foreign file: say so instead of a traceback
        raise ExpkitError(f"{model_file}: cannot load the model: {exc}") from None


def export_run(run_dir: Path, fmt: str, out: Path | None = None, force: bool = False) -> Path:
    """Write the export and return where it went. An existing export is kept unless `force`."""
    if fmt not in FORMATS:
        raise ExpkitError(f"--format {fmt}: expected one of {', '.join(FORMATS)}")
    if out is None:
        out = run_dir / "export" / fmt
        out.parent.mkdir(exist_ok=True)
    if out.exists():
        if not force:
            raise ExpkitError(f"{out} exists: choose another --out, or pass --force to replace it")
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    if not out.parent.is_dir():
        raise ExpkitError(f"--out {out}: the folder {out.parent} does not exist")
    model = load_run_model(run_dir)
    out.mkdir()
    if fmt == "keras":
        shutil.copy2(run_dir / "model.keras", out / "model.keras")
        target = out / "model.keras"
    else:
        target = out / "1"
        model.export(str(target), format="tf_saved_model", verbose=False)
    if (run_dir / "preprocessing.json").is_file():  # clients must prepare inputs as training did
        shutil.copy2(run_dir / "preprocessing.json", out / "preprocessing.json")
    return target
