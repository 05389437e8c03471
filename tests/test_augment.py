"""dataset.augment: Keras' augmentation layers on training batches only, seeded, checked like layers."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from expkit.config.dataset import DatasetConfig
from expkit.data import load_splits, make_pipelines
from expkit.errors import DataError
from tests.conftest import expkit_in_process
from tests.helpers import config_dict, write_config

ROOT = Path(__file__).resolve().parents[1]
FLIP_ROTATE = [{"type": "RandomFlip", "mode": "horizontal"}, {"type": "RandomRotation", "factor": 0.1}]


def mnist(**fields) -> DatasetConfig:
    return DatasetConfig(**{"name": "mnist", "limit": 96, "test_limit": 32, "validation_size": 32, **fields})


def epochs(dataset, n=2) -> list[np.ndarray]:
    return [np.concatenate([x.numpy() for x, _ in dataset]) for _ in range(n)]


def test_training_batches_change_every_epoch_validation_and_test_never():
    splits = load_splits(mnist(augment=FLIP_ROTATE), 0, "Conv2D", raw_inputs=True)
    train, val, test = make_pipelines(splits, 32, 0, shuffle=False)
    first, second = epochs(train)
    assert first.shape == splits.x_train.shape and first.dtype == np.float32
    assert not np.array_equal(first, second)
    assert not np.allclose(first, splits.x_train)  # augmented
    for dataset, raw in ((val, splits.x_val), (test, splits.x_test)):
        a, b = epochs(dataset)
        np.testing.assert_array_equal(a, b)
        np.testing.assert_array_equal(a, raw)  # the raw pixels: not augmented


def test_augmentation_is_seeded():
    def first_epoch(seed):
        splits = load_splits(mnist(augment=FLIP_ROTATE), seed, "Conv2D", raw_inputs=True)
        return epochs(make_pipelines(splits, 32, 0, shuffle=False)[0], 1)[0]
    np.testing.assert_array_equal(first_epoch(3), first_epoch(3))
    assert not np.array_equal(first_epoch(3), first_epoch(4))


def test_streamed_images_are_augmented_in_training_only(tmp_path):
    from tests.test_streaming import write_folder
    folder = write_folder(tmp_path / "images", {"a": 20, "b": 20}, channels=3)
    config = DatasetConfig(name="image_folder", path=str(folder), augment=[{"type": "RandomContrast", "factor": 0.5}])
    splits = load_splits(config, 0, raw_inputs=True)
    train, val, _ = make_pipelines(splits, 8, 0, shuffle=False)
    first, second = epochs(train)
    assert first.shape[1:] == (12, 10, 3) and not np.array_equal(first, second)
    a, b = epochs(val)
    np.testing.assert_array_equal(a, b)


@pytest.mark.parametrize("augment, message", [
    ([{"type": "RandomFlp"}], "unknown type 'RandomFlp' (did you mean 'RandomFlip'?)"),
    ([{"type": "RandomRotation", "factr": 0.1}], "unknown key 'factr' (did you mean 'factor'?)"),
    ([{"type": "RandomFlip", "mode": "horizontl"}], "did you mean 'horizontal'?"),
    ([{"type": "RandomCrop", "height": 20, "width": 20}], "use RandomTranslation"),
])
def test_bad_augment_entries_are_config_errors(tmp_path, augment, message):
    data = config_dict([{"type": "Dense", "units": 10}], dataset={"name": "mnist", "augment": augment})
    result = subprocess.run([sys.executable, "-m", "expkit", "validate", str(write_config(tmp_path, data))],
                            capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert ":5:" in result.stderr or "exp.yaml:" in result.stderr  # file:line of the entry


def test_keras_rejects_a_bad_value_with_the_entry_named():
    with pytest.raises(DataError, match=r"dataset.augment\[1\] \(RandomZoom\): "):
        load_splits(mnist(augment=[FLIP_ROTATE[0], {"type": "RandomZoom", "height_factor": [-1.5, 0.2]}]), 0,
                    "Conv2D", raw_inputs=True)


def test_augment_on_tabular_data_is_refused():
    with pytest.raises(DataError, match="dataset.augment transforms images, but the samples are tabular"):
        load_splits(DatasetConfig(name="xor", augment=[{"type": "RandomFlip"}]), 0, raw_inputs=True)


@pytest.mark.slow
def test_the_saved_model_has_no_augmentation(tmp_path):
    data = config_dict([{"type": "Conv2D", "filters": 2, "kernel_size": 3}, {"type": "Flatten"},
                        {"type": "Dense", "units": 10, "activation": "softmax"}],
                       dataset={"name": "mnist", "limit": 128, "test_limit": 16, "augment": FLIP_ROTATE},
                       compile={"loss": "sparse_categorical_crossentropy", "optimizer": "adam"})
    result = expkit_in_process("train", write_config(tmp_path, data), "--runs-dir", tmp_path / "runs")
    assert result.returncode == 0, result.stderr[-2000:]
    from expkit.model.saving import load_model_file
    model = load_model_file(Path(result.stdout.strip().splitlines()[-1]) / "model.keras")
    names = [layer.name for layer in model.layers]
    assert names[:2] == ["preprocess_rescaling", "preprocess_reshape"] and not any("augment" in n for n in names)
