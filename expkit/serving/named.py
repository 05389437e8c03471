"""Predictions from a run whose model has named inputs (trained on named arrays, `model.inputs`):
several inputs, several outputs, token ids or text.

Its arrays went to the model as stored, except uint8 arrays, divided by 255 under `dataset.scale:
auto` or `unit` (data/multi.py); preprocessing.json (`named_inputs: true`) lists those inputs, and
their values are divided here too, so samples are given as the training file held them (an `.npz`
keyed by input name, or JSON). Runs from before that record have no preprocessing.json: for them, uint8
arrays are divided under scale auto/unit. Each input's shape and dtype come from the model itself.
Outputs are {output name: array}.
"""
from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from expkit.data.files import check_npz_file
from expkit.errors import DataError, suggest
from expkit.runstore import BadRun, RunFolder


@dataclass
class NamedInput:
    name: str
    shape: tuple                # one sample's shape; None for a free axis
    dtype: str                  # float32, int32, string, ...

    def describe(self) -> str:
        return f"'{self.name}' ({self.dtype}, samples of shape {[d if d else 'any' for d in self.shape]})"


@dataclass
class NamedPredictor:
    """A run's model that takes {input name: array} and gives {output name: array}."""

    run_dir: Path
    model: Any
    inputs: list[NamedInput]
    outputs: list[str]
    unit_scaled: tuple[str, ...] | None  # inputs divided by 255 in training; None: uint8 arrays (older runs)
    _forward: Any = None

    @property
    def name(self) -> str:
        from expkit.serving.predict import run_name
        return run_name(self.run_dir)

    @property
    def input_names(self) -> list[str]:
        return [i.name for i in self.inputs]

    def check(self, arrays: dict, where: str, n_given: bool = True) -> dict[str, np.ndarray]:
        """{name: samples} for exactly the model's inputs, each (N, *shape) of its dtype, the same N;
        else a DataError naming the missing or extra inputs, or the one with a wrong shape."""
        names = self.input_names
        missing = [n for n in names if n not in arrays]
        extra = [n for n in arrays if n not in names]
        if missing or extra:
            parts = [f"no array for the input(s) {', '.join(missing)}" if missing else "",
                     f"{', '.join(map(str, extra))} {'is' if len(extra) == 1 else 'are'} not an input of the model"
                     f"{suggest(str(extra[0]), names)}" if extra else ""]
            raise DataError(f"{where}: {'; '.join(p for p in parts if p)}; the model takes "
                            f"{', '.join(i.describe() for i in self.inputs)}: give one array per input, by name")
        out = {i.name: self._one(i, arrays[i.name], f"{where}: input '{i.name}'") for i in self.inputs}
        counts = {n: len(a) for n, a in out.items()}
        if len(set(counts.values())) > 1:
            raise DataError(f"{where}: the inputs hold different numbers of samples "
                            f"({', '.join(f'{n}: {c}' for n, c in counts.items())}); give one row per sample in each")
        return out

    def _one(self, spec: NamedInput, value: Any, where: str) -> np.ndarray:
        text = spec.dtype == "string"
        try:
            array = np.asarray(value, dtype=str if text else None)
        except (TypeError, ValueError) as error:
            raise DataError(f"{where}: not a rectangular array ({error}); expected samples of shape "
                            f"{list(spec.shape)}") from None
        rank = len(spec.shape)
        if array.ndim == rank and rank:
            array = array[None]  # one sample
        fits = array.ndim == rank + 1 and all(d is None or d == a for d, a in zip(spec.shape, array.shape[1:]))
        if not fits or len(array) == 0:
            raise DataError(f"{where}: samples of shape {list(array.shape[1:])} (array {list(array.shape)}), but "
                            f"the model takes samples of shape {[d if d else 'any' for d in spec.shape]}; give an "
                            f"array of shape [N, {', '.join(str(d or 'any') for d in spec.shape)}]")
        if text:
            return array
        if array.dtype.kind not in "biuf":
            raise DataError(f"{where}: holds {array.dtype} values; the model takes numbers ({spec.dtype})")
        if array.dtype.kind == "f" and not np.isfinite(array).all():
            raise DataError(f"{where}: holds NaN or infinite values; every value must be a finite number")
        if spec.dtype.startswith("int"):
            if array.dtype.kind == "f" and not np.array_equal(array, np.round(array)):
                raise DataError(f"{where}: holds fractions, but the model takes whole numbers ({spec.dtype}: token ids)")
            return array.astype(spec.dtype)
        if spec.name in (self.unit_scaled or ()) or (self.unit_scaled is None and array.dtype == np.uint8):
            return np.divide(array, np.float32(255.0), dtype=np.float32)
        return array.astype(np.float32)

    def __call__(self, x: dict[str, np.ndarray], batch_size: int = 256) -> dict[str, np.ndarray]:
        n = len(next(iter(x.values())))
        parts = [self.forward({k: v[i:i + batch_size] for k, v in x.items()}) for i in range(0, n, batch_size)]
        return {name: np.concatenate([p[name] for p in parts]) for name in self.outputs}

    def forward(self, x: dict) -> dict[str, np.ndarray]:
        if self._forward is None:
            import keras
            call = lambda batch: self.model(batch, training=False)  # noqa: E731
            if keras.backend.backend() == "tensorflow":
                import tensorflow as tf
                call = tf.function(call, reduce_retracing=True)
            self._forward = call
        out = self._forward(next(iter(x.values())) if len(x) == 1 else x)  # one input goes in bare, as in training
        out = list(out.values()) if isinstance(out, dict) else out if isinstance(out, (list, tuple)) else [out]
        return {name: np.asarray(o.numpy() if hasattr(o, "numpy") else o) for name, o in zip(self.outputs, out)}

    def read(self, paths: list[Path]) -> tuple[dict[str, np.ndarray], list[str]]:
        """The samples of .npz files (one array per input name), in order, and a label per sample."""
        batches, labels = [], []
        for path in paths:
            if not path.is_file() or path.suffix.lower() != ".npz":
                what = "no such file" if not path.exists() else f"a {path.suffix or 'folder'}, not an .npz file"
                raise DataError(f"{path}: {what}; this run's model has named inputs ({', '.join(self.input_names)}), "
                                "so it reads an .npz file with one array per input name")
            x = self.check(_read_npz(path), str(path))
            batches.append(x)
            labels += [f"{path.name}[{i}]" for i in range(len(next(iter(x.values()))))]
        return {n: np.concatenate([b[n] for b in batches]) for n in self.input_names}, labels


