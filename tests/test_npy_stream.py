"""`npy`: a folder of .npy files, memory-mapped; large sets streamed by row number through tf.data,
with the same splits as the in-memory path."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from expkit.config.dataset import DatasetConfig
from expkit.data import load_splits, make_pipelines
from expkit.data.sources import load_raw
from expkit.errors import DataError


@pytest.fixture(scope="module")
def npy_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("npy") / "data"
    folder.mkdir()
    rng = np.random.default_rng(0)
    x = rng.normal(size=(120, 3)).astype(np.float32)
    x[:, 2] = np.arange(120)  # each row tells which it is
    np.save(folder / "x_train.npy", x)
    np.save(folder / "y_train.npy", (x[:, 0] > 0).astype(np.int64))
    return folder


def config(folder, **fields):
    return DatasetConfig(**{"name": "npy", "path": str(folder), **fields})


def rows_of(dataset):
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in dataset))
    return np.concatenate(xs), np.concatenate(ys)


def test_x_is_memory_mapped_not_read(npy_folder):
    raw = load_raw(config(npy_folder, stream=False), 0)
    assert isinstance(raw.x_train, np.memmap) and Path(raw.x_train.filename) == npy_folder / "x_train.npy"
    assert raw.decoding is None and "memory-mapped" in raw.source
    streamed = load_raw(config(npy_folder, stream=True), 0)
    assert streamed.x_train.dtype == np.int64 and len(streamed.x_train) == 120  # row numbers
    assert all(isinstance(a, np.memmap) for a in streamed.decoding.arrays)


@pytest.mark.parametrize("seed", [0, 5])
def test_streamed_rows_give_the_in_memory_splits(npy_folder, seed):
    in_memory = load_splits(config(npy_folder, stream=False, scale="none"), seed)
    streamed = load_splits(config(npy_folder, stream=True, scale="none"), seed)
    assert streamed.input_shape == in_memory.input_shape == (3,)
    for split, dataset in zip(("train", "val", "test"), make_pipelines(streamed, 16, seed)):
        x, y = rows_of(dataset)
        want = getattr(in_memory, f"x_{split}")
        order = np.argsort(x[:, 2])
        np.testing.assert_array_equal(x[order], want[np.argsort(want[:, 2])])
        np.testing.assert_array_equal(y[order], getattr(in_memory, f"y_{split}")[np.argsort(want[:, 2])])


def test_streamed_standardize_statistics_match_in_memory(npy_folder):
    streamed = load_splits(config(npy_folder, stream=True, scale="standardize"), 0)
    in_memory = load_splits(config(npy_folder, stream=False, scale="standardize"), 0)
    np.testing.assert_allclose(streamed.preprocessor.mean, in_memory.preprocessor.mean, rtol=1e-5)
    np.testing.assert_allclose(streamed.preprocessor.std, in_memory.preprocessor.std, rtol=1e-4)


def test_a_truncated_npy_is_named(tmp_path):
    np.save(tmp_path / "x_train.npy", np.zeros((50, 4), np.float32))
    np.save(tmp_path / "y_train.npy", np.zeros(50, np.int64))
    data = (tmp_path / "x_train.npy").read_bytes()
    (tmp_path / "x_train.npy").write_bytes(data[:-100])
    with pytest.raises(DataError, match="x_train.npy: its header declares .* it is truncated"):
        load_raw(config(tmp_path), 0)


def test_train_on_a_streamed_npy_folder(npy_folder, tmp_path, recwarn):
    import expkit
    run = expkit.train({"experiment": {"name": "npy", "seed": 0},
                        "dataset": {"name": "npy", "path": str(npy_folder), "stream": True},
                        "model": {"layers": [{"type": "Dense", "units": 2, "activation": "softmax"}]},
                        "compile": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"]},
                        "training": {"epochs": 1, "batch_size": 32, "verbose": 0}}, runs_dir=tmp_path)
    results = json.loads((run.path / "results.json").read_text())
    assert "memory-mapped, streamed" in results["data_source"]
    assert not [w for w in recwarn if "ran out of data" in str(w.message)]  # the pipeline tells Keras its length
