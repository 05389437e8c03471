"""The data layer: real MNIST / Fashion-MNIST, synthetic and scikit-learn sets, files written
to tmp_path, every bad input with its message, preprocessing and tf.data pipelines.
Never touches the network: Keras sets are tested through their offline paths."""
from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import subprocess
import sys
from pathlib import Path

import json

import numpy as np
import pytest

from expkit.config.dataset import DatasetConfig
from expkit.data import DataSplits, describe_input, load_splits, make_pipelines
from expkit.data import idx, keras_sets, sources
from expkit.data.prepare import holdout
from expkit.data.synthetic import linear_weights, make_synthetic
from expkit.errors import DataError

FASHION = Path("/usr/share/datasets/fashion-mnist")
needs_fashion = pytest.mark.skipif(
    not FASHION.is_dir(), reason=f"{FASHION} missing: apt-get install dataset-fashion-mnist")


def cfg(**fields) -> DatasetConfig:
    return DatasetConfig(**fields)


@pytest.fixture(autouse=True)
def no_network_no_user_cache(monkeypatch, tmp_path):
    """Every test offline, with an empty Keras cache, so nothing depends on this machine's ~/.keras."""
    home = tmp_path / "keras_home"
    home.mkdir()
    monkeypatch.setenv("KERAS_HOME", str(home))
    monkeypatch.setenv("EXPKIT_OFFLINE", "1")
    monkeypatch.setattr(keras_sets, "_keras_own_home", lambda: None)


def write_idx(path: Path, array: np.ndarray, magic: int | None = None, compress: bool = True) -> Path:
    array = np.asarray(array, dtype=np.uint8)
    magic = magic if magic is not None else 0x0800 + array.ndim
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    raw = header + array.tobytes()
    path.write_bytes(gzip.compress(raw) if compress else raw)
    return path


def write_idx_set(folder: Path, n_train=20, n_test=8, size=(6, 5), classes=3) -> Path:
    rng = np.random.default_rng(0)
    folder.mkdir(parents=True, exist_ok=True)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(folder / f"{prefix}-images-idx3-ubyte.gz", rng.integers(0, 256, (n, *size)))
        write_idx(folder / f"{prefix}-labels-idx1-ubyte.gz", np.arange(n) % classes)
    return folder


def write_npz(path: Path, **arrays) -> Path:
    np.savez(path, **arrays)
    return path


def message(excinfo) -> str:
    return str(excinfo.value)


# ---------------------------------------------------------------- MNIST (shipped) and IDX

@pytest.fixture(scope="module")
def mnist_raw():
    return sources.load_mnist()


def test_shipped_mnist_is_complete_and_verified(mnist_raw):
    assert mnist_raw.x_train.shape == (60000, 28, 28) and mnist_raw.x_train.dtype == np.uint8
    assert mnist_raw.x_test.shape == (10000, 28, 28)
    assert mnist_raw.y_train.shape == (60000,) and mnist_raw.y_test.shape == (10000,)
    assert set(np.unique(mnist_raw.y_train)) == set(range(10))
    assert mnist_raw.y_train[:5].tolist() == [5, 0, 4, 1, 9]  # the official order
    assert "md5 verified" in mnist_raw.source


def test_mnist_splits_default_validation_and_unit_scale():
    splits = load_splits(cfg(name="mnist"), seed=0)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (54000, 6000, 10000)
    assert splits.x_train.dtype == np.float32 and splits.scale == "unit"
    assert 0.0 == splits.x_train.min() and splits.x_train.max() == 1.0
    assert splits.y_train.dtype == np.int64 and splits.num_classes == 10
    assert splits.class_names == [str(d) for d in range(10)]


def test_mnist_md5_mismatch_names_file_and_both_md5s(tmp_path):
    folder = tmp_path / "mnist"
    shutil.copytree(Path(sources.__file__).parent / "mnist", folder)
    damaged = folder / "t10k-labels-idx1-ubyte.gz"
    raw = bytearray(damaged.read_bytes())
    raw[-9] ^= 0xFF
    damaged.write_bytes(bytes(raw))
    with pytest.raises(DataError) as excinfo:
        sources.load_mnist(folder)
    text = message(excinfo)
    assert str(damaged) in text
    assert sources.MNIST_MD5["t10k-labels-idx1-ubyte.gz"] in text
    assert hashlib.md5(bytes(raw)).hexdigest() in text


def test_idx_reader_round_trip(tmp_path):
    images = np.arange(2 * 3 * 4).reshape(2, 3, 4)
    read = idx.read_idx(write_idx(tmp_path / "i.gz", images), idx.IMAGES_MAGIC)
    np.testing.assert_array_equal(read, images)
    plain = idx.read_idx(write_idx(tmp_path / "l", [3, 1], compress=False), idx.LABELS_MAGIC)
    assert plain.tolist() == [3, 1]


def test_idx_bad_magic_names_file(tmp_path):
    path = write_idx(tmp_path / "train-images-idx3-ubyte.gz", np.zeros((2, 3, 3)), magic=2052)
    with pytest.raises(DataError) as excinfo:
        idx.read_idx(path, idx.IMAGES_MAGIC)
    assert str(path) in message(excinfo) and "magic number 2052, expected 2051" in message(excinfo)


