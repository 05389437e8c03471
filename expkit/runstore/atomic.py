"""Atomic, durable writes: a unique temporary file in the same folder, flushed and fsynced, then
os.replace'd over the target. A reader sees the old file or the new one, never half of one, and
two writers of one path never share a temporary name."""
from __future__ import annotations

import contextlib
import json
import os
import re
import secrets
from pathlib import Path
from typing import Callable, Iterator


def temp_path(path: Path) -> Path:
    """A unique sibling of `path` that keeps its suffix (Keras checks a model file's '.keras')."""
    return path.with_name(f".{path.stem}.{os.getpid()}-{secrets.token_hex(4)}.tmp{path.suffix}")


def fsync_dir(folder: Path) -> None:
    """Make a rename in `folder` durable (a no-op where directories cannot be opened)."""
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


@contextlib.contextmanager
def replacing(path: Path) -> Iterator[Path]:
    """Yield a temporary path to write; on success it replaces `path`, on failure it is removed."""
    path = Path(path)
    tmp = temp_path(path)
    try:
        yield tmp
        if tmp.is_file():
            with open(tmp, "rb+") as f:
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    fsync_dir(path.parent)


def write_atomic(path: Path, content: str | bytes) -> None:
    with replacing(Path(path)) as tmp:
        with open(tmp, "wb") as f:
            f.write(content.encode("utf-8") if isinstance(content, str) else content)


def write_json(path: Path, data: dict) -> None:
    write_atomic(path, json.dumps(data, indent=2, sort_keys=False, default=str) + "\n")


def save_atomic(path: Path, save: Callable[[Path], None]) -> None:
    """`save(tmp)` writes a file (model.save, an export); it then replaces `path` whole."""
    with replacing(Path(path)) as tmp:
        save(tmp)


def clean_temp_files(folder: Path) -> list[Path]:
    """Remove the temporary files (temp_path's names) that a killed writer left in `folder`; files of
    writers still alive are kept. Returns what was removed."""
    from expkit.runstore.liveness import process_start
    removed = []
    for path in Path(folder).glob(".*.tmp*"):
        match = re.search(r"\.(\d+)-[0-9a-f]{8}\.tmp", path.name)
        if match and (int(match[1]) == os.getpid() or process_start(int(match[1])) is None):
            with contextlib.suppress(OSError):
                path.unlink()
                removed.append(path)
    return removed
