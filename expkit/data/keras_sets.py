"""Keras' built-in datasets other than MNIST, read offline first.

Before calling `keras.datasets.<name>.load_data()` (which imports TensorFlow and may download),
look for the file Keras would download, under the name Keras 3 stores it (or the URL's name):

1. the Keras cache, `$KERAS_HOME/datasets/` (`~/.keras/datasets/` when KERAS_HOME is unset;
   `/tmp/.keras/datasets/` when that is not writable, as Keras does);
2. `/usr/share/datasets/<name>/` (system-wide copies).

A file found there is checked against Keras' sha256 (a mismatch is a DataError: Keras would
silently download it again) and linked into the Keras cache, so Keras' loader never downloads.
Otherwise, with EXPKIT_OFFLINE=1 set or when Keras' download fails, a DataError says which
file to fetch from where and where to put it. Nothing else is ever substituted.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from expkit.backend import import_keras
from expkit.data.raw import CLASSIFICATION, REGRESSION, RawData
from expkit.errors import DataError

SYSTEM_DATASETS = Path("/usr/share/datasets")
_KERAS_URL = "https://storage.googleapis.com/tensorflow/tf-keras-datasets/"


@dataclass(frozen=True)
class KerasFile:
    cached_as: str  # the name under $KERAS_HOME/datasets that Keras 3.x reads
    url: str
    sha256: str

    @property
    def url_name(self) -> str:
        return self.url.rsplit("/", 1)[1]

    @property
    def names(self) -> tuple[str, ...]:
        """Names accepted on disk: Keras 3's, the URL's, Keras 2's (archives)."""
        old = self.cached_as.replace("-target_archive", ".tar.gz")
        return tuple(dict.fromkeys((self.cached_as, self.url_name, old)))


# Names, URLs and hashes as in keras/src/datasets/*.py (Keras 3.15).
KERAS_FILES = {
    "cifar10": KerasFile("cifar-10-batches-py-target_archive",
                         "https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
                         "6d958be074577803d12ecdefd02955f39262c83c16fe9348329d7fe0b5c001ce"),
    "cifar100": KerasFile("cifar-100-python-target_archive",
                          "https://www.cs.toronto.edu/~kriz/cifar-100-python.tar.gz",
                          "85cd44d02ba6437773c5bbd22e183051d648de2e7d6b014e1ef29b855ba677a7"),
    "imdb": KerasFile("imdb.npz", _KERAS_URL + "imdb.npz",
                      "69664113be75683a8fe16e3ed0ab59fda8886cb3cd7ada244f7d9544e4676b9f"),
    "reuters": KerasFile("reuters.npz", _KERAS_URL + "reuters.npz",
                         "d6586e694ee56d7a4e65172e12b3e987c03096cb01eab99753921ef915959916"),
    "boston_housing": KerasFile("boston_housing.npz", _KERAS_URL + "boston_housing.npz",
                                "f553886a1f8d56431e820c5b82552d9d95cfcb96d1e678153f8839538947dff5"),
    "california_housing": KerasFile("california_housing.npz", _KERAS_URL + "california_housing.npz",
                                    "1a2e3a52e0398de6463aebe6f4a8da34fb21fbb6b934cf88c3425e766f2a1a6f"),
}

CIFAR10_CLASSES = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"]
CIFAR100_CLASSES = """apple aquarium_fish baby bear beaver bed bee beetle bicycle bottle bowl boy bridge
bus butterfly camel can castle caterpillar cattle chair chimpanzee clock cloud cockroach couch crab
crocodile cup dinosaur dolphin elephant flatfish forest fox girl hamster house kangaroo keyboard lamp
lawn_mower leopard lion lizard lobster man maple_tree motorcycle mountain mouse mushroom oak_tree orange
orchid otter palm_tree pear pickup_truck pine_tree plain plate poppy porcupine possum rabbit raccoon ray
road rocket rose sea seal shark shrew skunk skyscraper snail snake spider squirrel streetcar sunflower
sweet_pepper table tank telephone television tiger tractor train trout tulip turtle wardrobe whale
willow_tree wolf woman worm""".split()
IMDB_CLASSES = ["negative", "positive"]


def offline() -> bool:
    return os.environ.get("EXPKIT_OFFLINE", "").strip().lower() in ("1", "true", "yes")


def _writable_or_tmp(home: str) -> Path:
    """Keras' rule: its home folder, or /tmp/.keras when that cannot be written (or created)."""
    home = os.path.expanduser(home)
    usable = os.access(home, os.W_OK) if os.path.exists(home) else os.access(
        os.path.dirname(os.path.abspath(home)), os.W_OK)
    return Path(home if usable else "/tmp/.keras")


def keras_home() -> Path:
    """The Keras cache folder as the environment sets it now ($KERAS_HOME, else ~/.keras)."""
    return _writable_or_tmp(os.environ.get("KERAS_HOME") or os.path.join("~", ".keras"))


def _keras_own_home() -> Path | None:
    """The folder Keras itself uses: fixed when keras was imported, so it may predate KERAS_HOME."""
    config = sys.modules.get("keras.src.backend.config")
    return _writable_or_tmp(config.keras_home()) if config is not None else None


