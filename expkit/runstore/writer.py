"""Creating a run folder and keeping its run.json. No TensorFlow here."""
from __future__ import annotations

import platform
import secrets
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import expkit
from expkit.errors import ExpkitError
from expkit.runstore.atomic import write_json
from expkit.runstore.folder import FORMAT_VERSION, RunFolder
from expkit.runstore.liveness import this_process

def now() -> datetime:
    return datetime.now(timezone.utc).astimezone()


def make_runs_dir(runs_dir: Path) -> Path:
    """The folder runs go to, created when missing; a file in the way or a read-only disk is a one-line error."""
    try:
        runs_dir.mkdir(parents=True, exist_ok=True)
        return runs_dir
    except (FileExistsError, NotADirectoryError):
        raise ExpkitError(f"--runs-dir {runs_dir}: it (or a folder above it) is a file, not a folder; "
                          "name a folder (it is created when missing)") from None
    except OSError as exc:  # read-only, permission denied, disk full
        raise ExpkitError(f"--runs-dir {runs_dir}: cannot create a folder there ({exc.strerror or exc}); "
                          "name a folder you can write to") from None


def create_run_dir(runs_dir: Path, name: str, started: datetime) -> Path:
    """runs/<YYYYmmdd-HHMMSS>-<name>-<4 hex>/, created exclusively: an existing folder is never reused."""
    make_runs_dir(runs_dir)
    for _ in range(100):
        path = runs_dir / f"{started:%Y%m%d-%H%M%S}-{name}-{secrets.token_hex(2)}"
        try:
            path.mkdir()
            return path
        except FileExistsError:
            continue
        except OSError as exc:
            raise ExpkitError(f"--runs-dir {runs_dir}: cannot create a run folder there ({exc.strerror or exc}); "
                              "name a folder you can write to") from None
    raise RuntimeError(f"could not make a new run folder in {runs_dir}")


# A repository's own config can name commands git runs (core.fsmonitor runs one on `git status`):
# expkit only reads the commit, so nothing configured in the repository is run.
_GIT = ["git", "-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null"]


def git_commit(folder: Path) -> str | None:
    """The commit of the repository holding `folder` (the config file's), with '-dirty' when it has changes."""
    try:
        head = subprocess.run([*_GIT, "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=5)
        if head.returncode != 0:
            return None
        dirty = subprocess.run([*_GIT, "status", "--porcelain", "--untracked-files=no"], cwd=folder,
                               capture_output=True, text=True, timeout=5).stdout.strip()
        return head.stdout.strip() + ("-dirty" if dirty else "")
    except (OSError, subprocess.SubprocessError):
        return None


class RunRecord:
    """run.json, rewritten atomically at each change of status. Each process that works on the run
    (the first training, then each `expkit resume`) is one entry of `attempts`; the top-level pid, host
    and process_start are the current attempt's, so liveness checks look at the process that counts."""

    def __init__(self, run_dir: Path, name: str, seed: int, started: datetime, device: str, versions: dict,
                 details: dict | None = None, config_file: Path | None = None):
        self.path = RunFolder(run_dir).run_json
        self.data = {
            "format_version": FORMAT_VERSION, "id": run_dir.name, "name": name, "status": "running",
            "start_time": started.isoformat(timespec="seconds"), "end_time": None, "duration_seconds": None,
            "seed": seed, "device": device,
            "versions": {"python": platform.python_version(), "expkit": expkit.__version__, **versions},
            "command": sys.argv[:], "git_commit": git_commit(Path(config_file).resolve().parent if config_file else Path.cwd()), "error": None,
            **(details or {}),  # backend, distribution, replicas, per-replica batch, GPUs given by a sweep
        }
        self._begin_attempt(started)

    @classmethod
    def reopen(cls, run_dir: Path, started: datetime, initial_epoch: int) -> "RunRecord":
        """The run.json of an interrupted, killed or failed run, as `expkit resume` continues it."""
        folder = RunFolder(run_dir)
        data = folder.read_json(folder.run_json, required=True)
        if not data.get("attempts"):  # written before attempts were recorded: the first one, as far as known
            data["attempts"] = [{key: data.get(key) for key in ("pid", "host", "start_time", "end_time", "status")}]
        data.pop("epochs_run", None)
        record = cls.__new__(cls)
        record.path = folder.run_json
        record.data = data
        record._begin_attempt(started, initial_epoch=initial_epoch, command=sys.argv[:])
        return record

    def _begin_attempt(self, started: datetime, **extra) -> None:
        me = this_process()
        attempt = {**me, "start_time": started.isoformat(timespec="seconds"), "end_time": None, "status": "running",
                   **extra}
        self.data.update(status="running", end_time=None, duration_seconds=None, error=None, **me)
        self.data.setdefault("attempts", []).append(attempt)
        write_json(self.path, self.data)

    def update(self, **fields) -> None:
        self.data.update(fields)
        write_json(self.path, self.data)

    def finish(self, status: str, error: str | None = None, **extra) -> None:
        """Record the outcome. OSError (disk full, read-only) propagates: the caller reports it."""
        ended = now()
        started = datetime.fromisoformat(self.data["start_time"])
        self.data.update(status=status, end_time=ended.isoformat(timespec="seconds"),
                         duration_seconds=round((ended - started).total_seconds(), 3), error=error, **extra)
        self.data["attempts"][-1].update(status=status, end_time=ended.isoformat(timespec="seconds"),
                                         **({"error": error} if error else {}))
        write_json(self.path, self.data)
