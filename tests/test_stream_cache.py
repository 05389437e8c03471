"""The streamed pipelines' cache: blocks of samples, and a small disk-cached split kept in memory for the
run as well (later epochs do not read the file back), a large one not."""
from __future__ import annotations

import numpy as np
import pytest

from expkit.config.dataset import DatasetConfig
from expkit.data import load_splits, make_pipelines


@pytest.fixture(scope="module")
def npy_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cache") / "data"
    folder.mkdir()
    x = np.arange(700 * 2, dtype=np.float32).reshape(700, 2)  # more rows than one cache block
    np.save(folder / "x_train.npy", x)
    np.save(folder / "y_train.npy", np.arange(700) % 2)
    return folder


@pytest.mark.parametrize("limit, rewritten", [(2**30, False), (0, True)])
def test_a_small_disk_cached_split_is_kept_in_memory_too(npy_folder, tmp_path, monkeypatch, limit, rewritten):
    from expkit.data import pipeline
    monkeypatch.setattr(pipeline, "MEMORY_CACHE_LIMIT", limit)
    splits = load_splits(DatasetConfig(name="npy", path=str(npy_folder), stream=True, scale="none"), 0)
    train = make_pipelines(splits, 64, 0, cache="disk", cache_dir=str(tmp_path))[0]
    assert train.cardinality().numpy() == -(-len(splits.x_train) // 64)  # Keras knows the epoch's steps
    first = np.concatenate([x.numpy() for x, _ in train])
    for file in tmp_path.glob("train-*"):
        file.unlink()
    second = np.concatenate([x.numpy() for x, _ in train])
    # Kept in memory, the second epoch does not touch the disk; else the missing cache is written again.
    assert bool(list(tmp_path.glob("train-*.index"))) == rewritten
    assert not np.array_equal(first, second)  # reshuffled each epoch
    np.testing.assert_array_equal(np.sort(first[:, 0]), np.sort(second[:, 0]))
    np.testing.assert_array_equal(np.sort(first[:, 0]), np.sort(splits.decoding.read(splits.x_train)[:, 0]))
