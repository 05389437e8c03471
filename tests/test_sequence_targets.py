"""Sequences as targets from a file: an .npz whose y holds a value (or a one-hot class) per time step,
trained with return_sequences and TimeDistributed; validation and metrics are per step."""
from __future__ import annotations

import json

import numpy as np
import pytest

from expkit.errors import DataError
from tests.helpers import load

pytestmark = pytest.mark.slow

SEQUENCE_MODEL = [{"type": "GRU", "units": 8, "return_sequences": True},
                  {"type": "TimeDistributed", "layer": {"type": "Dense", "units": 3}}]


def sequences(tmp_path, y_of):
    x = np.random.default_rng(0).normal(size=(60, 5, 2)).astype("float32")
    np.savez(tmp_path / "seq.npz", x_train=x, y_train=y_of(x))
    return str(tmp_path / "seq.npz")


@pytest.mark.parametrize("y_of, activation, loss, metric", [
    (lambda x: np.cumsum(x, axis=1)[..., [0, 1, 0]], None, "mse", "mae"),   # a running sum: values per step
    (lambda x: np.eye(3, dtype="float32")[(x[..., 0] > 0).astype(int) + (x[..., 1] > 0)],  # a class per step, one-hot
     "softmax", "categorical_crossentropy", "categorical_accuracy"),
])
def test_a_sequence_target_trains_with_per_step_validation_and_metrics(tmp_path, y_of, activation, loss, metric):
    from expkit.training.run import train
    layers = [SEQUENCE_MODEL[0], {**SEQUENCE_MODEL[1], "layer": {"type": "Dense", "units": 3, "activation": activation}}]
    loaded = load(tmp_path, layers, dataset={"name": "npz", "path": sequences(tmp_path, y_of)},
                  compile={"loss": loss, "metrics": [metric], "optimizer": "adam"},
                  training={"epochs": 1, "batch_size": 16, "device": "cpu"})
    results = json.loads((train(loaded, tmp_path / "runs") / "results.json").read_text())
    assert results["samples"]["val"] > 0
    for split in ("val", "test"):
        assert np.isfinite(results[split]["loss"]) and 0 <= results[split][metric] < (1.01 if "acc" in metric else 50)


def test_integer_labels_per_step_say_how_to_store_a_sequence_of_classes(tmp_path):
    from expkit.data.sources import load_raw
    path = sequences(tmp_path, lambda x: (x[..., 0] > 0).astype("int32"))
    cfg = load(tmp_path, SEQUENCE_MODEL, dataset={"name": "npz", "path": path}).config
    with pytest.raises(DataError, match=r"a class per step of a sequence: store them one-hot as floats, shape "
                                        r"\(60, 5, classes\), and train with categorical_crossentropy"):
        load_raw(cfg.dataset, cfg.experiment.seed)


def test_class_indices_in_an_npz_with_categorical_crossentropy_stop_before_the_run_folder(tmp_path):
    """The config cannot know what an npz holds, so the data decides: indices need labels: one_hot."""
    from expkit.errors import BuildError
    from expkit.training.run import train
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "c.npz", x_train=rng.normal(size=(40, 4)).astype("float32"), y_train=rng.integers(0, 3, 40))
    loaded = load(tmp_path, [{"type": "Dense", "units": 3, "activation": "softmax"}],
                  dataset={"name": "npz", "path": str(tmp_path / "c.npz")}, compile={"loss": "categorical_crossentropy"})
    with pytest.raises(BuildError, match=r"exp.yaml:\d+:\d+: compile.loss: categorical_crossentropy needs one-hot "
                                         r"labels, but '.*c.npz' holds class indices: set dataset.labels: one_hot"):
        train(loaded, tmp_path / "runs")
    assert not any((tmp_path / "runs").glob("*"))
