"""A run's identity for sweeps: which config it trained and on which data, stable across schema
versions and folder moves.

The identity hashes only the config keys whose values differ from the schema's defaults (so a new
default added later changes no existing identity), plus IDENTITY_FORMAT; a file dataset contributes a
fingerprint of its content (size and SHA-256 of each file) instead of its absolute path (so moving the
data keeps the identity, and changing a CSV changes it). Content hashes are cached by (path, size,
mtime) in ~/.cache/expkit/fingerprints.json (EXPKIT_CACHE_DIR overrides the folder): a sweep over a
large image folder hashes it once.

Runs from before identities (no `identity` in run.json) are matched by the older full-config hash.
"""
from __future__ import annotations

import glob
import hashlib
import json
import os
from pathlib import Path

from expkit.runstore.atomic import write_json

IDENTITY_FORMAT = 1


def cache_file() -> Path:
    folder = os.environ.get("EXPKIT_CACHE_DIR") or Path.home() / ".cache" / "expkit"
    return Path(folder) / "fingerprints.json"


def _file_digest(path: Path, cache: dict) -> str:
    stat = path.stat()
    key = f"{path.resolve()}|{stat.st_size}|{stat.st_mtime_ns}"
    if key not in cache:
        digest = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                digest.update(block)
        cache[key] = digest.hexdigest()
    return cache[key]


def data_fingerprint(path: str | Path) -> dict:
    """{'files', 'bytes', 'sha256'} of a data file or folder (every file below it, by relative path)."""
    path = Path(path)
    store = cache_file()
    try:
        cache = json.loads(store.read_text())
    except (OSError, ValueError):
        cache = {}
    before = len(cache)
    root = path if path.is_dir() else path.parent
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file())
    elif not path.exists() and _is_glob(path):  # tfrecord's files: named below the glob's folder
        files = sorted(Path(f) for f in glob.glob(str(path), recursive=True) if os.path.isfile(f))
        root = Path(*path.parts[:next(i for i, p in enumerate(path.parts) if _is_glob(p))])
    else:
        files = [path]
    total = hashlib.sha256()
    size = 0
    for file in files:
        name = file.relative_to(root).as_posix()
        total.update(f"{name}\0{_file_digest(file, cache)}\0".encode())
        size += file.stat().st_size
    if len(cache) != before:
        try:
            store.parent.mkdir(parents=True, exist_ok=True)
            write_json(store, cache)
        except OSError:
            pass  # a cache that cannot be written only costs time
    return {"files": len(files), "bytes": size, "sha256": total.hexdigest()}


def _is_glob(path) -> bool:
    return bool(set("*?[") & set(str(path)))


def run_identity(config, fingerprint: dict | None = None) -> str:
    """The identity of an ExperimentConfig (pydantic model): non-default keys, the data's fingerprint."""
    data = config.model_dump(mode="json", exclude_defaults=True)
    data.pop("sweep", None)
    dataset = data.get("dataset", {})
    if fingerprint is not None and isinstance(dataset, dict) and "path" in dataset:
        dataset["path"] = fingerprint["sha256"]
    text = json.dumps({"identity_format": IDENTITY_FORMAT, "config": data}, sort_keys=True,
                      separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def identify(config) -> tuple[str, dict | None]:
    """(identity, data fingerprint or None) of an ExperimentConfig, fingerprinting its data file."""
    dataset = config.dataset
    fingerprint = None
    # npz, csv, idx, image_folder, a skipgram text; tfrecord's glob (its files)
    if dataset.path and (Path(dataset.path).exists() or _is_glob(dataset.path)):
        fingerprint = data_fingerprint(dataset.path)
    return run_identity(config, fingerprint), fingerprint