def search_folders(name: str, subfolder: str = "") -> list[Path]:
    """Where a Keras dataset file is looked for, in order (Keras' own cache first)."""
    homes = [home for home in (_keras_own_home(), keras_home()) if home is not None]
    folders = [home / "datasets" / subfolder if subfolder else home / "datasets" for home in homes]
    folders.append(SYSTEM_DATASETS / (subfolder or name))
    unique: dict[str, Path] = {}
    for folder in folders:
        unique.setdefault(os.path.realpath(folder), folder)
    return list(unique.values())


def find_local(name: str) -> Path | None:
    for folder in search_folders(name):
        for file_name in KERAS_FILES[name].names:
            if (folder / file_name).is_file():
                return folder / file_name
    return None


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 22):
            digest.update(chunk)
    return digest.hexdigest()


def missing_message(name: str, reason: str) -> str:
    spec = KERAS_FILES[name]
    cache = keras_home() / "datasets"
    looked = ", ".join(str(folder) for folder in search_folders(name))
    return (f"dataset '{name}': {reason}. Download {spec.url} and save it as "
            f"{cache / spec.cached_as} (the Keras cache: $KERAS_HOME/datasets, or ~/.keras/datasets "
            f"when KERAS_HOME is unset) or as {SYSTEM_DATASETS / name / spec.url_name}. "
            f"Looked for {', '.join(spec.names)} in: {looked}")


def _link_into_keras_cache(found: Path, spec: KerasFile) -> None:
    """Make the verified file visible under the name Keras reads, so Keras does not download.

    Keras' own cache is searched first, so a file already there under Keras' name is `found`.
    """
    import_keras()  # Keras fixes its own cache folder on import

    target = _keras_own_home() / "datasets" / spec.cached_as
    if target.is_file() and os.path.samefile(target, found):
        return
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.is_symlink():  # a dangling link left by an earlier run
        target.unlink()
    try:
        target.symlink_to(found)
    except OSError:
        shutil.copyfile(found, target)


def _call_keras_loader(name: str, cfg, seed: int):
    """((x_train, y_train), (x_test, y_test)) from Keras' own loader (imports TensorFlow)."""
    keras = import_keras()

    datasets = keras.datasets
    if name in ("cifar10", "cifar100"):
        return getattr(datasets, name).load_data()
    if name == "imdb":
        return datasets.imdb.load_data(num_words=cfg.num_words, seed=seed)
    if name == "reuters":
        return datasets.reuters.load_data(num_words=cfg.num_words, test_split=cfg.test_split, seed=seed)
    return getattr(datasets, name).load_data(test_split=cfg.test_split, seed=seed)


def load_keras_set(cfg, seed: int) -> RawData:
    name, spec = cfg.name, KERAS_FILES[cfg.name]
    found = find_local(name)
    if found is not None:
        actual = _sha256(found)
        if actual != spec.sha256:
            raise DataError(f"dataset '{name}': {found} is corrupt or another file: its sha256 is "
                            f"{actual}, expected {spec.sha256}. Delete it and download {spec.url} again.")
        _link_into_keras_cache(found, spec)
        (x_train, y_train), (x_test, y_test) = _call_keras_loader(name, cfg, seed)
        source = f"keras cache {found}"
    elif offline():
        raise DataError(missing_message(
            name, "not on this machine, and EXPKIT_OFFLINE=1 forbids downloading"))
    else:
        try:
            (x_train, y_train), (x_test, y_test) = _call_keras_loader(name, cfg, seed)
        except Exception as error:  # Keras raises a bare Exception when a download fails
            raise DataError(missing_message(name, f"Keras could not download it ({error})")) from None
        cache = (_keras_own_home() or keras_home()) / "datasets"
        source = f"downloaded by Keras from {spec.url} to {cache}"
    return _to_raw(name, cfg, x_train, y_train, x_test, y_test, source)


def _to_raw(name, cfg, x_train, y_train, x_test, y_test, source) -> RawData:
    if name in ("boston_housing", "california_housing"):
        return RawData(x_train, y_train, REGRESSION, "tabular", source, x_test=x_test, y_test=y_test)
    if name in ("imdb", "reuters"):
        pad = import_keras().utils.pad_sequences  # 0s and cuts at the start, int32
        x_train, x_test = pad(x_train, maxlen=cfg.sequence_length), pad(x_test, maxlen=cfg.sequence_length)
        classes = IMDB_CLASSES if name == "imdb" else _reuters_topics()
        return RawData(x_train, y_train, CLASSIFICATION, "sequence", source, num_classes=len(classes),
                       class_names=classes, x_test=x_test, y_test=y_test)
    # Keras returns (N, 3, 32, 32) when its image_data_format is channels_first.
    if x_train.shape[1:] == (3, 32, 32):
        x_train, x_test = x_train.transpose(0, 2, 3, 1), x_test.transpose(0, 2, 3, 1)
    classes = CIFAR10_CLASSES if name == "cifar10" else CIFAR100_CLASSES
    return RawData(x_train, y_train.reshape(-1), CLASSIFICATION, "image", source,
                   num_classes=len(classes), class_names=classes,
                   x_test=x_test, y_test=y_test.reshape(-1))


def _reuters_topics() -> list[str]:
    keras = import_keras()

    return list(keras.datasets.reuters.get_label_names())
