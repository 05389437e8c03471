"""expkit export: every format gives the run's predictions on RAW inputs, what `expkit serve` and a phone
take (uint8 pixels 0..255), for a run whose preprocessing (standardization per pixel, the flattening)
is the model's own front: the Keras file and SavedModel, LiteRT in its interpreter, ONNX in onnxruntime."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from tests.conftest import expkit_in_process
from tests.helpers import config_dict, write_config

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def expkit(*args):
    return subprocess.run([sys.executable, "-m", "expkit", *map(str, args)], capture_output=True, text=True,
                          timeout=300, cwd=ROOT)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("export")
    data = config_dict([{"type": "Dense", "units": 16, "activation": "relu"},
                        {"type": "Dense", "units": 10, "activation": "softmax"}],
                       experiment={"name": "exp"},
                       dataset={"name": "mnist", "limit": 300, "test_limit": 40, "flatten": True,
                                "scale": "standardize"},
                       compile={"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
                       training={"epochs": 1})
    result = expkit_in_process("train", write_config(tmp, data), "--runs-dir", tmp / "runs")
    assert result.returncode == 0, result.stderr[-2000:]
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="module")
def raw_and_expected(run_dir):
    """The run's raw test images (as `expkit serve` takes them) and the run's model's predictions on them.
    The model must carry its preprocessing, and the inputs must be raw, or the test proves nothing."""
    from expkit.config import load_config
    from expkit.data import load_splits
    from expkit.model.preprocessing import FRONT_PREFIX
    from expkit.serving import load_run_model
    model = load_run_model(run_dir)
    assert [layer.name for layer in model.layers if layer.name.startswith(FRONT_PREFIX)] == [
        f"{FRONT_PREFIX}standardization", f"{FRONT_PREFIX}reshape"]
    cfg = load_config(run_dir / "config.yaml").config
    x = load_splits(cfg.dataset, cfg.experiment.seed, "Dense", raw_inputs=True).x_test
    assert x.dtype == np.uint8 and x.shape[1:] == (28, 28) and x.max() > 200  # pixels, not standardized
    x = x.astype(model.inputs[0].dtype)
    return x, model.predict(x, verbose=0)


def test_keras_and_savedmodel_exports_predict_like_the_run(run_dir, raw_and_expected):
    from expkit.backend import import_keras
    keras = import_keras()
    import tensorflow as tf
    x, expected = raw_and_expected

    result = expkit_in_process("export", run_dir)
    assert result.returncode == 0, result.stderr
    keras_file = Path(result.stdout.strip().splitlines()[-1])
    assert keras_file == run_dir / "export" / "keras" / "model.keras"
    assert (keras_file.parent / "preprocessing.json").is_file()
    np.testing.assert_allclose(keras.saving.load_model(keras_file, safe_mode=True).predict(x, verbose=0), expected,
                               rtol=1e-6)

    result = expkit_in_process("export", run_dir, "--format", "savedmodel")
    assert result.returncode == 0, result.stderr
    version = Path(result.stdout.strip().splitlines()[-1])
    assert version == run_dir / "export" / "savedmodel" / "1"  # TF Serving's versioned layout
    loaded = tf.saved_model.load(str(version))
    serve = loaded.signatures["serving_default"]
    out = serve(tf.constant(x))
    np.testing.assert_allclose(next(iter(out.values())).numpy(), expected, rtol=1e-5, atol=1e-6)


def test_an_existing_export_is_kept_unless_forced(run_dir, tmp_path):
    out = tmp_path / "k"
    assert expkit_in_process("export", run_dir, "--out", out).returncode == 0
    kept = (out / "model.keras").stat().st_mtime_ns
    again = expkit("export", run_dir, "--out", out)  # the real command's exit code
    assert again.returncode == 2 and "exists: choose another --out, or pass --force" in again.stderr
    assert "Traceback" not in again.stderr
    assert (out / "model.keras").stat().st_mtime_ns == kept
    (out / "stale").write_text("from the export before")
    assert expkit_in_process("export", run_dir, "--out", out, "--force").returncode == 0
    assert (out / "model.keras").is_file() and not (out / "stale").exists()  # replaced, not merged


@pytest.mark.parametrize("case,message", [
    ("no-model", "no model.keras (not a completed run?)"),
    ("missing-parent", "does not exist"),
])
def test_export_bad_input(run_dir, tmp_path, case, message):
    if case == "no-model":
        result = expkit("export", tmp_path)
    else:
        result = expkit("export", run_dir, "--out", tmp_path / "nope" / "out")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_litert_export_predicts_like_the_run_in_the_litert_interpreter(run_dir, raw_and_expected, tmp_path):
    interpreter_module = pytest.importorskip("ai_edge_litert.interpreter")
    x, expected = raw_and_expected
    result = expkit_in_process("export", run_dir, "--format", "litert", "--out", tmp_path / "lite")
    assert result.returncode == 0, result.stderr[-2000:]
    model_file = Path(result.stdout.strip().splitlines()[-1])
    assert model_file == tmp_path / "lite" / "model.tflite" and (model_file.parent / "preprocessing.json").is_file()
    interpreter = interpreter_module.Interpreter(model_path=str(model_file))
    given, taken = interpreter.get_input_details()[0], interpreter.get_output_details()[0]
    interpreter.resize_tensor_input(given["index"], x.shape)  # exported with a dynamic batch
    interpreter.allocate_tensors()
    interpreter.set_tensor(given["index"], x)
    interpreter.invoke()
    np.testing.assert_allclose(interpreter.get_tensor(taken["index"]), expected, rtol=1e-5, atol=1e-6)
    assert not [p for p in (tmp_path / "lite").parent.iterdir() if p.name.startswith(".")]  # no staging left


def test_onnx_export_predicts_like_the_run_in_onnxruntime(run_dir, raw_and_expected):
    onnxruntime = pytest.importorskip("onnxruntime")
    x, expected = raw_and_expected
    result = expkit_in_process("export", run_dir, "--format", "onnx")
    assert result.returncode == 0, result.stderr[-2000:]
    model_file = Path(result.stdout.strip().splitlines()[-1])
    assert model_file == run_dir / "export" / "onnx" / "model.onnx"
    session = onnxruntime.InferenceSession(str(model_file), providers=["CPUExecutionProvider"])
    (predicted,) = session.run(None, {session.get_inputs()[0].name: x})
    np.testing.assert_allclose(predicted, expected, rtol=1e-5, atol=1e-6)


def test_onnx_without_its_packages_says_which_extra(run_dir, monkeypatch, capsys):
    import importlib.util
    from expkit.cli import main
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "tf2onnx" else real(name, *a))
    assert main(["export", str(run_dir), "--format", "onnx", "--out", str(run_dir / "nope")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --format onnx needs tf2onnx") and "pip install -e '.[onnx]'" in err
    assert not (run_dir / "nope").exists()
