"""Results that match the model: when EarlyStopping restores its best epoch's weights, results.json's
train/val metrics are that epoch's (read from metrics.csv), as the test metrics and model.keras are,
and it says so; compare --metric best names the same epoch."""
from __future__ import annotations

import csv
import json

import pytest

from expkit.analysis.compare import compare_runs
from tests.conftest import expkit_in_process
from helpers import config_dict, write_config



@pytest.mark.slow
def test_early_stopping_results_are_the_restored_epochs(tmp_path):
    # min_delta 0.5 on val_loss: once the loss is small no later epoch counts as better, so the epoch
    # EarlyStopping restores is not the one with the lowest val_loss.
    data = config_dict([{"type": "Dense", "units": 8, "activation": "tanh"},
                        {"type": "Dense", "units": 1, "activation": "sigmoid"}],
                       dataset={"name": "xor", "samples": 800, "validation_split": 0.2},
                       compile={"loss": "binary_crossentropy", "optimizer": {"name": "adam", "learning_rate": 0.05}},
                       training={"epochs": 8, "verbose": 0, "callbacks": {
                           "early_stopping": {"monitor": "val_loss", "patience": 2, "min_delta": 0.5}}})
    runs = tmp_path / "runs"
    done = expkit_in_process("train", write_config(tmp_path, data), "--runs-dir", runs)
    assert done.returncode == 0, done.stderr
    (run_dir,) = runs.iterdir()
    results = json.loads((run_dir / "results.json").read_text())
    with open(run_dir / "metrics.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    best = results["best_epoch"]
    assert results["epochs_run"] == len(rows) > best == results["weights_epoch"] == results["metrics_epoch"]
    row = rows[best - 1]
    assert results["val"]["loss"] == float(row["val_loss"]) > min(float(r["val_loss"]) for r in rows)
    assert results["train"]["loss"] == float(row["loss"])
    assert "EarlyStopping restored" in results["metrics_note"]
    (compared,) = compare_runs(runs, metric="best").rows
    assert compared["best_epoch"] == best and compared["val.loss"] == results["val"]["loss"]
