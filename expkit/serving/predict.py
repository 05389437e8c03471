"""Predictions from a completed run: raw inputs -> the run's own preprocessing -> its model.

Inputs are RAW samples, as the dataset holds them before expkit prepared them: MNIST pixels 0..255
(white digit on black, as in MNIST: a scan of dark ink on white paper must be inverted first),
table features in their own units. preprocessing.json, written by training, says how the run
scaled and shaped them; `prepare_batch` applies exactly that. Files:

- .npy: an array of samples (N, *raw_shape), or one sample (raw_shape); a flattened sample of the
  same size is accepted too (784 values for a 28x28 image);
- .npz: the array named `x`, or the only array in the file;
- .csv: a header row, one sample per row; columns are matched by name when the run was trained on
  named features (a CSV dataset, scikit-learn, house_prices) and other columns (the target) are
  ignored; otherwise every column is a feature;
- images (.png .jpg .jpeg .bmp .gif), or a folder of them: converted to the run's grayscale/RGB and
  resized to its image size, pixel values 0..255 as the dataset holds them. Nothing is inverted.

Several input files are read in the order given and predicted together. A model with named inputs
(several inputs, text, token ids), trained on named arrays, reads an .npz of one array per input
name instead: serving/named.py. A run trained on text takes token
ids (as its dataset holds them), not words. Runs whose loss read logits (`from_logits: true`) give
probabilities: their outputs go through a softmax (a sigmoid for one unit).
"""
from __future__ import annotations

import json
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expkit.data.files import IMAGE_EXTENSIONS, check_npy_file, check_npz_file, read_image
from expkit.data.prepare import Preprocessor
from expkit.errors import DataError, ExpkitError, suggest
from expkit.runstore import BadRun, RunFolder

TABLE_SUFFIXES = (".npy", ".npz", ".csv")