def test_idx_labels_file_given_for_images(tmp_path):
    path = write_idx(tmp_path / "x.gz", np.zeros(4))
    with pytest.raises(DataError, match="not an IDX file of images: magic number 2049, expected 2051"):
        idx.read_idx(path, idx.IMAGES_MAGIC)


def test_idx_truncated_data_names_file(tmp_path):
    path = tmp_path / "train-images-idx3-ubyte.gz"
    header = (2051).to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in (10, 28, 28))
    path.write_bytes(gzip.compress(header + bytes(100)))
    with pytest.raises(DataError) as excinfo:
        idx.read_idx(path, idx.IMAGES_MAGIC)
    assert str(path) in message(excinfo) and "truncated" in message(excinfo)
    assert "(10, 28, 28)" in message(excinfo)


def test_idx_truncated_gzip_names_file(tmp_path):
    path = write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", np.ones((50, 28, 28)))
    path.write_bytes(path.read_bytes()[:-40])
    with pytest.raises(DataError) as excinfo:
        idx.read_idx(path, idx.IMAGES_MAGIC)
    assert str(path) in message(excinfo) and "corrupt or truncated gzip" in message(excinfo)


def test_idx_empty_file(tmp_path):
    path = tmp_path / "empty"
    path.write_bytes(b"")
    with pytest.raises(DataError, match="only 0 bytes"):
        idx.read_idx(path)


def test_idx_folder_dataset(tmp_path):
    folder = write_idx_set(tmp_path / "digits")
    splits = load_splits(cfg(name="idx", path=str(folder), validation_split=0.25), seed=1)
    assert splits.input_shape == (6, 5) and splits.num_classes == 3
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (15, 5, 8)
    assert splits.source == str(folder)


def test_idx_folder_missing_files_are_listed(tmp_path):
    folder = write_idx_set(tmp_path / "set")
    (folder / "t10k-labels-idx1-ubyte.gz").unlink()
    (folder / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(DataError) as excinfo:
        load_splits(cfg(name="idx", path=str(folder)), seed=0)
    text = message(excinfo)
    assert "missing IDX file(s) train-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz" in text
    assert "Found: t10k-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz" in text


def test_idx_folder_images_and_labels_disagree(tmp_path):
    folder = write_idx_set(tmp_path / "set")
    write_idx(folder / "train-labels-idx1-ubyte.gz", np.zeros(19))
    with pytest.raises(DataError, match="train-images holds 20 images but train-labels holds 19 labels"):
        load_splits(cfg(name="idx", path=str(folder)), seed=0)


# ---------------------------------------------------------------- Fashion-MNIST

@needs_fashion
def test_fashion_mnist_from_system_folder():
    splits = load_splits(cfg(name="fashion_mnist", validation_split=0.0), seed=0)
    assert splits.x_train.shape == (60000, 28, 28) and splits.x_test.shape == (10000, 28, 28)
    assert splits.x_val is None
    assert splits.source == str(FASHION)
    assert splits.class_names[0] == "T-shirt/top" and splits.class_names[9] == "Ankle boot"
    assert np.bincount(splits.y_test).tolist() == [1000] * 10


def test_fashion_mnist_prefers_the_keras_cache(tmp_path):
    cached = write_idx_set(tmp_path / "keras_home" / "datasets" / "fashion-mnist", size=(28, 28), classes=10)
    splits = load_splits(cfg(name="fashion_mnist"), seed=0)
    assert splits.source == str(cached) and len(splits.x_test) == 8


def test_fashion_mnist_missing_offline_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setattr(keras_sets, "SYSTEM_DATASETS", tmp_path / "nowhere")
    with pytest.raises(DataError) as excinfo:
        load_splits(cfg(name="fashion_mnist"), seed=0)
    text = message(excinfo)
    assert "EXPKIT_OFFLINE=1" in text and "train-images-idx3-ubyte.gz" in text
    assert str(tmp_path / "keras_home" / "datasets" / "fashion-mnist") in text


# ---------------------------------------------------------------- Keras built-ins, offline

def test_cifar10_offline_names_file_and_folder(tmp_path):
    with pytest.raises(DataError) as excinfo:
        load_splits(cfg(name="cifar10"), seed=0)
    text = message(excinfo)
    assert "EXPKIT_OFFLINE=1" in text
    assert "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz" in text
    assert str(tmp_path / "keras_home" / "datasets" / "cifar-10-batches-py-target_archive") in text
    assert "/usr/share/datasets/cifar10/cifar-10-python.tar.gz" in text


def test_keras_download_failure_says_where_to_put_the_file(monkeypatch, tmp_path):
    monkeypatch.delenv("EXPKIT_OFFLINE")

    def no_network(name, config, seed):
        raise Exception("URL fetch failure on https://storage.googleapis.com/...: None -- "
                        "[Errno -2] Name or service not known")

    monkeypatch.setattr(keras_sets, "_call_keras_loader", no_network)
    with pytest.raises(DataError) as excinfo:
        load_splits(cfg(name="reuters", sequence_length=100), seed=0)
    text = message(excinfo)
    assert "Keras could not download it (URL fetch failure" in text
    assert str(tmp_path / "keras_home" / "datasets" / "reuters.npz") in text


def test_keras_set_with_wrong_hash_is_refused_not_downloaded(tmp_path):
    bad = tmp_path / "keras_home" / "datasets" / "boston_housing.npz"
    bad.parent.mkdir()
    bad.write_bytes(b"not the real file")
    with pytest.raises(DataError) as excinfo:
        load_splits(cfg(name="boston_housing"), seed=0)
    text = message(excinfo)
    assert str(bad) in text and hashlib.sha256(b"not the real file").hexdigest() in text
    assert keras_sets.KERAS_FILES["boston_housing"].sha256 in text


def test_keras_set_found_in_system_folder_goes_through_keras_loader(tmp_path, monkeypatch):
    system = tmp_path / "system"
    (system / "boston_housing").mkdir(parents=True)
    found = system / "boston_housing" / "boston_housing.npz"
    found.write_bytes(b"stand-in for the real file")
    spec = keras_sets.KERAS_FILES["boston_housing"]
    monkeypatch.setattr(keras_sets, "SYSTEM_DATASETS", system)
    monkeypatch.setitem(keras_sets.KERAS_FILES, "boston_housing", keras_sets.KerasFile(
        spec.cached_as, spec.url, hashlib.sha256(found.read_bytes()).hexdigest()))
    linked, rng = [], np.random.default_rng(0)
    monkeypatch.setattr(keras_sets, "_link_into_keras_cache", lambda path, _: linked.append(path))
    monkeypatch.setattr(keras_sets, "_call_keras_loader", lambda name, c, seed: (
        (rng.normal(size=(40, 13)), rng.normal(size=40)), (rng.normal(size=(10, 13)), rng.normal(size=10))))
    splits = load_splits(cfg(name="boston_housing", validation_split=0.0), seed=0)
    assert linked == [found] and splits.source == f"keras cache {found}"
    assert splits.task == "regression" and splits.y_train.dtype == np.float32
    assert describe_input(cfg(name="boston_housing")) == ((13,), None, "regression")


# ---------------------------------------------------------------- scikit-learn and synthetic

def test_iris_test_split_is_stratified_and_seeded():
    a = load_splits(cfg(name="iris", validation_split=0.0), seed=4)
    b = load_splits(cfg(name="iris", validation_split=0.0), seed=4)
    c = load_splits(cfg(name="iris", validation_split=0.0), seed=5)
    assert np.bincount(a.y_test).tolist() == [10, 10, 10]
    np.testing.assert_array_equal(a.x_test, b.x_test)
    assert not np.array_equal(a.x_test, c.x_test)
    assert a.class_names == ["setosa", "versicolor", "virginica"]


def test_sklearn_missing_says_pip_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "sklearn", None)
    with pytest.raises(DataError, match=r"pip install scikit-learn"):
        load_splits(cfg(name="wine"), seed=0)


