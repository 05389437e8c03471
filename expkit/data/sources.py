"""Named datasets: MNIST (shipped), Fashion-MNIST, Keras' other built-ins, scikit-learn, synthetic.

- mnist: always the four IDX files shipped in `expkit/data/mnist/` (MNIST by Yann LeCun,
  Corinna Cortes and Christopher J.C. Burges, CC BY-SA 3.0), each checked against its md5.
- fashion_mnist (Zalando, MIT licence): the four IDX files in `$KERAS_HOME/datasets/fashion-mnist/`
  (where Keras' own loader puts them) or `/usr/share/datasets/fashion-mnist/` (Debian's
  dataset-fashion-mnist); only if neither has them, Keras downloads them (not with EXPKIT_OFFLINE=1).
- cifar10, cifar100, imdb, reuters, boston_housing, california_housing: `keras_sets`.
- digits, iris, wine, breast_cancer, diabetes: scikit-learn's bundled copies (no download).
- xor, moons, circles, spirals, linear, house_prices: `synthetic`.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

import numpy as np

from expkit.backend import import_keras
from expkit.config.dataset import FILE_DATASETS, KERAS_DATASETS, SKLEARN_DATASETS, SYNTHETIC_DATASETS
from expkit.data import idx
from expkit.data.keras_sets import load_keras_set, offline, search_folders
from expkit.data.raw import CLASSIFICATION, REGRESSION, RawData
from expkit.data.synthetic import make_synthetic
from expkit.errors import DataError, suggest

# md5 of the shipped files: the ones torchvision's mnist.py checks.
MNIST_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}
DIGIT_CLASSES = [str(d) for d in range(10)]
FASHION_MNIST_CLASSES = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                         "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"]


def load_raw(cfg, seed: int) -> RawData:
    """The dataset `cfg.name` as read, before splitting and preprocessing."""
    name = cfg.name
    if name == "mnist":
        return load_mnist()
    if name == "fashion_mnist":
        return load_fashion_mnist()
    if name in KERAS_DATASETS:
        return load_keras_set(cfg, seed)
    if name in SKLEARN_DATASETS:
        return load_sklearn(name)
    if name in SYNTHETIC_DATASETS:
        return make_synthetic(name, cfg.samples, cfg.noise, cfg.features, seed, cfg.sequence_length)
    if name == "tfrecord":  # streamed record by record (data/tfrecord_splits.py), never read into arrays
        raise DataError("dataset 'tfrecord' is streamed for training; it cannot be read into arrays here")
    if name in FILE_DATASETS:
        from expkit.data.files import load_file

        return load_file(cfg)
    from expkit.data.plugin_data import is_plugin_dataset, load_plugin_dataset
    if is_plugin_dataset(name):
        return load_plugin_dataset(cfg, seed)
    if name == "skipgram":
        from expkit.data.text import load_skipgram

        return load_skipgram(cfg, seed)
    options = KERAS_DATASETS + SKLEARN_DATASETS + SYNTHETIC_DATASETS + FILE_DATASETS
    raise DataError(f"unknown dataset '{name}'{suggest(name, options)}; expected one of {', '.join(options)}")


def _mnist_folder():
    return resources.files("expkit.data") / "mnist"


def load_mnist(folder=None, expected_md5: dict[str, str] = MNIST_MD5) -> RawData:
    """The shipped MNIST (or the same four files in `folder`), each verified against its md5."""
    folder = folder if folder is not None else _mnist_folder()
    files = {}
    for name in idx.IDX_FILES:
        entry = folder / name
        try:
            raw = entry.read_bytes()
        except OSError as error:
            raise DataError(f"MNIST file {entry} cannot be read ({error.strerror}); "
                            "reinstall expkit to restore it") from None
        actual = idx.md5(raw)
        if actual != expected_md5[name]:
            raise DataError(f"MNIST file {entry} is damaged or replaced: its md5 is {actual}, "
                            f"expected {expected_md5[name]}. Reinstall expkit to restore it.")
        files[name] = raw
    x_train, y_train, x_test, y_test = idx.read_idx_set(files, str(folder))
    return RawData(x_train, y_train.astype(np.int64), CLASSIFICATION, "image",
                   f"expkit package data {folder} (IDX, md5 verified)", num_classes=10,
                   class_names=DIGIT_CLASSES, x_test=x_test, y_test=y_test.astype(np.int64))


def load_fashion_mnist() -> RawData:
    folders = search_folders("fashion-mnist", subfolder="fashion-mnist")
    for folder in folders:
        files = idx.find_idx_files(folder)
        if len(files) == len(idx.IDX_FILES):
            break
    else:
        folder = _download_fashion_mnist(folders)
        files = idx.find_idx_files(folder)
    x_train, y_train, x_test, y_test = idx.read_idx_set(files, str(folder))
    if x_train.shape[1:] != (28, 28) or y_train.max(initial=0) > 9:
        raise DataError(f"{folder} does not hold Fashion-MNIST: images are {x_train.shape[1:]}, "
                        f"labels up to {y_train.max(initial=0)} (expected 28x28 images, labels 0..9)")
    return RawData(x_train, y_train.astype(np.int64), CLASSIFICATION, "image", str(folder),
                   num_classes=10, class_names=FASHION_MNIST_CLASSES,
                   x_test=x_test, y_test=y_test.astype(np.int64))


def _download_fashion_mnist(folders: list[Path]) -> Path:
    url = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"
    where = (f"Download the four files {', '.join(idx.IDX_FILES)} from {url} into {folders[-2]} "
             f"(or apt-get install dataset-fashion-mnist, which puts them in {folders[-1]}). "
             f"Looked in: {', '.join(str(f) for f in folders)}")
    if offline():
        raise DataError(f"dataset 'fashion_mnist' is not on this machine and EXPKIT_OFFLINE=1 "
                        f"forbids downloading it. {where}")
    keras = import_keras()

    try:
        keras.datasets.fashion_mnist.load_data()
    except Exception as error:  # Keras raises a bare Exception when a download fails
        raise DataError(f"dataset 'fashion_mnist': Keras could not download it ({error}). {where}") from None
    return search_folders("fashion-mnist", subfolder="fashion-mnist")[0]


_SKLEARN_LOADERS = {"digits": "load_digits", "iris": "load_iris", "wine": "load_wine",
                    "breast_cancer": "load_breast_cancer", "diabetes": "load_diabetes"}


def load_sklearn(name: str) -> RawData:
    try:
        import sklearn
        from sklearn import datasets
    except ImportError:
        raise DataError(f"dataset '{name}' comes with scikit-learn, which is not installed: "
                        "pip install scikit-learn (or pip install 'expkit[sklearn]')") from None
    loader = _SKLEARN_LOADERS[name]
    bunch = getattr(datasets, loader)()
    source = f"scikit-learn {sklearn.__version__} datasets.{loader}() (bundled, no download)"
    features = [str(n) for n in bunch.feature_names] if "feature_names" in bunch else None
    if name == "diabetes":
        return RawData(bunch.data, bunch.target, REGRESSION, "tabular", source, feature_names=features)
    names = [str(n) for n in bunch.target_names]
    return RawData(bunch.data, bunch.target.astype(np.int64), CLASSIFICATION, "tabular", source,
                   num_classes=len(names), class_names=names, feature_names=features)