@dataclass
class Predictor:
    """A run's model with the preprocessing it was trained with."""

    run_dir: Path
    model: Any
    pre: Preprocessor
    from_logits: bool = False
    _forward: Any = None

    @property
    def name(self) -> str:
        return run_name(self.run_dir)

    @property
    def input_name(self) -> str:
        """The model's input, by the name TF Serving shows for its SavedModel (`expkit export`)."""
        inputs = getattr(self.model, "inputs", None) or []
        return str(getattr(inputs[0], "name", "") or "input") if inputs else "input"

    def __call__(self, raw: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Raw samples (N, *raw_shape) -> the model's outputs (N, ...), as probabilities for classifiers."""
        x = self.pre(raw)
        out = np.concatenate([self.forward(x[i:i + batch_size]) for i in range(0, len(x), batch_size)])
        if self.from_logits and self.pre.task == "classification":
            if out.shape[-1] == 1:
                return 1.0 / (1.0 + np.exp(-out))
            shifted = np.exp(out - out.max(axis=-1, keepdims=True))
            return shifted / shifted.sum(axis=-1, keepdims=True)
        return out


    def forward(self, x: np.ndarray) -> np.ndarray:
        """One batch through the model. Not `model.predict`, which builds a dataset and a progress loop on
        every call (~300 ms): a tf.function traced once per input shape on TensorFlow, a direct call else."""
        if self._forward is None:
            import keras
            call = lambda batch: self.model(batch, training=False)  # noqa: E731
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf
                call = tf.function(call, reduce_retracing=True)
            self._forward = call
        out = self._forward(x)
        return np.asarray(out.numpy() if hasattr(out, "numpy") else out)


def run_name(run_dir: Path) -> str:
    """The experiment's name (run.json, else config.json), else the folder's name."""
    folder = RunFolder(run_dir)
    for file, keys in ((folder.run_json, ("name",)), (folder.config_json, ("experiment", "name"))):
        try:
            value = folder.read_json(file)
            for key in keys:
                value = value[key]
            return str(value)
        except (BadRun, KeyError, TypeError):
            continue
    return run_dir.name


def load_predictor(run_dir: Path):
    """The run's model and preprocessing (a Predictor), or for a model with named inputs trained on named
    arrays a NamedPredictor (serving/named.py); an ExpkitError when the folder is not a completed run."""
    from expkit.serving.export import load_run_model
    from expkit.serving.named import is_named_run, load_named_predictor
    if not run_dir.is_dir():
        raise ExpkitError(f"{run_dir}: no such run folder; give the folder of a completed run (runs/<id>)")
    if is_named_run(run_dir):
        return load_named_predictor(run_dir, load_run_model(run_dir))
    folder = RunFolder(run_dir)
    file = folder.preprocessing_json
    if not file.is_file():
        raise ExpkitError(f"{run_dir}: no preprocessing.json, so the inputs cannot be prepared as in training; "
                          "give the folder of a run completed by this version of expkit (or re-train it)")
    try:
        pre = Preprocessor.from_json(folder.read_preprocessing())
    except (BadRun, ValueError, KeyError, TypeError) as error:
        raise ExpkitError(f"{file}: not a preprocessing file written by expkit ({type(error).__name__}: "
                          f"{error}); re-train the run") from None
    return Predictor(run_dir, load_run_model(run_dir), pre, _from_logits(run_dir))


def _from_logits(run_dir: Path) -> bool:
    """Whether the run's loss read logits, so that its outputs need a softmax (sigmoid) to be probabilities."""
    try:
        loss = RunFolder(run_dir).read_config()["compile"]["loss"]
    except (BadRun, KeyError, TypeError):
        return False
    return bool(loss.get("from_logits")) if isinstance(loss, dict) else False


def prepare_batch(x: Any, pre: Preprocessor, where: str) -> np.ndarray:
    """Raw input of any accepted shape -> (N, *raw_shape) float array, or a DataError saying what was expected.

    Accepted: (N, *raw_shape); one sample (raw_shape); samples flattened ((N, size) or (size,)); and, for
    a run on one feature, a plain list of N values."""
    raw, size = tuple(pre.raw_shape), int(np.prod(pre.raw_shape))
    expected = f"[N, {', '.join(map(str, raw))}]"
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise DataError(f"{where}: not a rectangular array of numbers ({error}); expected numeric samples "
                        f"of shape {list(raw)}, as an array of shape {expected}") from None
    if x.size == 0:
        raise DataError(f"{where}: no samples (an empty array of shape {list(x.shape)}); expected at least one "
                        f"sample of shape {list(raw)}")
    if x.ndim >= 1 and x.shape[1:] != raw:
        if x.shape == raw or x.size == size:
            x = x.reshape((1, *raw))  # one sample, as it is or flattened (784 values for 28x28)
        elif x.ndim > 1 and int(np.prod(x.shape[1:])) == size:
            x = x.reshape((len(x), *raw))  # samples flattened, or unflattened for a flattened run
        elif x.ndim == 1 and size == 1:
            x = x.reshape((len(x), *raw))  # one feature: N values
    if x.ndim < 1 or x.shape[1:] != raw:
        shape = list(x.shape[1:]) if x.ndim > 1 else list(x.shape)
        raise DataError(f"{where}: samples of shape {shape} (array {list(x.shape)}), but the run was trained "
                        f"on raw samples of shape {list(raw)} ({size} values each, flattened or not); give an "
                        f"array of shape {expected}")
    if not np.isfinite(x).all():
        raise DataError(f"{where}: holds NaN or infinite values; every value must be a finite number")
    return x


def read_inputs(paths: list[Path], pre: Preprocessor) -> tuple[np.ndarray, list[str]]:
    """(raw samples of every path in order, a label per sample: 'file[i]' for arrays, the file name for images)."""
    batches, labels = [], []
    for path in paths:
        if not path.exists():
            raise DataError(f"{path}: no such file or folder")
        if path.is_file() and path.suffix.lower() in TABLE_SUFFIXES:
            reader = {".npy": _read_npy, ".npz": _read_npz, ".csv": _read_csv}[path.suffix.lower()]
            x = prepare_batch(reader(path, pre), pre, str(path))
            labels += [f"{path.name}[{i}]" for i in range(len(x))]
        else:
            images = _image_paths(path)
            x = np.stack([_read_image(p, pre) for p in images]).astype(np.float64)
            labels += [p.name for p in images]
        batches.append(x)
    return np.concatenate(batches), labels


def _read_npy(path: Path, pre: Preprocessor) -> np.ndarray:
    check_npy_file(path)  # a 200-byte file may declare 10^12 values: numpy would allocate them first
    try:
        return np.load(path, allow_pickle=False)  # no pickles: an input file must not run code
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{path}: not a readable .npy array ({error})") from None


def _read_npz(path: Path, pre: Preprocessor) -> np.ndarray:
    check_npz_file(path)
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.keys())
            if "x" in keys or len(keys) == 1:
                return data["x" if "x" in keys else keys[0]]
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    raise DataError(f"{path}: holds the arrays {', '.join(keys) or '(none)'}; expected one named 'x' "
                    "(or a file with a single array)")


