"""File datasets: npz, idx, image_folder (csv is in `csv_table`). `path` arrives already resolved
against the config file's folder by the config loader.

- npz: arrays x_train, y_train, and optionally x_test + y_test and x_val + y_val. Integer, bool or
  string y is a classification target (strings -> indices of the sorted distinct values); float y
  is a regression target. Integer y of shape (N, T) holds a class per time step (sequence tagging).
  uint8 x counts as images (`scale: auto` divides by 255).
- idx: a folder with train-images-idx3-ubyte.gz, train-labels-idx1-ubyte.gz,
  t10k-images-idx3-ubyte.gz, t10k-labels-idx1-ubyte.gz (uncompressed twins are accepted).
- image_folder: one subfolder per class, classes in sorted order. Streamed by default (the paths
  are split; `image_stream` decodes them in tf.data). With `stream: false`, images are read with
  Pillow when it is installed, else TensorFlow, converted to `color_mode`, resized (bilinear) to
  `image_size` or to the first image's size, and stacked as uint8: (N, H, W, 3) for rgb,
  (N, H, W) for grayscale (like MNIST, so `channel_axis` applies).
"""
from __future__ import annotations

import math
import zipfile
from pathlib import Path

import numpy as np

from expkit.data import idx
from expkit.data.image_stream import IMAGE_EXTENSIONS  # noqa: F401  (predict reads it here)
from expkit.data.raw import CLASSIFICATION, REGRESSION, RawData, names_to_indices
from expkit.errors import DataError
from expkit.config.limits import human, over_memory

_NPZ_PAIRS = (("x_train", "y_train"), ("x_test", "y_test"), ("x_val", "y_val"))


def existing_path(cfg, want_dir: bool) -> Path:
    path = Path(cfg.path)
    if not path.exists():
        raise DataError(f"dataset.path '{cfg.path}' does not exist (resolved: {path.resolve()})")
    if want_dir and not path.is_dir():
        raise DataError(f"dataset '{cfg.name}' reads a folder, but dataset.path '{cfg.path}' is a file "
                        f"(resolved: {path.resolve()})")
    if not want_dir and path.is_dir():
        raise DataError(f"dataset '{cfg.name}' reads a file, but dataset.path '{cfg.path}' is a folder "
                        f"(resolved: {path.resolve()})")
    return path


def load_file(cfg) -> RawData:
    if cfg.name == "csv":
        from expkit.data.csv_stream import load_csv_file

        return load_csv_file(existing_path(cfg, want_dir=False), cfg)
    if cfg.name == "npy":
        from expkit.data.npy_files import load_npy_folder

        return load_npy_folder(existing_path(cfg, want_dir=True), cfg)
    loader = {"npz": load_npz, "idx": load_idx_folder, "image_folder": load_image_folder}[cfg.name]
    return loader(existing_path(cfg, want_dir=cfg.name != "npz"), cfg)


def _classification_or_regression(ys: list[np.ndarray], where: str):
    """(task, ys as labels, num_classes, class_names) for the y arrays of all splits together."""
    ys = [y.reshape(-1) if y.ndim == 2 and y.shape[1] == 1 else y for y in ys]
    kind = ys[0].dtype.kind
    if any(y.dtype.kind != kind for y in ys):
        raise DataError(f"{where}: the label arrays mix dtypes ({', '.join(str(y.dtype) for y in ys)}); "
                        "store them all as integers (classes) or all as floats (regression)")
    if kind == "f":
        return REGRESSION, ys, None, None
    if kind in "US":
        if any(y.ndim != 1 for y in ys):
            raise DataError(f"{where}: string labels must be one per sample, shape (N,), got "
                            f"{', '.join(str(y.shape) for y in ys)}; a class per step of a sequence: store "
                            "integer class indices of shape (N, T)")
        indices, names = names_to_indices(np.concatenate(ys))
        return CLASSIFICATION, np.split(indices, np.cumsum([len(y) for y in ys])[:-1]), len(names), names
    if kind not in "biu":
        raise DataError(f"{where}: labels of dtype {ys[0].dtype} are not supported; use integer class "
                        "indices, strings, or floats (regression)")
    for y in ys:
        # (N, T): a class per time step of a sequence (tagging), for a (None, T, classes) output
        if y.ndim not in (1, 2) or (y.ndim == 2 and y.shape[1:] != ys[0].shape[1:]):
            raise DataError(f"{where}: integer labels must be class indices of shape (N,), or (N, T) for a class "
                            f"per step of a sequence (the same T in every split), got {y.shape}; one-hot labels: "
                            "store indices (y.argmax(axis=-1)) and set dataset.labels: one_hot instead")
        if y.size and y.min() < 0:
            raise DataError(f"{where}: class labels must be 0 or more, found {y.min()}")
    num_classes = int(max(y.max(initial=0) for y in ys)) + 1
    return CLASSIFICATION, [y.astype(np.int64) for y in ys], num_classes, None


