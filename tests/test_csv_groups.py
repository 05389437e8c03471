"""CSV column groups (dataset.inputs / dataset.targets) feed a model's named inputs and outputs."""
from __future__ import annotations

import json

import numpy as np
import pytest

from expkit.config import load_config
from expkit.errors import DataError
from tests.helpers import write_config


def tickets_csv(path, n=50):
    rng = np.random.default_rng(0)
    rows = [f"{t1:.3f},{t2:.3f},{b1:.3f},{b2:.3f},{b3:.3f},{p:.3f},{['it', 'hr', 'ops'][d]}"
            for (t1, t2, b1, b2, b3, p), d in zip(rng.normal(size=(n, 6)), rng.integers(0, 3, n))]
    path.write_text("t1,t2,b1,b2,b3,priority,department\n" + "\n".join(rows) + "\n")
    return path


def groups_config(tmp_path, **dataset):
    data = {
        "experiment": {"name": "groups", "seed": 1},
        "dataset": {"name": "csv", "path": str(tickets_csv(tmp_path / "t.csv")),
                    "inputs": {"title": ["t1", "t2"], "body": ["b1", "b2", "b3"]},
                    "targets": {"priority": "priority", "department": "department"}, **dataset},
        "model": {"inputs": [{"name": "title"}, {"name": "body"}],
                  "layers": [{"type": "Concatenate", "inputs": ["title", "body"]},
                             {"type": "Dense", "units": 1, "name": "priority"},
                             {"type": "Dense", "units": 3, "activation": "softmax", "name": "department",
                              "inputs": "layer_0_concatenate"}],
                  "outputs": ["priority", "department"]},
        "compile": {"loss": {"priority": "mse", "department": "sparse_categorical_crossentropy"},
                    "metrics": {"department": ["accuracy"]}},
        "training": {"epochs": 1, "batch_size": 16, "verbose": 0}}
    return write_config(tmp_path, data)


def test_column_groups_train_a_two_input_two_output_model(tmp_path):
    from expkit.training.run import prepare, train
    ready = prepare(load_config(groups_config(tmp_path)))
    x, y = ready.splits.x_train, ready.splits.y_train
    assert x.shapes == {"title": (2,), "body": (3,)} and y["department"].dtype == np.int64
    assert sorted(np.unique(y["department"])) == [0, 1, 2]  # hr, it, ops: class indices by the CSV rule
    run = train(load_config(groups_config(tmp_path)), tmp_path / "runs")
    results = json.loads((run / "results.json").read_text())
    assert {"priority_loss", "department_loss", "department_accuracy"} <= set(results["test"])
    assert results["samples"] == {"train": 36, "val": 4, "test": 10}


@pytest.mark.parametrize("dataset, message", [
    ({"inputs": {"tittle": ["t1"], "body": ["b1"]}}, "dataset.inputs: 'tittle' is not one of the model's inputs "
                                                      "(did you mean 'title'?)"),
    ({"inputs": {"title": ["t1"]}}, "dataset.inputs has no column group for the model's input 'body'"),
    ({"inputs": {"title": ["t1", "t9"], "body": ["b1"]}}, "dataset.inputs.title: no column named 't9'"),
    ({"inputs": {"title": ["t1", "priority"], "body": ["b1"]}}, "column 'priority' is in dataset.targets.priority and "
                                                                "in dataset.inputs.title"),
    ({"targets": {"priority": "priority"}}, "dataset.targets has no column group for the model's output 'department'"),
])
def test_bad_column_groups_are_named(tmp_path, dataset, message):
    from expkit.training.run import prepare
    with pytest.raises(DataError) as excinfo:
        prepare(load_config(groups_config(tmp_path, **dataset)))
    assert message in str(excinfo.value)


@pytest.mark.parametrize("fields, message", [
    ({"name": "xor", "inputs": {"a": ["x"]}}, "dataset.inputs groups CSV columns"),
    ({"name": "csv", "path": "t.csv", "targets": {"a": "y"}}, "dataset.targets goes with dataset.inputs"),
    ({"name": "csv", "path": "t.csv", "inputs": {"a": ["x"]}, "stream": True}, "read into memory, without stream"),
])
def test_column_groups_are_refused_where_they_cannot_apply(fields, message):
    from expkit.config.dataset import DatasetConfig
    with pytest.raises(ValueError, match=message):
        DatasetConfig(**fields)