def _read_csv(path: Path, pre: Preprocessor) -> np.ndarray:
    from expkit.data.csv_table import read_rows
    header, body, lines = read_rows(path)
    columns = list(range(len(header)))
    if pre.feature_names:
        absent = [n for n in pre.feature_names if n not in header]
        if absent:
            hint = suggest(absent[0], header)
            raise DataError(f"{path}: missing the column(s) {', '.join(absent)}{hint}; the run was trained on "
                            f"the columns {', '.join(pre.feature_names)} (others, like the target, are ignored)")
        columns = [header.index(n) for n in pre.feature_names]
    else:  # a run from before feature names were recorded, or of unnamed features
        shown = ", ".join(header[:8]) + (", ..." if len(header) > 8 else "")
        print(f"note: {path}: the run did not record its feature names, so every column is a feature, in the "
              f"file's order ({shown}); it must be training's order", file=sys.stderr)
    for line, row in zip(lines, body):
        for i in columns:
            try:
                float(row[i])
            except ValueError:
                raise DataError(f"{path}:{line}: column '{header[i]}' holds '{row[i]}', not a number") from None
    return np.array([[float(row[i]) for i in columns] for row in body])


def _image_paths(path: Path) -> list[Path]:
    """The image file itself, or the images in a folder (sorted by name, not recursive)."""
    if path.is_dir():
        images = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        if not images:
            raise DataError(f"{path}: no images ({', '.join(IMAGE_EXTENSIONS)}) found in this folder")
        return images
    if path.suffix.lower() not in IMAGE_EXTENSIONS:
        raise DataError(f"{path}: unknown input format '{path.suffix}'; expected .npy, .npz, .csv, an image "
                        f"({', '.join(IMAGE_EXTENSIONS)}) or a folder of images")
    return [path]


def _read_image(path: Path, pre: Preprocessor) -> np.ndarray:
    raw = tuple(pre.raw_shape)
    if pre.kind != "image" or len(raw) not in (2, 3):
        raise DataError(f"{path}: this run was trained on {pre.kind} samples of shape {list(raw)}, not images; "
                        "give a .npy, .npz or .csv file")
    color = "grayscale" if len(raw) == 2 or raw[2] == 1 else "rgb"
    image = read_image(path, color, raw[:2])
    return image.reshape(raw)


def result_rows(outputs: np.ndarray, labels: list[str], pre: Preprocessor, top: int = 1) -> list[dict]:
    """One dict per sample: the input's label and either the classes with probabilities or the values; for
    a class per time step, the best class at each step (and its probability): `top` does not apply."""
    if pre.task != "classification":
        return [{"input": label, "prediction": out.tolist() if out.size > 1 else float(out.reshape(-1)[0])}
                for label, out in zip(labels, outputs)]
    if outputs.ndim == 3:  # a class per time step (sequence tagging): the best class at each step
        names = pre.class_names or [str(i) for i in range(outputs.shape[-1])]
        best = outputs.argmax(axis=-1)
        return [{"input": label, "prediction": [names[i] for i in steps],
                 "probability": [round(float(p), 6) for p in np.take_along_axis(out, steps[:, None], -1)[:, 0]]}
                for label, steps, out in zip(labels, best, outputs)]
    probs = outputs.reshape(len(outputs), -1)
    if probs.shape[1] == 1:  # one sigmoid unit: P(class 1)
        probs = np.concatenate([1.0 - probs, probs], axis=1)
    names = pre.class_names or [str(i) for i in range(probs.shape[1])]
    rows = []
    for label, p in zip(labels, probs):
        best = np.argsort(-p, kind="stable")[:max(1, top)]
        rows.append({"input": label, "class": names[best[0]], "probability": float(p[best[0]]),
                     "top": [{"class": names[i], "probability": float(p[i])} for i in best]})
    return rows
