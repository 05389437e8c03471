"""image_folder streamed through tf.data: the same splits as in memory, corrupt files, caches,
statistics from one pass. Folders of small PNGs are written in the test (TensorFlow's encoder)."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from expkit.config.dataset import DatasetConfig
from expkit.data import load_splits, make_pipelines
from expkit.errors import DataError

ROOT = Path(__file__).resolve().parents[1]
COUNTS = {"ant": 30, "bee": 60, "cow": 90}  # imbalanced, so stratification shows


def write_png(path: Path, pixels: np.ndarray) -> None:
    import tensorflow as tf
    path.write_bytes(tf.io.encode_png(pixels).numpy())


def write_folder(root: Path, counts=COUNTS, size=(12, 10), channels=1) -> Path:
    rng = np.random.default_rng(0)
    for c, (name, count) in enumerate(counts.items()):
        (root / name).mkdir(parents=True)
        for i in range(count):
            pixels = rng.integers(0, 70, (*size, channels), dtype=np.uint8) + np.uint8(60 * c)
            write_png(root / name / f"{i:03d}.png", pixels)
    return root


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return write_folder(tmp_path_factory.mktemp("stream") / "images")


def config(folder, **fields):
    return DatasetConfig(**{"name": "image_folder", "path": str(folder), "color_mode": "grayscale", **fields})


def batches(dataset) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = zip(*((x.numpy(), y.numpy()) for x, y in dataset))
    return np.concatenate(xs), np.concatenate(ys)


@pytest.mark.parametrize("seed", [0, 7])
def test_streamed_and_in_memory_sets_have_the_same_splits(folder, seed):
    streamed = load_splits(config(folder), seed, "Conv2D")
    in_memory = load_splits(config(folder, stream=False), seed, "Conv2D")
    assert streamed.decoding is not None and in_memory.decoding is None
    assert streamed.x_train.dtype.kind == "S"  # paths: nothing decoded while splitting
    assert streamed.input_shape == in_memory.input_shape == (12, 10, 1)
    assert streamed.class_names == ["ant", "bee", "cow"]
    for split in ("train", "val", "test"):
        np.testing.assert_array_equal(getattr(streamed, f"y_{split}"), getattr(in_memory, f"y_{split}"))
    # test: 20% of each class (stratified), in both
    assert np.bincount(streamed.y_test).tolist() == [6, 12, 18]
    train, val, test = make_pipelines(streamed, 32, seed)
    for dataset, x, y in ((val, in_memory.x_val, in_memory.y_val), (test, in_memory.x_test, in_memory.y_test)):
        got_x, got_y = batches(dataset)
        np.testing.assert_allclose(got_x, x, atol=1e-6)
        np.testing.assert_array_equal(got_y, y)
    got_x, got_y = batches(train)  # shuffled: the same samples in another order
    assert got_x.shape == in_memory.x_train.shape and sorted(got_y) == sorted(in_memory.y_train)


def test_standardize_statistics_from_one_streamed_pass_match_in_memory(folder):
    streamed = load_splits(config(folder, scale="standardize"), 0)
    in_memory = load_splits(config(folder, scale="standardize", stream=False), 0)
    np.testing.assert_allclose(streamed.preprocessor.mean, in_memory.preprocessor.mean, rtol=1e-5)
    np.testing.assert_allclose(streamed.preprocessor.std, in_memory.preprocessor.std, rtol=1e-4)
    np.testing.assert_allclose(batches(make_pipelines(streamed, 16, 0)[2])[0], in_memory.x_test, atol=1e-4)


def test_images_are_resized_in_the_pipeline(folder):
    splits = load_splits(config(folder, image_size=(6, 8), color_mode="rgb"), 0)
    assert splits.input_shape == (6, 8, 3)
    assert next(iter(make_pipelines(splits, 4, 0)[2]))[0].shape == (4, 6, 8, 3)


def test_disk_cache_is_written_once_and_reused(folder, tmp_path):
    splits = load_splits(config(folder), 0, "Conv2D")
    first = batches(make_pipelines(splits, 16, 0, cache="disk", cache_dir=str(tmp_path))[2])
    index = sorted(tmp_path.glob("test-*.index"))
    assert len(index) == 1  # written by the first complete pass over the test split
    written = index[0].stat().st_mtime_ns
    again = batches(make_pipelines(splits, 16, 0, cache="disk", cache_dir=str(tmp_path))[2])
    np.testing.assert_array_equal(first[0], again[0])
    assert index[0].stat().st_mtime_ns == written  # read back, not rewritten


def test_disk_cache_name_changes_with_the_files(tmp_path):
    from expkit.data.disk_cache import cache_file
    from expkit.data.image_stream import ImageDecoding
    images = write_folder(tmp_path / "images", {"a": 2, "b": 2})
    paths = [str(p).encode() for p in sorted(images.rglob("*.png"))]
    decoding = ImageDecoding("grayscale", (12, 10))
    before = cache_file(str(tmp_path / "c"), "train", paths, decoding)
    write_png(Path(paths[0].decode()), np.zeros((12, 10, 1), np.uint8) + 3)
    assert cache_file(str(tmp_path / "c"), "train", paths, decoding) != before
    assert cache_file(str(tmp_path / "c"), "train", paths, ImageDecoding("rgb", (12, 10))) != before


def test_cache_true_keeps_a_large_streamed_set_out_of_memory(folder, monkeypatch):
    from expkit.data import pipeline
    splits = load_splits(config(folder), 0)
    assert pipeline.cache_mode(True, splits) == "memory"
    monkeypatch.setattr(pipeline, "MEMORY_CACHE_LIMIT", 1000)
    assert pipeline.cache_mode(True, splits) == "none"
    assert pipeline.cache_mode("disk", splits) == "disk" and pipeline.cache_mode(False, splits) == "none"


@pytest.fixture
def corrupt_folder(tmp_path):
    root = write_folder(tmp_path / "images", {"a": 12, "b": 12})
    bad = root / "b" / "005.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n but not really")
    return root, bad


def test_a_corrupt_image_is_named_before_training(corrupt_folder):
    root, bad = corrupt_folder
    with pytest.raises(DataError) as excinfo:
        load_splits(config(root), 0)
    assert str(excinfo.value).startswith(f"{bad}: cannot read this image")
    assert "skip_corrupt: true" in str(excinfo.value)


@pytest.mark.parametrize("stream", [True, False])
def test_skip_corrupt_leaves_the_file_out_and_counts_it(corrupt_folder, stream, capsys):
    root, bad = corrupt_folder
    splits = load_splits(config(root, skip_corrupt=True, stream=stream), 0)
    total = sum(len(x) for x in (splits.x_train, splits.x_val, splits.x_test))
    assert total == 23 and "1 corrupt image(s) skipped" in splits.source
    if stream:
        assert f"skipped 1 corrupt image(s) of 24: {bad}" in capsys.readouterr().out
        assert str(bad).encode() not in set(splits.x_train) | set(splits.x_val) | set(splits.x_test)


def test_cli_corrupt_image_exits_2_and_writes_no_run(corrupt_folder, tmp_path):
    root, bad = corrupt_folder
    file = tmp_path / "c.yaml"
    file.write_text(f"""experiment: {{name: corrupt}}
dataset: {{name: image_folder, path: {root}, color_mode: grayscale}}
model: {{layers: [{{type: Flatten}}, {{type: Dense, units: 2, activation: softmax}}]}}
compile: {{loss: sparse_categorical_crossentropy}}
training: {{epochs: 1}}
""")
    runs = tmp_path / "runs"
    done = subprocess.run([sys.executable, "-m", "expkit", "train", str(file), "--runs-dir", str(runs)],
                          capture_output=True, text=True, cwd=ROOT, timeout=120)
    assert done.returncode == 2, done.stderr
    assert f"{bad}: cannot read this image" in done.stderr and "Traceback" not in done.stderr
    assert not runs.exists() or not any(runs.iterdir())


@pytest.mark.parametrize("key", ["stream", "skip_corrupt"])
def test_image_folder_only_keys_are_refused_elsewhere(key):
    with pytest.raises(ValueError, match=f"dataset.{key} is only read by image_folder, csv"):
        DatasetConfig(name="xor", **{key: True})