@pytest.mark.parametrize("name", ["xor", "moons", "circles", "spirals", "linear", "house_prices"])
def test_synthetic_sets_are_deterministic_per_seed(name):
    a, b, c = (make_synthetic(name, 200, 0.1, 3, seed) for seed in (7, 7, 8))
    np.testing.assert_array_equal(a.x_train, b.x_train)
    np.testing.assert_array_equal(a.y_train, b.y_train)
    assert not np.array_equal(a.x_train, c.x_train)
    assert a.x_train.shape == (200, 3 if name in ("linear", "house_prices") else 2)
    assert str(7) in a.source


def test_xor_label_is_xor_of_signs():
    data = make_synthetic("xor", 500, 0.05, 3, seed=0)
    x, y = data.x_train, data.y_train
    np.testing.assert_array_equal(y, ((x[:, 0] > 0) != (x[:, 1] > 0)).astype(np.int64))


def test_circles_have_radius_one_and_half():
    data = make_synthetic("circles", 300, 0.0, 3, seed=1)
    radius = np.linalg.norm(data.x_train, axis=1)
    np.testing.assert_allclose(radius, np.where(data.y_train == 0, 1.0, 0.5))


def test_linear_and_house_prices_follow_their_documented_weights():
    weights, bias = linear_weights(seed=3, features=4)
    data = make_synthetic("linear", 100, 0.0, 4, seed=3)
    np.testing.assert_allclose(data.y_train, data.x_train @ weights + bias)
    houses = make_synthetic("house_prices", 100, 0.0, 3, seed=3).x_train
    area, distance, rooms = houses.T
    assert 30 <= area.min() and area.max() <= 250 and 0.1 <= distance.min() and distance.max() <= 10
    assert set(np.unique(rooms)) <= set(range(1, 8))
    price = make_synthetic("house_prices", 100, 0.0, 3, seed=3).y_train
    np.testing.assert_allclose(price, 50 + 3.0 * area - 15.0 * distance + 20.0 * rooms)


