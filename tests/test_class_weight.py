"""training.class_weight: balanced from the training split's counts, or given per class; the loss Keras
reports is the class-weighted mean of the per-sample losses, as its docs say."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from expkit.data.weights import resolve_class_weight
from expkit.errors import DataError
from tests.conftest import expkit_in_process
from tests.helpers import config_dict, write_config



def test_balanced_weights_are_n_over_classes_times_count():
    y = np.array([0] * 30 + [1] * 10 + [2] * 20)
    weights = resolve_class_weight("balanced", y, "classification", 3, ["a", "b", "c"])
    assert weights == pytest.approx({0: 60 / 90, 1: 60 / 30, 2: 60 / 60})
    assert sum(weights[c] * n for c, n in ((0, 30), (1, 10), (2, 20))) == pytest.approx(60)


def test_one_hot_labels_are_counted_too():
    y = np.eye(2, dtype=np.float32)[[0, 0, 0, 1]]
    assert resolve_class_weight("balanced", y, "classification", 2, None) == pytest.approx({0: 4 / 6, 1: 2.0})


def test_weights_by_name_or_index_others_stay_one():
    weights = resolve_class_weight({"cat": 3, 2: 0.5}, np.array([0, 1, 2]), "classification", 3, ["cat", "dog", "eel"])
    assert weights == {0: 3.0, 1: 1.0, 2: 0.5}


@pytest.mark.parametrize("spec, y, task, classes, message", [
    ({"dgo": 2}, [0, 1], "classification", 2, "no class 'dgo' (did you mean 'dog'?); the classes are cat, dog"),
    ({5: 2}, [0, 1], "classification", 2, "no class '5'"),
    ("balanced", [0, 0], "classification", 2, "class(es) 1 have no training samples"),
    ("balanced", [0.5, 1.5], "regression", None, "this dataset is a regression task"),
])
def test_bad_class_weights(spec, y, task, classes, message):
    with pytest.raises(DataError) as excinfo:
        resolve_class_weight(spec, np.array(y), task, classes, ["cat", "dog"] if classes else None)
    assert message in str(excinfo.value)


def write_imbalanced(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 2))
    label = np.array(["rare"] * 10 + ["common"] * 40)
    (tmp_path / "imbalanced.csv").write_text("a,b,label\n" + "".join(f"{a:.4f},{b:.4f},{c}\n" for (a, b), c in zip(x, label)))


def train(tmp_path: Path, name: str, class_weight=None, code: int = 0):
    training = {"epochs": 1, "batch_size": 1000}
    if class_weight is not None:
        training["class_weight"] = class_weight
    data = config_dict([{"type": "Dense", "units": 2, "activation": "softmax"}], experiment={"name": name, "seed": 3},
                       dataset={"name": "csv", "path": str(tmp_path / "imbalanced.csv"), "validation_split": 0.0},
                       compile={"loss": "sparse_categorical_crossentropy",
                                "optimizer": {"name": "sgd", "learning_rate": 1e-9}},  # the weights barely move
                       training=training)
    result = expkit_in_process("train", write_config(tmp_path, data, f"{name}.yaml"), "--runs-dir", tmp_path / "runs")
    assert result.returncode == code, result.stderr[-2000:]
    return Path(result.stdout.strip().splitlines()[-1]) if code == 0 else result


@pytest.mark.slow
def test_class_weights_weight_each_samples_loss_as_keras_documents(tmp_path):
    write_imbalanced(tmp_path)
    plain, weighted = train(tmp_path, "plain"), train(tmp_path, "weighted", "balanced")
    results = json.loads((weighted / "results.json").read_text())
    assert results["class_weight"] == pytest.approx({"common": 40 / (2 * 32), "rare": 40 / (2 * 8)})  # 40 rows: 32 + 8

    from expkit.config.dataset import DatasetConfig
    from expkit.data import load_splits
    from expkit.model.saving import load_model_file
    splits = load_splits(DatasetConfig(name="csv", path=str(tmp_path / "imbalanced.csv"), validation_split=0.0), 3,
                         raw_inputs=True)
    probs = load_model_file(plain / "model.keras").predict(splits.x_train, verbose=0)
    per_sample = -np.log(probs[np.arange(len(probs)), splits.y_train])
    weights = np.array([results["class_weight"][splits.class_names[c]] for c in splits.y_train])
    plain_loss = json.loads((plain / "results.json").read_text())["train"]["loss"]
    assert plain_loss == pytest.approx(per_sample.mean(), rel=1e-4)
    # Keras: each sample's loss times its class's weight, averaged over the batch's samples.
    assert results["train"]["loss"] == pytest.approx((weights * per_sample).mean(), rel=1e-4)
    assert results["train"]["loss"] != pytest.approx(plain_loss, rel=1e-3)


def test_an_unknown_class_stops_train_before_the_run_folder(tmp_path):
    write_imbalanced(tmp_path)
    result = train(tmp_path, "typo", {"rar": 2.0}, code=2)
    assert "training.class_weight: no class 'rar' (did you mean 'rare'?)" in result.stderr
    runs = tmp_path / "runs"
    assert "Traceback" not in result.stderr and (not runs.exists() or not any(runs.iterdir()))
