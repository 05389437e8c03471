"""`cache: disk`: where a streamed split's decoded images are cached, so later runs skip decoding.

The file's name is a hash of what its content depends on: the split's files (path, size and
modification time, in order) and how they are decoded (color mode, size). Scaling is applied after
the cache, so runs that differ only in preprocessing or model share it. tf.data writes the cache
during the first complete pass and reads it from then on; a pass cut short (a killed run) leaves
no `.index` file, and its leftovers are removed here before the next run writes it again.
"""
from __future__ import annotations

import hashlib
import os
from pathlib import Path

from expkit.errors import DataError


def default_cache_dir() -> Path:
    return Path(os.environ.get("EXPKIT_CACHE_DIR") or Path.home() / ".cache" / "expkit" / "tf_data")


def cache_file(cache_dir: str | None, split: str, paths, decoding) -> Path:
    folder = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise DataError(f"dataset.cache_dir '{folder}': cannot create the cache folder ({error.strerror}); "
                        "set dataset.cache_dir to a writable folder, or dataset.cache: memory or none") from None
    digest = hashlib.sha256(f"{decoding.key()}\nblocks\n".encode())  # records of CACHE_BLOCK samples
    if hasattr(decoding, "fingerprint"):  # rows of a file (CSV, .npy): the source knows what they depend on
        digest.update(decoding.fingerprint(paths).encode())
        paths = ()
    for path in paths:
        name = path.decode() if isinstance(path, bytes) else str(path)
        stat = os.stat(name)
        digest.update(f"{name}\t{stat.st_size}\t{stat.st_mtime_ns}\n".encode())
    file = folder / f"{split}-{decoding.key()}-{digest.hexdigest()[:20]}"
    if not Path(f"{file}.index").exists():  # never completed: clear what a cut-short pass left
        for leftover in folder.glob(f"{file.name}*"):
            leftover.unlink(missing_ok=True)
    return file