def test_synthetic_splits_sizes():
    splits = load_splits(cfg(name="moons", samples=500, test_split=0.2, validation_split=0.1), seed=0)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (360, 40, 100)
    assert splits.source.startswith("synthetic moons (seed 0")


# ---------------------------------------------------------------- npz

def test_npz_with_test_and_validation(tmp_path):
    rng = np.random.default_rng(0)
    path = write_npz(tmp_path / "d.npz", x_train=rng.normal(size=(30, 4)), y_train=np.arange(30) % 2,
                     x_test=rng.normal(size=(5, 4)), y_test=np.arange(5) % 2,
                     x_val=rng.normal(size=(6, 4)), y_val=np.arange(6) % 2)
    splits = load_splits(cfg(name="npz", path=str(path)), seed=0)
    assert (len(splits.x_train), len(splits.x_val), len(splits.x_test)) == (30, 6, 5)
    assert splits.task == "classification" and splits.num_classes == 2 and splits.source == str(path)


def test_npz_without_test_split_holds_out_test_split(tmp_path):
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((50, 3)), y_train=np.linspace(0, 1, 50))
    splits = load_splits(cfg(name="npz", path=str(path), test_split=0.2, validation_split=0.0), seed=0)
    assert (len(splits.x_train), len(splits.x_test)) == (40, 10) and splits.task == "regression"


def test_npz_string_labels_become_sorted_classes(tmp_path):
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((6, 2)),
                     y_train=np.array(["dog", "cat", "eel", "cat", "dog", "eel"]))
    splits = load_splits(cfg(name="npz", path=str(path), validation_split=0.0, test_split=0.5), seed=0)
    assert splits.class_names == ["cat", "dog", "eel"] and splits.num_classes == 3


def test_npz_missing_keys_names_file_and_keys_found(tmp_path):
    path = write_npz(tmp_path / "d.npz", x=np.zeros((3, 2)), y=np.zeros(3))
    with pytest.raises(DataError) as excinfo:
        load_splits(cfg(name="npz", path=str(path)), seed=0)
    assert str(path) in message(excinfo) and "needs arrays named x_train and y_train" in message(excinfo)
    assert "found: x, y" in message(excinfo)


def test_npz_mismatched_lengths(tmp_path):
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((5, 2)), y_train=np.zeros(4))
    with pytest.raises(DataError, match="x_train has 5 samples but y_train has 4"):
        load_splits(cfg(name="npz", path=str(path)), seed=0)


def test_npz_test_pair_incomplete(tmp_path):
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((5, 2)), y_train=np.zeros(5),
                     x_test=np.zeros((2, 2)))
    with pytest.raises(DataError, match="has x_test but not y_test"):
        load_splits(cfg(name="npz", path=str(path)), seed=0)


def test_npz_test_samples_of_another_shape(tmp_path):
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((5, 2)), y_train=np.zeros(5),
                     x_test=np.zeros((2, 3)), y_test=np.zeros(2))
    with pytest.raises(DataError, match=r"x_test samples are \(3,\) but x_train samples are \(2,\)"):
        load_splits(cfg(name="npz", path=str(path)), seed=0)


def test_npz_pickled_object_arrays_are_refused(tmp_path):
    ragged = np.empty(2, dtype=object)
    ragged[:] = [[1, 2], [3]]
    path = write_npz(tmp_path / "d.npz", x_train=ragged, y_train=np.zeros(2))
    with pytest.raises(DataError, match="object \\(pickled\\) (arrays|values)"):
        load_splits(cfg(name="npz", path=str(path)), seed=0)


def test_npz_not_an_npz_file(tmp_path):
    path = tmp_path / "d.npz"
    path.write_text("hello")
    with pytest.raises(DataError, match="not a readable .npz file"):
        load_splits(cfg(name="npz", path=str(path)), seed=0)


def test_npz_validation_size_conflicts_with_own_validation(tmp_path):
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((5, 2)), y_train=np.zeros(5),
                     x_val=np.zeros((2, 2)), y_val=np.zeros(2))
    with pytest.raises(DataError, match="has its own validation split .* remove validation_size"):
        load_splits(cfg(name="npz", path=str(path), validation_size=2), seed=0)


def test_npz_labels_of_mixed_dtypes(tmp_path):
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((3, 2)), y_train=np.array([0, 1, 1]),
                     x_test=np.zeros((2, 2)), y_test=np.array([0.5, 1.5]))
    with pytest.raises(DataError, match=r"the label arrays mix dtypes \(int64, float64\)"):
        load_splits(cfg(name="npz", path=str(path)), seed=0)


def test_npz_integer_labels_of_two_dimensions_are_a_class_per_step(tmp_path):
    """One-hot integer rows look the same: the model check says which (tests/test_sequence_targets.py)."""
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((4, 2)), y_train=np.eye(4, 3, dtype=int))
    splits = load_splits(cfg(name="npz", path=str(path), validation_split=0, test_split=0.25), seed=0)
    assert splits.y_train.shape == (3, 3) and splits.y_train.dtype == np.int64 and splits.num_classes == 2


