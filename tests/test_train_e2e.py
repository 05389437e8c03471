"""`expkit train` end to end, with real TensorFlow training on small data: in a real subprocess where the
process is what is checked (a complete run folder from the command, the exit code 130 on SIGINT); the
other cases run the same CLI in this process, which imports TensorFlow once instead of once per run."""
from __future__ import annotations

import csv
import gzip
import json
import os
import signal
import struct
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from tests.conftest import expkit_in_process
from tests.helpers import config_dict, write_config

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def expkit(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "expkit", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


def write_idx(folder: Path, prefix: str, images: np.ndarray, labels: np.ndarray) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    n, h, w = images.shape
    with gzip.open(folder / f"{prefix}-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, h, w) + images.astype(np.uint8).tobytes())
    with gzip.open(folder / f"{prefix}-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + labels.astype(np.uint8).tobytes())


def run_folder(result) -> Path:
    assert result.returncode == 0, result.stderr[-3000:]
    path = Path(result.stdout.strip().splitlines()[-1])
    assert path.is_dir(), result.stdout
    return path


def scalar_tags(event_dir: Path) -> set[str]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    acc = EventAccumulator(str(event_dir))
    acc.Reload()
    tags = set(acc.Tags()["scalars"])
    for tag in acc.Tags()["tensors"]:
        tags.add(tag)
    return tags


def check_run_folder(run: Path, epochs: int, name: str) -> dict:
    assert run.name.startswith(time.strftime("%Y")) and f"-{name}-" in run.name
    assert len(run.name.rsplit("-", 1)[1]) == 4
    config = yaml.safe_load((run / "config.yaml").read_text())
    assert config["training"]["epochs"] == epochs and config["training"]["batch_size"] > 0  # defaults filled
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "completed" and info["error"] is None
    assert info["id"] == run.name and info["name"] == name and info["device"] == "CPU"
    assert set(info["versions"]) >= {"python", "tensorflow", "keras", "expkit"}
    assert info["duration_seconds"] > 0 and info["end_time"] >= info["start_time"]
    assert "train" in info["command"]
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert [int(r["epoch"]) for r in rows] == list(range(1, epochs + 1))
    assert {"loss", "val_loss", "learning_rate", "epoch_seconds"} <= set(rows[0])
    results = json.loads((run / "results.json").read_text())
    assert set(results) >= {"train", "val", "test", "params", "training_seconds", "samples_per_second"}
    assert results["params"] > 0 and results["samples_per_second"] > 0
    assert float(rows[-1]["loss"]) == pytest.approx(results["train"]["loss"], rel=1e-5)
    assert (run / "model.keras").stat().st_size > 0
    assert list((run / "tb" / "train").glob("events.out.tfevents.*"))
    assert list((run / "tb" / "validation").glob("events.out.tfevents.*"))
    return results


def test_train_xor_writes_a_complete_run_folder(tmp_path):
    data = config_dict([{"type": "Dense", "units": 8, "activation": "tanh"},
                        {"type": "Dense", "units": 1, "activation": "sigmoid"}],
                       experiment={"name": "xor_e2e", "seed": 3},
                       dataset={"name": "xor", "samples": 800, "noise": 0.15},
                       compile={"loss": "binary_crossentropy", "metrics": ["accuracy"],
                                "optimizer": {"name": "adam", "learning_rate": 0.03}},
                       training={"epochs": 12, "batch_size": 32, "steps_per_execution": 8})
    result = expkit("train", write_config(tmp_path, data), "--runs-dir", tmp_path / "runs")
    run = run_folder(result)
    assert run.parent == tmp_path / "runs"
    results = check_run_folder(run, 12, "xor_e2e")
    assert results["test"]["accuracy"] > 0.9, results  # a hidden tanh layer solves XOR
    tags = scalar_tags(run / "tb" / "train")
    assert {"epoch_loss", "epoch_accuracy"} <= tags, tags
    assert {"epoch_loss", "epoch_accuracy"} <= scalar_tags(run / "tb" / "validation")
    import keras
    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    assert model.count_params() == results["params"]
    summary = expkit("summary", run)
    assert summary.returncode == 0, summary.stderr
    assert "layer_0_dense" in summary.stdout and f"parameters: {results['params']}" in summary.stdout


def test_train_small_idx_dataset_with_overrides(tmp_path):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 300)
    images = (rng.random((300, 12, 12)) * 60 + labels[:, None, None] * 60).astype(np.uint8)  # learnable
    write_idx(tmp_path / "idx", "train", images[:240], labels[:240])
    write_idx(tmp_path / "idx", "t10k", images[240:], labels[240:])
    data = config_dict([{"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
                        {"type": "MaxPooling2D"}, {"type": "Flatten"},
                        {"type": "Dense", "units": 3, "activation": "softmax"}],
                       experiment={"name": "idx_e2e"},
                       dataset={"name": "idx", "path": "idx", "validation_split": 0.2},
                       compile={"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
                       training={"epochs": 2, "callbacks": {"checkpoint": {"monitor": "val_loss"}}})
    cfg = write_config(tmp_path, data)
    result = expkit_in_process("train", cfg, "--runs-dir", tmp_path / "runs", "--set", "training.epochs=3",
                               "--name", "renamed")
    run = run_folder(result)
    results = check_run_folder(run, 3, "renamed")
    assert results["samples"] == {"train": 192, "val": 48, "test": 60}
    assert (run / "best.keras").is_file()
    resolved = yaml.safe_load((run / "config.yaml").read_text())
    assert resolved["dataset"]["path"] == str(tmp_path / "idx")  # relative to the config file
    assert resolved["experiment"]["name"] == "renamed"


def test_training_that_diverges_is_recorded_as_failed(tmp_path):
    data = config_dict([{"type": "Dense", "units": 1}], experiment={"name": "nan"},
                       dataset={"name": "house_prices", "samples": 200, "scale": "none"},
                       compile={"loss": "mse", "optimizer": {"name": "sgd", "learning_rate": 1000.0}},
                       training={"epochs": 3})
    result = expkit_in_process("train", write_config(tmp_path, data), "--runs-dir", tmp_path / "runs")
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr and "NaN or infinite" in result.stderr
    (run,) = (tmp_path / "runs").iterdir()
    info = json.loads((run / "run.json").read_text())
    assert info["status"] == "failed" and "NaN or infinite" in info["error"]
    assert (run / "config.yaml").is_file() and not (run / "results.json").exists()


def test_interrupted_training_is_recorded_and_exits_130(tmp_path):
    data = config_dict([{"type": "Dense", "units": 64, "activation": "relu"}, {"type": "Dense", "units": 1}],
                       experiment={"name": "stopme"}, dataset={"name": "linear", "samples": 20000},
                       training={"epochs": 1000, "batch_size": 8, "verbose": 2})
    # A shell that starts a job in the background makes it ignore SIGINT (and Python keeps that):
    # restore the default, so that this test means the same wherever the suite runs.
    proc = subprocess.Popen([sys.executable, "-m", "expkit", "train", str(write_config(tmp_path, data)),
                             "--runs-dir", str(tmp_path / "runs")], cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline and not list((tmp_path / "runs").glob("*/metrics.csv")):
        time.sleep(0.2)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err[-2000:]
    (run,) = (tmp_path / "runs").iterdir()
    assert json.loads((run / "run.json").read_text())["status"] == "interrupted"
    assert "Traceback" not in err


def test_two_runs_of_one_config_get_two_folders(tmp_path):
    data = config_dict([{"type": "Dense", "units": 1}], experiment={"name": "twice"},
                       dataset={"name": "linear", "samples": 100}, training={"epochs": 1})
    cfg = write_config(tmp_path, data)
    first = run_folder(expkit_in_process("train", cfg, "--runs-dir", tmp_path / "runs"))
    second = run_folder(expkit_in_process("train", cfg, "--runs-dir", tmp_path / "runs"))
    assert first != second and (first / "run.json").is_file() and (second / "run.json").is_file()
