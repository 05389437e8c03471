"""Sequences as targets from a file: an .npz whose y holds a value, a one-hot class or a class index per
time step, trained with return_sequences and TimeDistributed; validation and metrics are per step."""
from __future__ import annotations

import json

import numpy as np
import pytest

from expkit.errors import DataError
from tests.helpers import load

SEQUENCE_MODEL = [{"type": "GRU", "units": 8, "return_sequences": True},
                  {"type": "TimeDistributed", "layer": {"type": "Dense", "units": 3}}]


def sequences(tmp_path, y_of):
    x = np.random.default_rng(0).normal(size=(60, 5, 2)).astype("float32")
    np.savez(tmp_path / "seq.npz", x_train=x, y_train=y_of(x))
    return str(tmp_path / "seq.npz")


@pytest.mark.slow
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


def tags(x):
    """A class per step: 0, 1 or 2 by how many of the step's two features are positive."""
    return ((x[..., 0] > 0).astype("int64") + (x[..., 1] > 0)).astype("int32")


TAGGER = [{"type": "GRU", "units": 8, "return_sequences": True}, {"type": "Dense", "units": 3, "activation": "softmax"}]
SPARSE = {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"], "optimizer": "adam"}


def test_class_indices_per_step_train_a_tagger_and_predict_a_class_per_step(tmp_path):
    """y of shape (N, T), integers: sparse_categorical_crossentropy on a (None, T, classes) softmax; the
    held-out splits are a plain seeded shuffle (no one class per sequence to stratify by)."""
    from expkit.serving.predict import load_predictor, result_rows
    from expkit.training.run import train
    path = sequences(tmp_path, tags)
    loaded = load(tmp_path, TAGGER, dataset={"name": "npz", "path": path, "validation_split": 0.2},
                  compile=SPARSE, training={"epochs": 1, "batch_size": 16, "device": "cpu"})
    run = train(loaded, tmp_path / "runs")
    results = json.loads((run / "results.json").read_text())
    assert results["samples"] == {"train": 38, "val": 10, "test": 12}  # test_split 0.2, then validation 0.2
    for split in ("val", "test"):
        assert np.isfinite(results[split]["loss"]) and 0 <= results[split]["accuracy"] <= 1
    predictor = load_predictor(run)
    x = np.random.default_rng(1).normal(size=(2, 5, 2)).astype("float32")
    rows = result_rows(predictor(x), ["a", "b"], predictor.pre)
    assert [len(r["prediction"]) for r in rows] == [5, 5] and {c for r in rows for c in r["prediction"]} <= {"0", "1", "2"}
    assert all(1 / 3 <= p <= 1 for r in rows for p in r["probability"])


@pytest.mark.parametrize("layers, loss, message", [
    ([{"type": "GRU", "units": 8}, {"type": "Dense", "units": 3, "activation": "softmax"}],
     "sparse_categorical_crossentropy", r"exp.yaml:\d+:\d+: model.layers\[1\] outputs \(None, 3\), but the targets "
     r"hold a class per time step, shape \(N, 5\), so the model must output \(None, 5, 3\).*return_sequences: true"),
    ([{"type": "GRU", "units": 8, "return_sequences": True}, {"type": "Dense", "units": 2}],
     "sparse_categorical_crossentropy", r"outputs \(None, 5, 2\), but .*must output \(None, 5, 3\)"),
    (TAGGER, "binary_crossentropy", r"exp.yaml:\d+:\d+: compile.loss: binary_crossentropy reads one 0/1 value per "
     r"output, but the targets hold one of 3 classes per time step: use sparse_categorical_crossentropy"),
])
def test_a_class_per_step_needs_a_score_per_class_at_every_step(tmp_path, layers, loss, message):
    from expkit.errors import BuildError
    from expkit.training.run import train
    loaded = load(tmp_path, layers, dataset={"name": "npz", "path": sequences(tmp_path, tags)},
                  compile={"loss": loss, "optimizer": "adam"}, training={"device": "cpu"})
    with pytest.raises(BuildError, match=message):
        train(loaded, tmp_path / "runs")
    assert not any((tmp_path / "runs").glob("*"))


def test_one_hot_rows_stored_as_integers_are_read_as_a_class_per_step_and_the_message_says_so(tmp_path):
    from expkit.errors import BuildError
    from expkit.training.run import train
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "h.npz", x_train=rng.normal(size=(40, 4)).astype("float32"),
             y_train=np.eye(3, dtype="int64")[rng.integers(0, 3, 40)])
    loaded = load(tmp_path, [{"type": "Dense", "units": 3, "activation": "softmax"}],
                  dataset={"name": "npz", "path": str(tmp_path / "h.npz")},
                  compile={"loss": "sparse_categorical_crossentropy"}, training={"device": "cpu"})
    with pytest.raises(BuildError, match=r"outputs \(None, 3\), but the targets hold a class per time step, shape "
                                         r"\(N, 3\).*if the labels are one-hot rows instead, store class indices"):
        train(loaded, tmp_path / "runs")


def test_class_weight_with_class_indices_per_step_is_refused_as_keras_would_misread_them(tmp_path):
    from expkit.training.run import train
    loaded = load(tmp_path, TAGGER, dataset={"name": "npz", "path": sequences(tmp_path, tags)}, compile=SPARSE,
                  training={"device": "cpu", "class_weight": "balanced"})
    with pytest.raises(DataError, match=r"training.class_weight: the targets hold a class per time step, shape "
                                        r"\(\d+, 5\), which Keras' class_weight misreads as one-hot rows .* set "
                                        r"dataset.labels: one_hot with categorical_crossentropy"):
        train(loaded, tmp_path / "runs")
    assert not any((tmp_path / "runs").glob("*"))


def test_one_hot_labels_per_step_are_counted_step_by_step_for_balanced_weights():
    from expkit.data.weights import resolve_class_weight
    y = np.eye(2, dtype="float32")[np.array([[0, 0, 0], [0, 1, 0]])]  # (2 sequences, 3 steps, 2 classes)
    assert resolve_class_weight("balanced", y, "classification", 2, None) == pytest.approx({0: 6 / 10, 1: 3.0})


@pytest.mark.parametrize("y, message", [
    (lambda x: tags(x)[..., None].repeat(2, axis=-1), r"integer labels must be class indices of shape \(N,\), or "
     r"\(N, T\) for a class per step of a sequence .*got \(60, 5, 2\)"),
    (lambda x: tags(x).astype(str), r"string labels must be one per sample, shape \(N,\), got \(60, 5\)"),
])
def test_labels_that_are_not_one_class_per_sample_or_per_step_are_refused(tmp_path, y, message):
    from expkit.data.sources import load_raw
    cfg = load(tmp_path, TAGGER, dataset={"name": "npz", "path": sequences(tmp_path, y)}).config
    with pytest.raises(DataError, match=message):
        load_raw(cfg.dataset, cfg.experiment.seed)


def test_the_confusion_matrix_counts_every_step_of_a_class_per_step():
    from expkit.tracking.tensorboard import labels_and_predictions
    scores = np.eye(3, dtype="float32")[np.array([[0, 1, 2], [2, 2, 2]])]  # (2, 3 steps, 3 classes)
    for y in (np.array([[0, 1, 1], [2, 2, 0]]), np.eye(3, dtype="float32")[np.array([[0, 1, 1], [2, 2, 0]])]):
        labels, predicted, classes = labels_and_predictions(y, scores, 3)
        assert classes == 3 and labels.tolist() == [0, 1, 1, 2, 2, 0] and predicted.tolist() == [0, 1, 2, 2, 2, 2]


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
