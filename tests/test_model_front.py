"""Preprocessing inside the model: model.keras, the SavedModel export and `expkit serve` take the same
raw inputs; runs from before (preprocessing outside the model) still predict."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

from expkit.config.dataset import DatasetConfig
from expkit.data import load_splits
from tests.conftest import expkit_in_process
from tests.helpers import config_dict, load

ROOT = Path(__file__).resolve().parents[1]
OLD_RUN = next((ROOT / "tests" / "fixtures" / "runs").iterdir())


@pytest.mark.parametrize("dataset, first, layers", [
    ({"name": "mnist", "limit": 200, "test_limit": 20}, "Conv2D",
     [{"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "Flatten"}, {"type": "Dense", "units": 10}]),
    ({"name": "mnist", "limit": 200, "test_limit": 20, "flatten": True, "scale": "standardize"}, "Dense",
     [{"type": "Dense", "units": 10}]),
    ({"name": "house_prices", "samples": 200}, "Dense", [{"type": "Dense", "units": 4}, {"type": "Dense", "units": 1}]),
])
def test_the_front_on_raw_samples_equals_the_old_preprocessing(tmp_path, dataset, first, layers):
    from expkit.model.builder import build_model
    cfg = load(tmp_path, layers, dataset=dataset).config
    raw = load_splits(cfg.dataset, 0, first, raw_inputs=True)
    prepared = load_splits(cfg.dataset, 0, first)
    assert raw.preprocessor.in_model and not prepared.preprocessor.in_model
    assert raw.input_shape == prepared.input_shape
    shapes = {"input": prepared.input_shape}
    with_front = build_model(cfg, shapes, front=raw.preprocessor, compile=False)
    without = build_model(cfg, shapes, compile=False)
    assert with_front.count_params() == without.count_params()  # constants, not weights
    assert with_front.input_shape[1:] == tuple(raw.preprocessor.raw_shape)
    without.set_weights(with_front.get_weights())
    np.testing.assert_allclose(with_front.predict(raw.x_test, verbose=0),
                               without.predict(prepared.x_test, verbose=0), rtol=1e-4, atol=1e-5)


def test_uint8_images_stay_uint8_until_the_model(tmp_path):
    splits = load_splits(DatasetConfig(name="mnist", limit=100, test_limit=10), 0, "Conv2D", raw_inputs=True)
    assert splits.x_train.dtype == np.uint8 and splits.x_train.shape[1:] == (28, 28)
    assert splits.input_shape == (28, 28, 1)


def test_token_ids_are_still_prepared_outside_the_model(tmp_path):
    text = tmp_path / "t.txt"
    text.write_text("the cat sat on the mat and the dog sat on the log " * 20)
    splits = load_splits(DatasetConfig(name="skipgram", path=str(text)), 0, raw_inputs=True)
    assert not splits.preprocessor.in_model and splits.x_train.dtype == np.int32
    tabular = load_splits(DatasetConfig(name="xor", samples=50), 0, raw_inputs=True)
    assert tabular.preprocessor.to_json()["in_model"] is True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def post(url: str, body: bytes) -> dict:
    request = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


@pytest.mark.slow
def test_savedmodel_takes_the_raw_json_that_expkit_serve_takes(tmp_path):
    data = config_dict([{"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
                        {"type": "Flatten"}, {"type": "Dense", "units": 10, "activation": "softmax"}],
                       experiment={"name": "raw"}, dataset={"name": "mnist", "limit": 300, "test_limit": 20},
                       compile={"loss": "sparse_categorical_crossentropy", "optimizer": "adam"},
                       training={"epochs": 1, "batch_size": 64})
    from tests.helpers import write_config
    # Training and the export run in this process (they are not what is tested); the server is a real one.
    result = expkit_in_process("train", write_config(tmp_path, data), "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr[-2000:]
    run = Path(result.stdout.strip().splitlines()[-1])

    port, log = free_port(), tmp_path / "serve.log"
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "expkit", "serve", str(run), "--port", str(port)],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        result = expkit_in_process("export", run, "--format", "savedmodel")  # while the server starts
        assert result.returncode == 0, result.stderr[-2000:]
        version = Path(result.stdout.strip().splitlines()[-1])
        images = load_splits(DatasetConfig(name="mnist", limit=10, test_limit=5), 0).x_test  # scaled: undo below
        body = json.dumps({"instances": np.rint(images * 255).astype(int).tolist()}).encode()  # raw 0..255 pixels
        deadline, served = time.monotonic() + 120, None
        while served is None:
            try:
                served = post(f"http://127.0.0.1:{port}/v1/models/raw:predict", body)
            except (urllib.error.URLError, ConnectionError):
                assert proc.poll() is None and time.monotonic() < deadline, log.read_text()
                time.sleep(0.3)
    finally:
        proc.terminate()
        proc.wait(timeout=30)

    from expkit.backend import import_keras
    import_keras()
    import tensorflow as tf
    signature = tf.saved_model.load(str(version)).signatures["serving_default"]
    instances = json.loads(body)["instances"]  # what a TF Serving client sends, as TF Serving parses it
    exported = next(iter(signature(tf.constant(instances, dtype=tf.float32)).values())).numpy()
    np.testing.assert_allclose(np.array(served["predictions"]), exported, rtol=1e-4, atol=1e-6)
    assert exported.shape == (5, 10) and np.allclose(exported.sum(axis=1), 1.0, atol=1e-4)


@pytest.mark.slow
def test_a_run_from_before_still_predicts(tmp_path):
    run = tmp_path / OLD_RUN.name
    shutil.copytree(OLD_RUN, run)
    pre = json.loads((run / "preprocessing.json").read_text())
    assert "in_model" not in pre  # preprocessing outside the model
    np.save(tmp_path / "x.npy", np.array([[1.0, 1.0], [1.0, -1.0]]))
    result = expkit_in_process("predict", run, tmp_path / "x.npy")
    assert result.returncode == 0, result.stderr[-2000:]
    assert len(result.stdout.strip().splitlines()) == 2
    from expkit.serving.predict import load_predictor
    predictor = load_predictor(run)
    model_input = predictor.pre(np.array([[1.0, 1.0]]))
    expected = (np.array([[1.0, 1.0]]) - np.array(pre["mean"])) / np.array(pre["std"])
    np.testing.assert_allclose(model_input, expected, rtol=1e-5)
