"""A small reader for the IDX format of MNIST and Fashion-MNIST.

IDX (http://yann.lecun.com/exdb/mnist/): a 4-byte big-endian magic number whose third byte is
the element type and fourth byte the number of dimensions (2051 = unsigned bytes, 3 dimensions:
images; 2049 = unsigned bytes, 1 dimension: labels), then one big-endian uint32 per dimension,
then the elements. The standard files are gzip-compressed.
"""
from __future__ import annotations

import gzip
import hashlib
import zlib
from pathlib import Path

import numpy as np

from expkit.errors import DataError

IMAGES_MAGIC = 2051
LABELS_MAGIC = 2049
# The four standard names, in the order (x_train, y_train, x_test, y_test).
IDX_FILES = ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz",
             "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz")
_EXPECTED_MAGIC = dict(zip(IDX_FILES, (IMAGES_MAGIC, LABELS_MAGIC, IMAGES_MAGIC, LABELS_MAGIC)))
_ELEMENT_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}
_GZIP_MAGIC = b"\x1f\x8b"


def parse_idx(raw: bytes, where: str, magic: int | None = None) -> np.ndarray:
    """The array stored in `raw` (the file's bytes, gzip-compressed or not); `where` names it in errors."""
    if raw[:2] == _GZIP_MAGIC:
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{where}: corrupt or truncated gzip data ({error}). "
                            "Download the file again.") from None
    if len(raw) < 4:
        raise DataError(f"{where}: not an IDX file: only {len(raw)} bytes, the header alone needs 4 or more")
    found = int.from_bytes(raw[:4], "big")
    if magic is not None and found != magic:
        raise DataError(f"{where}: not an IDX file of {'images' if magic == IMAGES_MAGIC else 'labels'}: "
                        f"magic number {found}, expected {magic}. Is it the right file, and intact?")
    element, ndim = raw[2], raw[3]
    if raw[:2] != b"\x00\x00" or element not in _ELEMENT_TYPES or ndim == 0:
        raise DataError(f"{where}: not an IDX file: bad magic number {found}")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise DataError(f"{where}: truncated IDX header: {len(raw)} bytes, expected at least {header}")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    dtype = np.dtype(_ELEMENT_TYPES[element])
    expected = header + int(np.prod(shape)) * dtype.itemsize
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "has trailing bytes"
        raise DataError(f"{where}: {state}: the header announces shape {shape}, i.e. {expected} bytes, "
                        f"but the file holds {len(raw)}. Download the file again.")
    array = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return array if dtype.byteorder in ("=", "|") else array.astype(dtype.newbyteorder("="))


def read_idx(path: Path, magic: int | None = None) -> np.ndarray:
    """The array in one IDX file (gzip-compressed or not)."""
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise DataError(f"cannot read IDX file {path}: {error.strerror}") from None
    return parse_idx(raw, str(path), magic)


def md5(raw: bytes) -> str:
    return hashlib.md5(raw).hexdigest()


def find_idx_files(folder: Path) -> dict[str, Path]:
    """The four standard files in `folder` (each .gz, or else its uncompressed twin); missing ones omitted."""
    found = {}
    for name in IDX_FILES:
        for candidate in (folder / name, folder / name.removesuffix(".gz")):
            if candidate.is_file():
                found[name] = candidate
                break
    return found


def read_idx_set(files: dict[str, Path | bytes], where: str):
    """(x_train, y_train, x_test, y_test) from the four standard files, given as paths or bytes.

    Checks each file's magic number and size, and that images and labels are as many.
    """
    arrays = []
    for name in IDX_FILES:
        source = files[name]
        if isinstance(source, bytes):
            arrays.append(parse_idx(source, f"{where}/{name}", _EXPECTED_MAGIC[name]))
        else:
            arrays.append(read_idx(source, _EXPECTED_MAGIC[name]))
    x_train, y_train, x_test, y_test = arrays
    for split, x, y in (("train", x_train, y_train), ("t10k", x_test, y_test)):
        if len(x) != len(y):
            raise DataError(f"{where}: {split}-images holds {len(x)} images but {split}-labels holds "
                            f"{len(y)} labels; they must match. Is one of the files from another set?")
    if x_train.shape[1:] != x_test.shape[1:]:
        raise DataError(f"{where}: training images are {x_train.shape[1:]} but test images are "
                        f"{x_test.shape[1:]}; they must have the same size")
    return x_train, y_train, x_test, y_test