def test_npz_negative_class_label(tmp_path):
    path = write_npz(tmp_path / "d.npz", x_train=np.zeros((3, 2)), y_train=np.array([0, -1, 1]))
    with pytest.raises(DataError, match="class labels must be 0 or more, found -1"):
        load_splits(cfg(name="npz", path=str(path)), seed=0)


# ---------------------------------------------------------------- csv

def write_csv(tmp_path, text: str) -> Path:
    path = tmp_path / "table.csv"
    path.write_text(text)
    return path


def test_csv_string_target_is_classification(tmp_path):
    rows = "".join(f"{i},{i * 2},{'dog' if i % 2 else 'cat'}\n" for i in range(20))
    path = write_csv(tmp_path, "a,b,animal\n" + rows)
    splits = load_splits(cfg(name="csv", path=str(path), validation_split=0.0), seed=0)
    assert splits.task == "classification" and splits.class_names == ["cat", "dog"]
    assert splits.input_shape == (2,) and len(splits.x_test) == 4


def test_csv_integer_target_by_name_is_classification(tmp_path):
    rows = "".join(f"{i % 3},{i}.5,{i}\n" for i in range(30))
    path = write_csv(tmp_path, "label,x,y\n" + rows)
    splits = load_splits(cfg(name="csv", path=str(path), target="label"), seed=0)
    assert splits.task == "classification" and splits.class_names == ["0", "1", "2"]
    assert splits.input_shape == (2,)


def test_csv_float_target_by_index_is_regression(tmp_path):
    rows = "".join(f"{i},{i * 0.5},{i % 2}\n" for i in range(30))
    path = write_csv(tmp_path, "x,price,flag\n" + rows)
    splits = load_splits(cfg(name="csv", path=str(path), target=1), seed=0)
    assert splits.task == "regression" and splits.num_classes is None
    assert splits.y_train.dtype == np.float32 and splits.input_shape == (2,)


def test_csv_many_distinct_integers_is_regression(tmp_path):
    path = write_csv(tmp_path, "x,y\n" + "".join(f"{i},{i * 7}\n" for i in range(40)))
    assert load_splits(cfg(name="csv", path=str(path)), seed=0).task == "regression"


def test_csv_non_numeric_feature_names_row_and_column(tmp_path):
    path = write_csv(tmp_path, "x1,x2,y\n1,2,0\n3,four,1\n5,6,0\n")
    with pytest.raises(DataError) as excinfo:
        load_splits(cfg(name="csv", path=str(path)), seed=0)
    assert f"{path}:3: data row 2, column 'x2' holds 'four', not a finite number" in message(excinfo)


def test_csv_missing_feature_value(tmp_path):
    path = write_csv(tmp_path, "x1,x2,y\n1,2,0\n3,,1\n")
    with pytest.raises(DataError, match="column 'x2' holds an empty cell"):
        load_splits(cfg(name="csv", path=str(path)), seed=0)


def test_csv_missing_target_value(tmp_path):
    path = write_csv(tmp_path, "x1,y\n1,0\n3,\n")
    with pytest.raises(DataError, match=":3: the target column 'y' is empty"):
        load_splits(cfg(name="csv", path=str(path)), seed=0)


def test_csv_row_with_wrong_cell_count(tmp_path):
    path = write_csv(tmp_path, "x1,x2,y\n1,2,0\n3,4\n")
    with pytest.raises(DataError, match=r"table.csv:3: 2 cells, but the header has 3 columns"):
        load_splits(cfg(name="csv", path=str(path)), seed=0)


def test_csv_unknown_target_name_suggests(tmp_path):
    path = write_csv(tmp_path, "x1,x2,price\n1,2,0\n")
    expected = r"no column named 'prise' \(did you mean 'price'\?\); columns: x1, x2, price"
    with pytest.raises(DataError, match=expected):
        load_splits(cfg(name="csv", path=str(path), target="prise"), seed=0)


def test_csv_target_index_out_of_range(tmp_path):
    path = write_csv(tmp_path, "x1,x2,price\n1,2,0\n")
    with pytest.raises(DataError, match="dataset.target 3 is out of range: the file has 3 columns"):
        load_splits(cfg(name="csv", path=str(path), target=3), seed=0)


def test_csv_empty_file(tmp_path):
    with pytest.raises(DataError, match="the CSV file is empty"):
        load_splits(cfg(name="csv", path=str(write_csv(tmp_path, "\n"))), seed=0)


def test_csv_header_only(tmp_path):
    with pytest.raises(DataError, match="has a header but no data rows"):
        load_splits(cfg(name="csv", path=str(write_csv(tmp_path, "a,b\n"))), seed=0)


def test_csv_too_few_rows_for_the_splits(tmp_path):
    path = write_csv(tmp_path, "a,b\n1,0.5\n")
    with pytest.raises(DataError, match="test_split 0.2 would take 1 of the 1 training samples"):
        load_splits(cfg(name="csv", path=str(path)), seed=0)


# ---------------------------------------------------------------- image_folder