def check_npy_header(stream, data_bytes: int, where: str, mapped: bool = False) -> None:
    """Refuse an array whose header declares more data than the file holds, or than memory can take,
    before numpy allocates it: numpy allocates what the header says first, then reads. A `mapped`
    array (np.load's mmap_mode) is paged in from the file, so it may be larger than memory."""
    try:
        version = np.lib.format.read_magic(stream)
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else \
            np.lib.format.read_array_header_2_0
        shape, _, dtype = read_header(stream)
    except (ValueError, OSError, EOFError) as error:
        raise DataError(f"{where}: not a readable .npy array ({error})") from None
    if dtype.hasobject:
        raise DataError(f"{where}: holds object (pickled) values, which are not read for safety; "
                        "save a plain numeric array with numpy.save")
    declared = math.prod(shape) * dtype.itemsize
    held = data_bytes - stream.tell()
    what = f"its header declares an array of shape {shape} and dtype {dtype} ({human(declared)})"
    if declared > held:
        raise DataError(f"{where}: {what}, but the file holds {human(max(held, 0))} of data: it is truncated "
                        "or not what it claims; write it again with numpy.save")
    too_big = None if mapped else over_memory(declared)
    if too_big:
        raise DataError(f"{where}: {what}, {too_big}")


def check_npy_file(path: Path, mapped: bool = False) -> None:
    try:
        with open(path, "rb") as stream:
            check_npy_header(stream, path.stat().st_size, str(path), mapped)
    except OSError as error:
        raise DataError(f"{path}: cannot read it ({error.strerror or error})") from None


def check_npz_file(path: Path) -> None:
    """Each array of an .npz, checked like an .npy against its uncompressed size in the archive."""
    try:
        with zipfile.ZipFile(path) as archive:
            for info in archive.infolist():
                if info.filename.endswith(".npy"):
                    with archive.open(info) as stream:
                        check_npy_header(stream, info.file_size, f"{path}: {info.filename[:-4]}")
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None


def load_npz(path: Path, cfg) -> RawData:
    if not zipfile.is_zipfile(path):
        raise DataError(f"{path}: not a readable .npz file (an .npz is a zip archive of arrays, as "
                        "written by numpy.savez)")
    check_npz_file(path)
    try:
        with np.load(path, allow_pickle=False) as archive:
            arrays = {key: archive[key] for key in archive.files}
    except ValueError as error:
        if "allow_pickle" in str(error):
            raise DataError(f"{path}: holds object (pickled) arrays, which are not read for safety; "
                            "save plain numeric arrays with numpy.savez") from None
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    except (OSError, zipfile.BadZipFile, EOFError) as error:
        raise DataError(f"{path}: not a readable .npz file ({error})") from None
    return split_arrays(path, arrays, cfg)


def split_arrays(path, arrays: dict, cfg, form: str = ".npz", note: str = "") -> RawData:
    """RawData from {x_train, y_train, x_test?, y_test?, x_val?, y_val?} arrays (an .npz's, or a folder
    of .npy files'): pairs checked, labels read as classes or regression targets."""
    found = ", ".join(sorted(arrays)) or "none"
    if "x_train" not in arrays or "y_train" not in arrays:
        raise DataError(f"{path}: an {form} dataset needs arrays named x_train and y_train "
                        f"(optionally x_test/y_test, x_val/y_val); found: {found}")
    present = []
    for x_key, y_key in _NPZ_PAIRS:
        if (x_key in arrays) != (y_key in arrays):
            have, lack = (x_key, y_key) if x_key in arrays else (y_key, x_key)
            raise DataError(f"{path}: has {have} but not {lack}; they come in pairs. Keys found: {found}")
        if x_key in arrays:
            x, y = arrays[x_key], arrays[y_key]
            if len(x) != len(y):
                raise DataError(f"{path}: {x_key} has {len(x)} samples but {y_key} has {len(y)}; "
                                f"they must match. Keys found: {found}")
            if x.shape[1:] != arrays["x_train"].shape[1:]:
                raise DataError(f"{path}: {x_key} samples are {x.shape[1:]} but x_train samples are "
                                f"{arrays['x_train'].shape[1:]}; all splits need the same sample shape")
            present.append((x_key, y_key))
    if not np.issubdtype(arrays["x_train"].dtype, np.number):
        raise DataError(f"{path}: x_train has dtype {arrays['x_train'].dtype}; inputs must be numeric")
    if "x_val" in arrays and cfg.validation_size:
        raise DataError(f"{path}: has its own validation split (x_val, y_val), so dataset.validation_size "
                        f"{cfg.validation_size} cannot apply; remove validation_size")
    task, ys, num_classes, names = _classification_or_regression([arrays[y] for _, y in present], str(path))
    split = {x_key.removeprefix("x_"): (arrays[x_key], y) for (x_key, _), y in zip(present, ys)}
    kind = "image" if arrays["x_train"].dtype == np.uint8 else "tabular"
    none = (None, None)
    return RawData(*split["train"], task, kind, f"{path}{note}", num_classes, names,
                   *split.get("test", none), *split.get("val", none))


