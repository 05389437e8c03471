"""A full disk or a file-size limit while a run trains: one line on stderr, exit 1 (2 when even the
run folder cannot be written), run.json says failed, no temporary file left behind. Real limits, real
processes: a small tmpfs (needs root: skipped otherwise) gives ENOSPC; RLIMIT_FSIZE in the child
gives EFBIG (with SIGXFSZ ignored, as a shell's `ulimit -f` would leave it) on any machine."""
from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from helpers import config_dict, write_config

ROOT = Path(__file__).resolve().parents[1]


def xor(tmp_path: Path) -> Path:
    data = config_dict([{"type": "Dense", "units": 8, "activation": "tanh"},
                        {"type": "Dense", "units": 1, "activation": "sigmoid"}],
                       dataset={"name": "xor", "samples": 400, "validation_split": 0.1},
                       compile={"loss": "binary_crossentropy", "optimizer": "adam"},
                       training={"epochs": 2, "verbose": 0})
    return write_config(tmp_path, data)


def train(config: Path, runs: Path, preexec=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "expkit", "train", str(config), "--runs-dir", str(runs)],
                          capture_output=True, text=True, timeout=300, preexec_fn=preexec,
                          env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"})


def error_lines(stderr: str) -> list[str]:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert "Traceback" not in stderr, stderr
    return [line for line in lines if line.startswith("error:")]


def assert_failed_cleanly(runs: Path, result, reason: str) -> None:
    assert result.returncode == 1, result.stderr
    (line,) = error_lines(result.stderr)
    assert line.startswith("error: training failed: OSError:") and reason in line, line
    (run_dir,) = runs.iterdir()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "failed" and reason in info["error"]
    assert not [p for p in run_dir.rglob(".*") if ".tmp" in p.name]


@pytest.fixture
def tmpfs(tmp_path):
    mount = tmp_path / "small"
    mount.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=40k", "tmpfs", str(mount)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a tmpfs needs root")
    yield mount
    subprocess.run(["umount", str(mount)], check=False)


def test_disk_full_during_training_fails_in_one_line(tmp_path, tmpfs):
    """40 KB: the config and run.json fit, the model (21 KB) and TensorBoard's files do not."""
    result = train(xor(tmp_path), tmpfs / "runs")
    assert_failed_cleanly(tmpfs / "runs", result, "No space left on device")


def _file_size_limit():
    resource.setrlimit(resource.RLIMIT_FSIZE, (12_000, 12_000))
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)


def test_file_size_limit_during_the_model_save_fails_in_one_line(tmp_path):
    """No file may grow past 12 KB: model.keras (21 KB) cannot be written; the temporary copy is removed."""
    runs = tmp_path / "runs"
    result = train(xor(tmp_path), runs, preexec=_file_size_limit)
    assert_failed_cleanly(runs, result, "File too large")
    (run_dir,) = runs.iterdir()
    assert not (run_dir / "model.keras").exists()