@pytest.fixture
def image_folder(tmp_path):
    Image = pytest.importorskip("PIL.Image")
    rng = np.random.default_rng(0)
    root = tmp_path / "images"
    for name, count in (("cat", 6), ("dog", 4)):
        (root / name).mkdir(parents=True)
        for i in range(count):
            size = (12, 10) if i else (8, 6)  # (height, width); the first cat is smaller
            pixels = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / name / f"{i:02d}.png")
    (root / "cat" / "notes.txt").write_text("not an image, ignored")
    return root


def test_image_folder_rgb_default_size_is_first_image(image_folder):
    splits = load_splits(cfg(name="image_folder", path=str(image_folder), validation_split=0.0,
                             test_split=0.2, stream=False), seed=0)
    assert splits.class_names == ["cat", "dog"] and splits.num_classes == 2
    assert splits.input_shape == (8, 6, 3) and len(splits.x_train) + len(splits.x_test) == 10
    assert splits.scale == "unit" and splits.x_train.max() <= 1.0


def test_image_folder_grayscale_resized_with_channel_axis(image_folder):
    config = cfg(name="image_folder", path=str(image_folder), image_size=(16, 20), color_mode="grayscale")
    splits = load_splits(config, seed=0, first_layer="Conv2D")
    assert splits.input_shape == (16, 20, 1)
    assert describe_input(config, first_layer="Conv2D") == ((16, 20, 1), 2, "classification")


def test_image_folder_read_with_tensorflow_without_pillow(tmp_path, monkeypatch):
    Image = pytest.importorskip("PIL.Image")
    from expkit.data import files

    rng, root = np.random.default_rng(1), tmp_path / "images"
    for name in ("a", "b"):
        (root / name).mkdir(parents=True)
        for i in range(3):
            Image.fromarray(rng.integers(0, 256, (5, 7, 3), dtype=np.uint8)).save(root / name / f"{i}.png")
    config = cfg(name="image_folder", path=str(root), validation_split=0.0, color_mode="grayscale", stream=False)
    with_pillow = load_splits(config, seed=0)
    monkeypatch.setattr(files, "_pillow", lambda: None)
    with_tensorflow = load_splits(config, seed=0)
    assert with_tensorflow.input_shape == (5, 7)
    # PNG is lossless; the two libraries' grayscale formulas may round a level apart.
    np.testing.assert_allclose(with_tensorflow.x_train, with_pillow.x_train, atol=1.5 / 255)
    resized = load_splits(config.model_copy(update={"image_size": (10, 4)}), seed=0)
    assert resized.input_shape == (10, 4)


def test_image_folder_without_class_subfolders(tmp_path):
    (tmp_path / "flat").mkdir()
    (tmp_path / "flat" / "a.png").write_bytes(b"")
    with pytest.raises(DataError, match="needs one subfolder per class"):
        load_splits(cfg(name="image_folder", path=str(tmp_path / "flat")), seed=0)


def test_image_folder_empty_class(image_folder):
    (image_folder / "eel").mkdir()
    with pytest.raises(DataError, match="class folder 'eel' holds no images"):
        load_splits(cfg(name="image_folder", path=str(image_folder)), seed=0)


def test_image_folder_corrupt_image_names_file(image_folder):
    bad = image_folder / "dog" / "zz.png"
    bad.write_bytes(b"\x89PNG but not really")
    with pytest.raises(DataError) as excinfo:
        load_splits(cfg(name="image_folder", path=str(image_folder)), seed=0)
    assert f"{bad}: cannot read this image" in message(excinfo)


def test_image_folder_path_is_a_file(tmp_path):
    path = write_csv(tmp_path, "a,b\n")
    with pytest.raises(DataError, match="reads a folder, but dataset.path .* is a file"):
        load_splits(cfg(name="image_folder", path=str(path)), seed=0)


