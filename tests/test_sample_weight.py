"""dataset.sample_weight: a CSV column of per-example weights, given to Keras as the third element of
each batch (in memory and streamed); the loss Keras reports is the weighted per-example losses' mean
over the batch, as its docs say."""
from __future__ import annotations

import json

import numpy as np
import pytest

from expkit.config.dataset import DatasetConfig
from expkit.data import load_splits, make_pipelines
from expkit.errors import DataError


@pytest.fixture(scope="module")
def weighted_csv(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "w.csv"
    rng = np.random.default_rng(1)
    rows = [f"{a:.4f},{b:.4f},{i % 7 * 0.5},{'yes' if a + b > 0 else 'no'}" for i, (a, b) in
            enumerate(rng.normal(size=(60, 2)))]
    path.write_text("a,b,weight,label\n" + "\n".join(rows) + "\n")
    return path


def config(path, **fields):
    return DatasetConfig(**{"name": "csv", "path": str(path), "sample_weight": "weight", **fields})


@pytest.mark.parametrize("stream", [False, True])
def test_weights_follow_their_rows_and_are_not_features(weighted_csv, stream):
    splits = load_splits(config(weighted_csv, stream=stream, scale="none"), 2)
    assert splits.preprocessor.feature_names == ["a", "b"] and splits.input_shape == (2,)
    table = np.loadtxt(weighted_csv, delimiter=",", skiprows=1, usecols=(0, 1, 2))
    for dataset in make_pipelines(splits, 8, 2):
        for x, _y, w in dataset:  # Keras' (x, y, sample_weight)
            for features, weight in zip(x.numpy(), w.numpy()):
                row = np.flatnonzero(np.all(np.abs(table[:, :2] - features) < 1e-4, axis=1))
                assert table[row[0], 2] == pytest.approx(weight)


@pytest.mark.parametrize("stream", [False, True])
def test_weights_weight_each_examples_loss_as_keras_documents(weighted_csv, tmp_path, stream):
    import expkit
    from expkit.model.saving import load_model_file
    run = expkit.train({"experiment": {"name": "w", "seed": 2},
                        "dataset": {"name": "csv", "path": str(weighted_csv), "sample_weight": "weight",
                                    "validation_split": 0.0, "stream": stream},
                        "model": {"layers": [{"type": "Dense", "units": 2, "activation": "softmax"}]},
                        "compile": {"loss": "sparse_categorical_crossentropy",
                                    "optimizer": {"name": "sgd", "learning_rate": 1e-9}},  # the weights barely move
                        "training": {"epochs": 1, "batch_size": 1000, "verbose": 0}}, runs_dir=tmp_path)
    results = json.loads((run.path / "results.json").read_text())
    splits = load_splits(config(weighted_csv, validation_split=0.0), 2, raw_inputs=True)
    model = load_model_file(run.path / "model.keras")
    for split in ("train", "test"):
        x, y, w = (getattr(splits, f"{k}_{split}") for k in "xyw")
        probs = model.predict(x, verbose=0)
        per_example = -np.log(probs[np.arange(len(y)), y])
        # Keras: each example's loss times its weight, summed, over the number of examples in the batch.
        assert results[split]["loss"] == pytest.approx((w * per_example).mean(), rel=1e-4)
        assert results[split]["loss"] != pytest.approx(per_example.mean(), rel=1e-3)


@pytest.mark.parametrize("column, cell, message", [
    ("wieght", None, "dataset.sample_weight: no column named 'wieght' (did you mean 'weight'?)"),
    (9, None, "dataset.sample_weight 9 is out of range"),
    ("label", None, "dataset.sample_weight and the target are the same column 'label'"),
    ("weight", "heavy", "w.csv:4: data row 3, column 'weight' (dataset.sample_weight) holds 'heavy', not a weight"),
    ("weight", "-1", "w.csv:4: data row 3, column 'weight' (dataset.sample_weight) holds '-1', not a weight"),
])
@pytest.mark.parametrize("stream", [False, True])
def test_bad_weight_columns_are_located(tmp_path, column, cell, message, stream):
    path = tmp_path / "w.csv"
    path.write_text(f"a,weight,label\n1,1,no\n2,1,yes\n3,{cell or 1},no\n4,1,yes\n")
    with pytest.raises(DataError) as excinfo:
        load_splits(DatasetConfig(name="csv", path=str(path), sample_weight=column, stream=stream), 0)
    assert message in str(excinfo.value)


def test_sample_weight_is_refused_off_csv_and_with_class_weight(tmp_path):
    from expkit.config import load_config
    from expkit.errors import ConfigError
    with pytest.raises(ValueError, match="dataset.sample_weight names a CSV column or TFRecord feature; 'xor' has none"):
        DatasetConfig(name="xor", sample_weight="w")
    (tmp_path / "c.yaml").write_text("""
dataset: {name: csv, path: w.csv, sample_weight: weight}
model: {layers: [{type: Dense, units: 2}]}
compile: {loss: mse}
training: {class_weight: balanced}
""")
    with pytest.raises(ConfigError, match="not both"):
        load_config(tmp_path / "c.yaml")
