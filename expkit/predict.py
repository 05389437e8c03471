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
  resized to its image size.
"""
from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expkit.data.files import IMAGE_EXTENSIONS, read_image
from expkit.data.prepare import Preprocessor
from expkit.errors import DataError, ExpkitError, suggest

TABLE_SUFFIXES = (".npy", ".npz", ".csv")


@dataclass
class Predictor:
    """A run's model with the preprocessing it was trained with."""

    run_dir: Path
    model: Any
    pre: Preprocessor
    from_logits: bool = False

    @property
    def name(self) -> str:
        return json.loads((self.run_dir / "run.json").read_text()).get("name", self.run_dir.name)

    def __call__(self, raw: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """Raw samples (N, *raw_shape) -> the model's outputs (N, ...), as probabilities for classifiers."""
        out = np.asarray(self.model.predict(self.pre(raw), batch_size=batch_size, verbose=0))
        if self.from_logits and self.pre.task == "classification":
            if out.shape[-1] == 1:
                return 1.0 / (1.0 + np.exp(-out))
            shifted = np.exp(out - out.max(axis=-1, keepdims=True))
            return shifted / shifted.sum(axis=-1, keepdims=True)
        return out


def load_predictor(run_dir: Path) -> Predictor:
    from expkit.export import load_run_model
    file = run_dir / "preprocessing.json"
    if not file.is_file():
        raise ExpkitError(f"{run_dir}: no preprocessing.json, so the inputs cannot be prepared as in training; "
                          "give the folder of a run completed by this version of expkit (or re-train it)")
    pre = Preprocessor.from_json(json.loads(file.read_text()))
    config = json.loads((run_dir / "config.json").read_text()) if (run_dir / "config.json").is_file() else {}
    loss = config.get("compile", {}).get("loss", {})
    from_logits = bool(loss.get("from_logits")) if isinstance(loss, dict) else False
    return Predictor(run_dir, load_run_model(run_dir), pre, from_logits)


def prepare_batch(x: Any, pre: Preprocessor, where: str) -> np.ndarray:
    """Raw input of any accepted shape -> (N, *raw_shape) float/int array, or a DataError saying what was expected."""
    try:
        x = np.asarray(x, dtype=np.float64)
    except (TypeError, ValueError):
        raise DataError(f"{where}: the values are not all numbers; expected numeric samples of shape "
                        f"{list(pre.raw_shape)}") from None
    raw, size = tuple(pre.raw_shape), int(np.prod(pre.raw_shape))
    if x.ndim >= 1 and x.shape[1:] != raw:
        if x.shape == raw or x.size == size:
            x = x.reshape((1, *raw))  # one sample, as it is or flattened (784 values for 28x28)
        elif x.ndim > 1 and int(np.prod(x.shape[1:])) == size:
            x = x.reshape((len(x), *raw))  # samples flattened, or unflattened for a flattened run
    if x.ndim < 1 or x.shape[1:] != raw:
        shape = list(x.shape[1:]) if x.ndim > 1 else list(x.shape)
        raise DataError(f"{where}: samples of shape {shape} (array {list(x.shape)}), but the run was trained "
                        f"on raw samples of shape {list(raw)} ({size} values each, flattened or not); give an "
                        f"array of shape [N, {', '.join(map(str, raw))}]")
    if len(x) == 0:
        raise DataError(f"{where}: no samples")
    if not np.isfinite(x).all():
        raise DataError(f"{where}: holds NaN or infinite values; every value must be a finite number")
    return x


def read_inputs(paths: list[Path], pre: Preprocessor) -> tuple[np.ndarray, list[str]]:
    """(raw samples, a label per sample: 'file' or 'file[i]')."""
    missing = [p for p in paths if not p.exists()]
    if missing:
        raise DataError(f"{missing[0]}: no such file or folder")
    if len(paths) == 1 and paths[0].is_file() and paths[0].suffix.lower() in TABLE_SUFFIXES:
        path = paths[0]
        x = {".npy": _read_npy, ".npz": _read_npz, ".csv": _read_csv}[path.suffix.lower()](path, pre)
        x = prepare_batch(x, pre, str(path))
        return x, [f"{path.name}[{i}]" for i in range(len(x))]
    images = _image_paths(paths)
    return np.stack([_read_image(p, pre) for p in images]), [p.name for p in images]


def _read_npy(path: Path, pre: Preprocessor) -> np.ndarray:
    try:
        return np.load(path, allow_pickle=False)  # no pickles: an input file must not run code
    except (ValueError, OSError) as error:
        raise DataError(f"{path}: not a readable .npy array ({error})") from None


def _read_npz(path: Path, pre: Preprocessor) -> np.ndarray:
    try:
        with np.load(path, allow_pickle=False) as data:
            keys = list(data.keys())
            if "x" in keys or len(keys) == 1:
                return data["x" if "x" in keys else keys[0]]
    except (ValueError, OSError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    raise DataError(f"{path}: holds the arrays {', '.join(keys) or '(none)'}; expected one named 'x' "
                    "(or a file with a single array)")


def _read_csv(path: Path, pre: Preprocessor) -> np.ndarray:
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = [[cell.strip() for cell in row] for row in csv.reader(f) if any(row)]
    if len(rows) < 2:
        raise DataError(f"{path}: expected a header row and at least one row of values")
    header, body = rows[0], rows[1:]
    columns = list(range(len(header)))
    if pre.feature_names:
        absent = [n for n in pre.feature_names if n not in header]
        if absent:
            hint = suggest(absent[0], header)
            raise DataError(f"{path}: missing the column(s) {', '.join(absent)}{hint}; the run was trained on "
                            f"the columns {', '.join(pre.feature_names)} (others, like the target, are ignored)")
        columns = [header.index(n) for n in pre.feature_names]
    for line, row in enumerate(body, start=2):
        if len(row) != len(header):
            raise DataError(f"{path}:{line}: {len(row)} cells, but the header has {len(header)} columns")
        for i in columns:
            try:
                float(row[i])
            except ValueError:
                raise DataError(f"{path}:{line}: column '{header[i]}' holds '{row[i]}', not a number") from None
    return np.array([[float(row[i]) for i in columns] for row in body])


def _image_paths(paths: list[Path]) -> list[Path]:
    images: list[Path] = []
    for path in paths:
        if path.is_dir():
            images += sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
        elif path.suffix.lower() in IMAGE_EXTENSIONS:
            images.append(path)
        else:
            raise DataError(f"{path}: unknown input format '{path.suffix}'; expected .npy, .npz, .csv, an image "
                            f"({', '.join(IMAGE_EXTENSIONS)}) or a folder of images")
    if not images:
        raise DataError(f"{', '.join(map(str, paths))}: no images ({', '.join(IMAGE_EXTENSIONS)}) found")
    return images


def _read_image(path: Path, pre: Preprocessor) -> np.ndarray:
    raw = tuple(pre.raw_shape)
    if pre.kind != "image" or len(raw) not in (2, 3):
        raise DataError(f"{path}: this run was trained on {pre.kind} samples of shape {list(raw)}, not images; "
                        "give a .npy, .npz or .csv file")
    color = "grayscale" if len(raw) == 2 or raw[2] == 1 else "rgb"
    image = read_image(path, color, raw[:2])
    return image.reshape(raw)


def result_rows(outputs: np.ndarray, labels: list[str], pre: Preprocessor, top: int = 1) -> list[dict]:
    """One dict per sample: the input's label and either the classes with probabilities or the values."""
    if pre.task != "classification":
        return [{"input": label, "prediction": out.tolist() if out.size > 1 else float(out.reshape(-1)[0])}
                for label, out in zip(labels, outputs)]
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