def load_idx_folder(folder: Path, cfg) -> RawData:
    files = idx.find_idx_files(folder)
    missing = [name for name in idx.IDX_FILES if name not in files]
    if missing:
        present = sorted(p.name for p in folder.iterdir())
        raise DataError(f"{folder}: missing IDX file(s) {', '.join(missing)}; an idx dataset folder needs "
                        f"all four of {', '.join(idx.IDX_FILES)}. Found: {', '.join(present) or 'nothing'}")
    x_train, y_train, x_test, y_test = idx.read_idx_set(files, str(folder))
    task, (y_train, y_test), num_classes, _ = _classification_or_regression([y_train, y_test], str(folder))
    kind = "image" if x_train.dtype == np.uint8 else "tabular"
    return RawData(x_train, y_train, task, kind, str(folder), num_classes,
                   x_test=x_test, y_test=y_test)


def _pillow():
    try:
        from PIL import Image
    except ImportError:
        return None
    return Image


def _read_with_pillow(Image, path: Path, color_mode: str, size: tuple[int, int] | None) -> np.ndarray:
    with Image.open(path) as image:
        image = image.convert("L" if color_mode == "grayscale" else "RGB")
        if size is not None and image.size != (size[1], size[0]):
            image = image.resize((size[1], size[0]), Image.BILINEAR)
        return np.asarray(image, dtype=np.uint8)


def _read_with_tensorflow(path: Path, color_mode: str, size: tuple[int, int] | None) -> np.ndarray:
    import tensorflow as tf

    image = tf.io.decode_image(path.read_bytes(), channels=1 if color_mode == "grayscale" else 3,
                               expand_animations=False)
    if size is not None and tuple(image.shape[:2]) != tuple(size):
        image = tf.cast(tf.round(tf.image.resize(image, size, method="bilinear")), tf.uint8)
    array = image.numpy()
    return array[..., 0] if color_mode == "grayscale" else array


def read_image(path: Path, color_mode: str, size: tuple[int, int] | None) -> np.ndarray:
    """One image as uint8 (H, W) or (H, W, 3), resized to `size` (height, width) when given."""
    Image = _pillow()
    try:
        if Image is not None:
            return _read_with_pillow(Image, path, color_mode, size)
        return _read_with_tensorflow(path, color_mode, size)
    except Exception as error:  # Pillow and TensorFlow raise many kinds for a bad image
        raise DataError(f"{path}: cannot read this image ({type(error).__name__}: {error}). "
                        "Remove or replace the file.") from None


def load_image_folder(folder: Path, cfg) -> RawData:
    """Streamed (file paths, decoded by tf.data) unless `stream: false`; then every image in memory."""
    from expkit.data.image_stream import list_image_folder, stream_image_folder

    if cfg.stream is not False:
        return stream_image_folder(folder, cfg)
    paths, labels, classes = list_image_folder(folder)
    size = tuple(cfg.image_size) if cfg.image_size else None
    images, kept = [], []
    for i, path in enumerate(paths):
        try:
            image = read_image(path, cfg.color_mode, size)
        except DataError:
            if not cfg.skip_corrupt:
                raise
            continue
        size = size or image.shape[:2]
        images.append(image)
        kept.append(i)
    if not images:
        raise DataError(f"{folder}: none of the {len(paths)} images can be read")
    skipped = len(paths) - len(kept)
    note = f" ({skipped} corrupt image(s) skipped)" if skipped else ""
    return RawData(np.stack(images), labels[kept], CLASSIFICATION, "image", f"{folder}{note}",
                   num_classes=len(classes), class_names=classes, skipped=skipped)
