"""Several named inputs and outputs, text inputs, x -> x targets and token ids: real training runs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from expkit.config import load_config
from expkit.errors import DataError
from tests.helpers import write_config


def ticket_data(path, n=64, seed=0):
    """The functional-API guide's tickets: title + body (token ids) + tags -> priority + department."""
    rng = np.random.default_rng(seed)
    np.savez(path, title_train=rng.integers(1, 100, (n, 6)), body_train=rng.integers(1, 100, (n, 12)),
             tags_train=rng.integers(0, 2, (n, 4)).astype("float32"),
             priority_train=rng.random((n, 1)).astype("float32"), department_train=rng.integers(0, 3, n))
    return path


def ticket_config(tmp_path, **compile):
    layers = [
        {"type": "Embedding", "input_dim": 100, "output_dim": 8, "inputs": "title", "name": "title_emb"},
        {"share": "title_emb", "inputs": "body", "name": "body_emb"},
        {"type": "LSTM", "units": 8, "inputs": "title_emb", "name": "title_lstm"},
        {"type": "LSTM", "units": 4, "inputs": "body_emb", "name": "body_lstm"},
        {"type": "Concatenate", "inputs": ["title_lstm", "body_lstm", "tags"]},
        {"type": "Dense", "units": 1, "name": "priority"},
        {"type": "Dense", "units": 3, "activation": "softmax", "name": "department", "inputs": "layer_4_concatenate"}]
    data = {
        "experiment": {"name": "tickets", "seed": 1},
        "dataset": {"name": "npz", "path": str(ticket_data(tmp_path / "tickets.npz"))},
        "model": {"inputs": [{"name": "title", "shape": [None], "dtype": "int32"},
                             {"name": "body", "shape": [None], "dtype": "int32"}, {"name": "tags"}],
                  "layers": layers, "outputs": ["priority", "department"]},
        "compile": {"loss": {"priority": "mse", "department": "sparse_categorical_crossentropy"},
                    "loss_weights": {"priority": 1.0, "department": 0.2},
                    "metrics": {"department": ["accuracy"]}, **compile},
        "training": {"epochs": 1, "batch_size": 16, "verbose": 0}}
    return write_config(tmp_path, data)


@pytest.mark.slow
def test_the_ticket_model_trains_on_named_arrays_and_reports_each_output(tmp_path):
    from expkit.training.run import train
    run = train(load_config(ticket_config(tmp_path)), tmp_path / "runs")
    results = json.loads((run / "results.json").read_text())
    assert {"priority_loss", "department_loss", "department_accuracy"} <= set(results["test"])
    assert {"priority_loss", "department_accuracy"} <= set(results["val"])
    assert results["samples"] == {"train": 45, "val": 6, "test": 13}  # 64: 20% test, then 10% validation


def test_a_missing_named_array_is_a_data_error(tmp_path):
    from expkit.training.run import prepare
    cfg = ticket_config(tmp_path)
    data = dict(np.load(tmp_path / "tickets.npz"))
    del data["department_train"]
    np.savez(tmp_path / "tickets.npz", **data)
    with pytest.raises(DataError, match="no array department_train"):
        prepare(load_config(cfg))


def test_several_outputs_on_one_target_stop_before_the_run_folder(tmp_path):
    from expkit.training.run import train
    layers = [{"type": "Dense", "units": 2, "inputs": "x", "name": "a"}, {"type": "Dense", "units": 1, "name": "b",
                                                                          "inputs": "x"}]
    path = write_config(tmp_path, {"experiment": {"name": "two"}, "dataset": {"name": "xor", "samples": 40},
                                   "model": {"inputs": [{"name": "x"}], "layers": layers, "outputs": ["a", "b"]},
                                   "compile": {"loss": {"a": "mse", "b": "mse"}}, "training": {"epochs": 1}})
    with pytest.raises(DataError, match="one array per input and output"):
        train(load_config(path), tmp_path / "runs")
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())


@pytest.mark.slow
def test_text_vectorization_is_adapted_on_the_training_split_and_saved(tmp_path):
    from expkit.training.run import train
    from expkit.backend import import_keras
    rng = np.random.default_rng(0)
    words = np.array(["good", "great", "fine", "bad", "awful", "poor"])
    labels = rng.integers(0, 2, 80)
    text = np.array([" ".join(rng.choice(words[:3] if y else words[3:], 5)) for y in labels])
    np.savez(tmp_path / "reviews.npz", text_train=text, y_train=labels)
    path = write_config(tmp_path, {
        "experiment": {"name": "text"}, "dataset": {"name": "npz", "path": "reviews.npz"},
        "model": {"inputs": [{"name": "text", "shape": [], "dtype": "string"}], "layers": [
            {"type": "TextVectorization", "max_tokens": 20, "output_sequence_length": 5, "name": "vectorize"},
            {"type": "Embedding", "input_dim": 20, "output_dim": 4}, {"type": "GlobalAveragePooling1D"},
            {"type": "Dense", "units": 1, "activation": "sigmoid"}]},
        "compile": {"loss": "binary_crossentropy", "metrics": ["accuracy"], "optimizer": {"name": "adam",
                                                                                           "learning_rate": 0.05}},
        "training": {"epochs": 3, "batch_size": 8, "verbose": 0}})
    run = train(load_config(path), tmp_path / "runs")
    keras = import_keras()
    model = keras.models.load_model(run / "model.keras")
    vocabulary = model.get_layer("vectorize").get_vocabulary()
    assert set(words) <= set(vocabulary) and vocabulary[:2] == ["", "[UNK]"]
    import tensorflow as tf
    scores = model.predict(tf.constant(["good great fine", "bad awful poor"]), verbose=0)
    assert scores[0, 0] > scores[1, 0]


def test_target_input_trains_an_autoencoder(tmp_path):
    from expkit.training.run import prepare
    path = write_config(tmp_path, {
        "experiment": {"name": "ae"}, "dataset": {"name": "moons", "samples": 60, "target": "input"},
        "model": {"layers": [{"type": "Dense", "units": 1}, {"type": "Dense", "units": 2}]},
        "compile": {"loss": "mse"}, "training": {"epochs": 1}})
    ready = prepare(load_config(path))
    assert np.array_equal(ready.splits.y_train, ready.splits.x_train) and ready.splits.num_classes is None
    ready.model.fit(ready.splits.x_train, ready.splits.y_train, verbose=0)


def test_integer_tokens_feeding_an_embedding_are_never_scaled(tmp_path):
    from expkit.training.run import prepare
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "tokens.npz", x_train=rng.integers(0, 20000, (50, 7)), y_train=rng.integers(0, 2, 50))
    path = write_config(tmp_path, {
        "experiment": {"name": "tok"}, "dataset": {"name": "npz", "path": "tokens.npz"},
        "model": {"layers": [{"type": "Embedding", "input_dim": 20000, "output_dim": 2}, {"type": "Flatten"},
                             {"type": "Dense", "units": 1, "activation": "sigmoid"}]},
        "compile": {"loss": "binary_crossentropy"}, "training": {"epochs": 1}})
    splits = prepare(load_config(path)).splits
    assert splits.scale == "none" and splits.x_train.max() > 1000
    assert np.array_equal(splits.x_train, np.round(splits.x_train))