def test_missing_path_gives_path_as_given_and_resolved(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(DataError) as excinfo:
        load_splits(cfg(name="npz", path="data/missing.npz"), seed=0)
    assert message(excinfo) == (f"dataset.path 'data/missing.npz' does not exist "
                                f"(resolved: {tmp_path.resolve() / 'data' / 'missing.npz'})")


# ---------------------------------------------------------------- splits and preprocessing

@pytest.fixture
def tagged_npz(tmp_path):
    """Sample i has every feature equal to i, so the splits can be traced back."""
    x = np.repeat(np.arange(100, dtype=np.float64)[:, None], 3, axis=1)
    return write_npz(tmp_path / "tagged.npz", x_train=x, y_train=np.arange(100) % 4,
                     x_test=x[:10] + 1000, y_test=np.arange(10) % 4)


def ids(x):
    return set(np.round(x[:, 0]).astype(int).tolist())


def test_limit_then_validation_split_keep_splits_apart(tagged_npz):
    splits = load_splits(cfg(name="npz", path=str(tagged_npz), limit=40, validation_split=0.25,
                             scale="none"), seed=3)
    train, val = ids(splits.x_train), ids(splits.x_val)
    assert len(train) == 30 and len(val) == 10 and not train & val
    assert train | val == set(range(40))  # the first 40 samples
    assert np.bincount(splits.y_val).tolist() == [3, 3, 2, 2]  # stratified: 2.5 per class, rounded


def test_validation_is_deterministic_per_seed(tagged_npz):
    config = cfg(name="npz", path=str(tagged_npz), validation_size=7, scale="none")
    a, b, c = (load_splits(config, seed) for seed in (1, 1, 2))
    assert ids(a.x_val) == ids(b.x_val) and len(a.x_val) == 7
    assert ids(a.x_val) != ids(c.x_val)


def test_validation_size_larger_than_training(tagged_npz):
    with pytest.raises(DataError, match="validation_size 100 would take 100 of the 100 training samples"):
        load_splits(cfg(name="npz", path=str(tagged_npz), validation_size=100), seed=0)


def test_test_limit(tagged_npz):
    splits = load_splits(cfg(name="npz", path=str(tagged_npz), test_limit=3, scale="none"), seed=0)
    assert ids(splits.x_test) == {1000, 1001, 1002}


def test_validation_split_zero_gives_no_validation(tagged_npz):
    splits = load_splits(cfg(name="npz", path=str(tagged_npz), validation_split=0.0), seed=0)
    assert splits.x_val is None and splits.y_val is None and len(splits.x_train) == 100


def test_standardize_uses_training_statistics_only(tagged_npz):
    splits = load_splits(cfg(name="npz", path=str(tagged_npz), validation_split=0.2), seed=0)
    assert splits.scale == "standardize" and splits.x_train.dtype == np.float32
    np.testing.assert_allclose(splits.x_train.mean(axis=0), 0.0, atol=1e-5)
    np.testing.assert_allclose(splits.x_train.std(axis=0), 1.0, rtol=1e-5)
    assert splits.x_test.mean() > 20  # test samples (ids 1000+) are far from the training mean
    assert abs(splits.x_val.mean()) > 1e-3


def test_unit_scale_divides_by_255(tmp_path):
    path = write_npz(tmp_path / "img.npz", x_train=np.full((4, 2, 2), 51, np.uint8), y_train=np.zeros(4, int))
    splits = load_splits(cfg(name="npz", path=str(path), validation_split=0.0, test_split=0.25), seed=0)
    assert splits.scale == "unit"
    np.testing.assert_allclose(splits.x_train, 0.2)


def test_scale_none_keeps_values_as_float32(tmp_path):
    path = write_npz(tmp_path / "img.npz", x_train=np.full((4, 2, 2), 51, np.uint8), y_train=np.zeros(4, int))
    splits = load_splits(cfg(name="npz", path=str(path), scale="none", validation_split=0.0), seed=0)
    assert splits.x_train.dtype == np.float32 and splits.x_train.max() == 51.0


def test_flatten_and_channel_axis_on_mnist():
    flat = load_splits(cfg(name="mnist", flatten=True, limit=100), seed=0, first_layer="Dense")
    conv = load_splits(cfg(name="mnist", limit=100), seed=0, first_layer="Conv2D")
    dense = load_splits(cfg(name="mnist", limit=100), seed=0, first_layer="Dense")
    assert flat.input_shape == (784,) and conv.input_shape == (28, 28, 1) and dense.input_shape == (28, 28)
    assert conv.x_test.shape == (10000, 28, 28, 1)
    np.testing.assert_array_equal(flat.x_train[0], conv.x_train[0].reshape(-1))
    assert describe_input(cfg(name="mnist", flatten=True), "Dense") == ((784,), 10, "classification")
    assert describe_input(cfg(name="mnist"), "Conv2D") == ((28, 28, 1), 10, "classification")
    assert describe_input(cfg(name="mnist"), "Dense") == ((28, 28), 10, "classification")


@pytest.mark.parametrize("first_layer, expected", [
    ("Conv2D", (28, 28, 1)), ("max_pooling2d", (28, 28, 1)), ("AveragePooling2D", (28, 28, 1)),
    ("Conv1D", (28, 28)), ("LSTM", (28, 28)), ("Flatten", (28, 28)), (None, (28, 28))])
def test_channel_axis_auto_by_first_layer(first_layer, expected):
    assert describe_input(cfg(name="fashion_mnist"), first_layer)[0] == expected


def test_channel_axis_add_and_none():
    assert describe_input(cfg(name="mnist", channel_axis="add"), "Dense")[0] == (28, 28, 1)
    assert describe_input(cfg(name="mnist", channel_axis="none"), "Conv2D")[0] == (28, 28)
    assert describe_input(cfg(name="iris", channel_axis="add"))[0] == (4, 1)


def test_channel_axis_add_on_rgb_images():
    expected = r"samples of 'cifar10' are \(32, 32, 3\), they already have a channel axis"
    with pytest.raises(DataError, match=expected):
        describe_input(cfg(name="cifar10", channel_axis="add"))


def test_one_hot_labels():
    splits = load_splits(cfg(name="iris", labels="one_hot"), seed=0)
    assert splits.y_train.shape == (len(splits.x_train), 3) and splits.y_train.dtype == np.float32
    np.testing.assert_array_equal(splits.y_train.sum(axis=1), 1.0)


def test_one_hot_on_regression():
    with pytest.raises(DataError, match="'diabetes' is a regression task"):
        load_splits(cfg(name="diabetes", labels="one_hot"), seed=0)


def test_scaling_token_sequences():
    with pytest.raises(DataError, match="scale 'unit' would turn the token ids of 'imdb'"):
        describe_input(cfg(name="imdb", sequence_length=50, scale="unit"))


def test_describe_input_named_sets_without_loading():
    assert describe_input(cfg(name="imdb", sequence_length=80)) == ((80,), 2, "classification")
    assert describe_input(cfg(name="cifar100")) == ((32, 32, 3), 100, "classification")
    assert len(set(keras_sets.CIFAR100_CLASSES)) == 100  # fine labels, in Keras' (sorted) order
    assert describe_input(cfg(name="linear", features=5)) == ((5,), None, "regression")


@pytest.mark.parametrize("name", ["iris", "digits", "wine", "breast_cancer", "diabetes", "xor",
                                  "house_prices"])
def test_describe_input_agrees_with_load_splits(name):
    splits = load_splits(cfg(name=name), seed=0)
    assert describe_input(cfg(name=name)) == (splits.input_shape, splits.num_classes, splits.task)


def test_describe_input_of_a_csv(tmp_path):
    path = write_csv(tmp_path, "a,b,c,y\n" + "".join(f"{i},{i},{i},{i % 2}\n" for i in range(10)))
    assert describe_input(cfg(name="csv", path=str(path))) == ((3,), 2, "classification")


def test_holdout_stratifies_by_largest_remainder():
    labels = np.array([0] * 50 + [1] * 30 + [2] * 20)
    kept, held = holdout(100, 10, np.random.default_rng(0), labels)
    assert np.bincount(labels[held]).tolist() == [5, 3, 2]
    assert sorted(np.concatenate([kept, held]).tolist()) == list(range(100))


def test_loading_mnist_and_synthetic_data_does_not_import_tensorflow():
    code = ("import sys; from expkit.config.dataset import DatasetConfig as C; from expkit.data import "
            "load_splits, describe_input; load_splits(C(name='mnist', limit=10), 0); "
            "load_splits(C(name='spirals'), 0); describe_input(C(name='cifar10'), 'Conv2D'); "
            "print(sorted(m for m in ('tensorflow', 'keras', 'sklearn') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            cwd=Path(__file__).parents[1], check=True)
    assert result.stdout.strip() == "[]"


# ---------------------------------------------------------------- tf.data pipelines

@pytest.fixture(scope="module")
def small_splits() -> DataSplits:
    return load_splits(DatasetConfig(name="moons", samples=200, labels="one_hot"), seed=0)


def test_pipelines_batch_shapes_and_dtypes(small_splits):
    train, val, test = make_pipelines(small_splits, batch_size=32, seed=1)
    x, y = next(iter(train))
    assert tuple(x.shape) == (32, 2) and x.dtype.name == "float32"
    assert tuple(y.shape) == (32, 2) and y.dtype.name == "float32"
    assert sum(int(b[0].shape[0]) for b in val) == len(small_splits.x_val)
    first_test = next(iter(test))[0].numpy()
    np.testing.assert_array_equal(first_test, small_splits.x_test[:32])  # never shuffled


def test_pipelines_same_seed_same_order_and_reshuffle_each_epoch(small_splits):
    a, _, _ = make_pipelines(small_splits, batch_size=16, seed=5)
    b, _, _ = make_pipelines(small_splits, batch_size=16, seed=5)
    c, _, _ = make_pipelines(small_splits, batch_size=16, seed=6)
    first_a, first_b, first_c = (next(iter(ds))[0].numpy() for ds in (a, b, c))
    np.testing.assert_array_equal(first_a, first_b)
    assert not np.array_equal(first_a, first_c)
    second_epoch = next(iter(a))[0].numpy()
    assert not np.array_equal(first_a, second_epoch)


def test_pipelines_without_validation_or_shuffle(tmp_path):
    splits = load_splits(cfg(name="xor", samples=50, validation_split=0.0), seed=0)
    train, val, _ = make_pipelines(splits, batch_size=8, seed=0, cache=False, shuffle=False)
    assert val is None
    np.testing.assert_array_equal(next(iter(train))[0].numpy(), splits.x_train[:8])
    assert next(iter(train))[1].dtype.name == "int64"


def test_preprocessor_reproduces_training_preprocessing_from_json():
    from expkit.data import Preprocessor
    from expkit.data.sources import load_raw
    for cfg, first in [(DatasetConfig(name="house_prices", samples=300), None),
                       (DatasetConfig(name="mnist", limit=500, test_limit=50), "Conv2D"),
                       (DatasetConfig(name="mnist", limit=500, test_limit=50, flatten=True), "Dense")]:
        splits = load_splits(cfg, 0, first)
        again = Preprocessor.from_json(json.loads(json.dumps(splits.preprocessor.to_json())))
        raw = load_raw(cfg, 0)
        if cfg.name == "mnist":
            np.testing.assert_allclose(again(raw.x_test[:50]), splits.x_test)
        assert again.shape == splits.input_shape
        assert again.scale == splits.scale