def _read_npz(path: Path) -> dict[str, np.ndarray]:
    check_npz_file(path)
    try:
        with np.load(path, allow_pickle=False) as data:  # no pickles: an input file must not run code
            return {k: data[k] for k in data.files}
    except (ValueError, OSError, EOFError, zipfile.BadZipFile) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None


def is_named_run(run_dir: Path) -> bool:
    """A run trained on named arrays: its preprocessing.json says so, or (older runs) it has none and its
    config names the model's inputs."""
    folder = RunFolder(run_dir)
    try:
        if folder.preprocessing_json.is_file():
            return bool(folder.read_preprocessing().get("named_inputs"))
        return bool(folder.read_config()["model"].get("inputs"))
    except (BadRun, KeyError, TypeError, AttributeError):
        return False


def load_named_predictor(run_dir: Path, model) -> NamedPredictor:
    folder = RunFolder(run_dir)
    try:
        record = folder.read_preprocessing() if folder.preprocessing_json.is_file() else {}
        unit_scaled = tuple(record["unit_scaled"]) if "unit_scaled" in record else None
        if unit_scaled is None and folder.read_config()["dataset"].get("scale", "auto") not in ("auto", "unit"):
            unit_scaled = ()
    except (BadRun, KeyError, TypeError, AttributeError):
        unit_scaled = None
    inputs = [NamedInput(str(t.name).split(":")[0], tuple(t.shape[1:]), str(t.dtype)) for t in model.inputs]
    try:
        written = [i["name"] for i in folder.read_config()["model"].get("inputs") or []]
    except (BadRun, KeyError, TypeError, AttributeError):
        written = []
    if len(inputs) == 1 and len(written) == 1:  # a plain stack is a Sequential, whose input Keras names 'input'
        inputs[0].name = written[0]
    outputs = [str(n) for n in getattr(model, "output_names", None) or []]  # a Sequential has none
    if len(outputs) != len(model.outputs):
        outputs = [model.layers[-1].name] if len(model.outputs) == 1 else [f"output_{k}" for k in range(len(model.outputs))]
    return NamedPredictor(run_dir, model, inputs, outputs, unit_scaled)


def named_rows(outputs: dict[str, np.ndarray], labels: list[str]) -> list[dict]:
    """One row per sample: its label and each output's value (a number, or a list)."""
    def value(a):
        return float(a.reshape(-1)[0]) if a.size == 1 else a.tolist()
    if len(outputs) == 1:
        only = next(iter(outputs.values()))
        return [{"input": label, "prediction": value(only[i])} for i, label in enumerate(labels)]
    return [{"input": label, "prediction": {k: value(v[i]) for k, v in outputs.items()}}
            for i, label in enumerate(labels)]


def named_metadata(predictor: NamedPredictor, name: str, version: str) -> dict:
    """TF Serving's GetModelMetadataResponse for named inputs and outputs."""
    def info(tensor_name: str, shape, dtype: str) -> dict:
        dims = [{"size": str(-1 if d is None else int(d)), "name": ""} for d in shape]
        return {"dtype": "DT_STRING" if dtype == "string" else f"DT_{dtype.upper()}",
                "tensor_shape": {"dim": dims, "unknown_rank": False}, "name": tensor_name}
    inputs = {i.name: info(f"serving_default_{i.name}:0", [None, *i.shape], i.dtype) for i in predictor.inputs}
    outputs = {n: info(f"StatefulPartitionedCall:{k}", [None, *predictor.model.outputs[k].shape[1:]], "float32")
               for k, n in enumerate(predictor.outputs)}
    signature = {"inputs": inputs, "outputs": outputs, "method_name": "tensorflow/serving/predict"}
    return {"model_spec": {"name": name, "signature_name": "", "version": version},
            "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}},
            "expkit": {"inputs": predictor.input_names, "outputs": predictor.outputs,
                       "preprocessing": "each input as the training file held it; the server divides "
                                        f"{', '.join(predictor.unit_scaled or ()) or 'none'} by 255 as training did"}}
