"""`npy`: a folder of .npy files (x_train.npy, y_train.npy, optionally x_test/y_test, x_val/y_val),
memory-mapped (`np.load(mmap_mode="r")`) so an x array larger than memory is never read whole.

The labels (y) are read into memory: splitting stratifies by them, and they are small. The x arrays
stay mapped. Below STREAM_BYTES (or with `stream: false`) the splits are taken from the mapped arrays
as in-memory arrays are (indexing a split copies it: the set must then fit in memory). Above it (or
with `stream: true`) the splits are taken over row numbers, and `NpyRows` reads the rows in the tf.data
pipeline, a block of rows at a time, so memory holds the row numbers, the labels, the caches chosen and
a few blocks, not the array.
"""
from __future__ import annotations

import hashlib
import mmap
from pathlib import Path

import numpy as np

from expkit.data.files import check_npy_file, split_arrays
from expkit.data.raw import RawData
from expkit.errors import DataError

STREAM_BYTES = 256 * 2**20  # stream: auto streams x arrays larger than this (pipeline.MEMORY_CACHE_LIMIT)
READ_BLOCK = 1024           # rows read from the mapped file per tf.data call
_SPLITS = ("train", "test", "val")


class NpyRows:
    """How a row number becomes one raw sample: rows of the x arrays, numbered train, then test, then val."""

    def __init__(self, folder: Path, arrays: list[np.ndarray]):
        self.folder = folder
        self.arrays = arrays  # np.memmap each
        self.starts = np.cumsum([0] + [len(a) for a in arrays])

    @property
    def sample_shape(self) -> tuple[int, ...]:
        return tuple(self.arrays[0].shape[1:])

    @property
    def dtype(self) -> np.dtype:
        return self.arrays[0].dtype

    def key(self) -> str:
        return "npy-" + "x".join(map(str, self.sample_shape)) + f"-{self.dtype}"

    def fingerprint(self, rows) -> str:
        """What a disk cache of these rows depends on: the files (size, modification time) and the rows."""
        files = sorted(self.folder.glob("x_*.npy"))
        stats = [f"{f}\t{f.stat().st_size}\t{f.stat().st_mtime_ns}" for f in files]
        rows_digest = hashlib.sha256(np.asarray(rows, dtype=np.int64).tobytes()).hexdigest()
        return "\n".join(stats) + "\n" + rows_digest

    def read(self, rows: np.ndarray) -> np.ndarray:
        """The samples of `rows` (global row numbers), read from the mapped files."""
        rows = np.asarray(rows, dtype=np.int64)
        out = np.empty((len(rows), *self.sample_shape), dtype=self.dtype)
        which = np.searchsorted(self.starts, rows, side="right") - 1
        for index, array in enumerate(self.arrays):
            mine = which == index
            if mine.any():
                out[mine] = array[rows[mine] - self.starts[index]]
                _release(array)
        return out

    def tf_samples(self, rows, y=None):
        """tf.data of the rows' samples (zipped with `y` when given), read in row order, a block at a time:
        reading a mapped file in order is sequential; the pipeline shuffles after."""
        import tensorflow as tf

        order = np.argsort(rows, kind="stable")
        rows = np.asarray(rows)[order]
        shape, dtype = self.sample_shape, tf.as_dtype(self.dtype)

        def read_block(block):
            samples = tf.numpy_function(self.read, [block], dtype, stateful=False)
            return tf.ensure_shape(samples, (None, *shape))

        # unbatch hides the count; Keras needs it to know an epoch's steps without a warning
        samples = (tf.data.Dataset.from_tensor_slices(rows).batch(READ_BLOCK)
                   .map(read_block, num_parallel_calls=tf.data.AUTOTUNE).unbatch()
                   .apply(tf.data.experimental.assert_cardinality(len(rows))))
        if y is None:
            return samples
        labels = tf.nest.map_structure(lambda a: np.asarray(a)[order], y)  # y, or (y, sample weights)
        return tf.data.Dataset.zip((samples, tf.data.Dataset.from_tensor_slices(labels)))


def _release(array: np.ndarray) -> None:
    """Drop the mapped pages from this process: they stay in the kernel's page cache, but pages read
    through a mapping count as the process's resident memory until then, so a pass over a large file
    would look (and be accounted, e.g. by a container's limit) as if it held the whole file."""
    mapping = getattr(array, "_mmap", None)
    if mapping is not None and hasattr(mmap, "MADV_DONTNEED"):
        mapping.madvise(mmap.MADV_DONTNEED)


def _mapped(path: Path) -> np.ndarray:
    check_npy_file(path, mapped=True)
    try:
        return np.load(path, mmap_mode="r", allow_pickle=False)
    except ValueError as error:
        raise DataError(f"{path}: not a readable .npy array ({error})") from None


def load_npy_folder(folder: Path, cfg) -> RawData:
    files = {p.stem: p for p in folder.glob("*.npy") if p.stem[:2] in ("x_", "y_")}
    arrays = {}
    for name, path in files.items():
        array = _mapped(path)
        arrays[name] = np.array(array) if name.startswith("y_") else array  # labels in memory
    x_bytes = sum(a.nbytes for name, a in arrays.items() if name.startswith("x_"))
    stream = cfg.stream if cfg.stream is not None else x_bytes > STREAM_BYTES
    raw = split_arrays(folder, arrays, cfg, form="npy folder",
                       note=" (memory-mapped, streamed)" if stream else " (memory-mapped)")
    if not stream:
        return raw
    # Splits are taken over row numbers: the same kept/held sets as over the arrays themselves.
    mapped = [getattr(raw, f"x_{split}") for split in _SPLITS if getattr(raw, f"x_{split}") is not None]
    decoding = NpyRows(folder, mapped)
    rows = iter(np.split(np.arange(decoding.starts[-1]), decoding.starts[1:-1]))
    for split in _SPLITS:
        if getattr(raw, f"x_{split}") is not None:
            setattr(raw, f"x_{split}", next(rows))
    raw.decoding = decoding
    return raw
