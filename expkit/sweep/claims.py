"""Claims: a sweep point is trained by one process at a time, however many `expkit sweep` run on the
folder. Before a point starts, its claim file (claims/<point hash>.claim: pid, host, process start,
time) is created with O_CREAT|O_EXCL; it is removed when the point ends. A claim whose owner is gone
(killed sweep: its children die with it) is taken over. Takeovers happen under an flock on
claims/.lock, so two sweeps cannot both decide a dead claim is theirs."""
from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from pathlib import Path

from expkit.runstore import process_gone, this_process


class Claims:
    def __init__(self, sweep_dir: Path):
        self.folder = Path(sweep_dir) / "claims"
        self.folder.mkdir(parents=True, exist_ok=True)
        self.held: set[str] = set()

    def path(self, key: str) -> Path:
        return self.folder / f"{key}.claim"

    @contextlib.contextmanager
    def _locked(self):
        with open(self.folder / ".lock", "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(lock, fcntl.LOCK_UN)

    def acquire(self, key: str) -> bool:
        """True when this process now holds the claim on `key`; False while a live process holds it."""
        path = self.path(key)
        with self._locked():
            try:
                owner = json.loads(path.read_text())
            except FileNotFoundError:
                owner = None
            except (OSError, ValueError):
                owner = {}  # unreadable: its writer died mid-write
            if owner is not None:
                if isinstance(owner, dict) and owner and not process_gone(owner):
                    return False
                path.unlink(missing_ok=True)  # its owner is gone: take it over
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o644)
            with os.fdopen(fd, "w") as f:
                json.dump({**this_process(), "time": time.time()}, f)
        self.held.add(key)
        return True

    def release(self, key: str) -> None:
        if key in self.held:
            self.held.discard(key)
            self.path(key).unlink(missing_ok=True)

    def release_all(self) -> None:
        for key in list(self.held):
            self.release(key)
