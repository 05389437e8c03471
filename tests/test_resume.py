"""Resume: a run killed with SIGKILL (a real process, a real signal) continues in its own folder from
its last finished epoch, and with training.deterministic ends with the same metrics as a run never
interrupted; metrics.csv holds each epoch once; run.json records each attempt; liveness says stale."""
from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from helpers import config_dict, write_config

ROOT = Path(__file__).resolve().parents[1]
EPOCHS = 3


def _env() -> dict:
    return {**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"}


def xor_config(tmp_path: Path, samples: int = 2000, epochs: int = EPOCHS, **training) -> Path:
    """Epochs long enough (~0.3 s) to be killed in the middle of one, and a state big enough (0.27 M
    parameters: 3 MB with Adam's moments) that its save takes long enough to be killed during it."""
    data = config_dict([{"type": "Dense", "units": 512, "activation": "tanh"},
                        {"type": "Dropout", "rate": 0.2},
                        {"type": "Dense", "units": 512, "activation": "tanh"},
                        {"type": "Dense", "units": 1, "activation": "sigmoid"}],
                       dataset={"name": "xor", "samples": samples, "noise": 0.2, "validation_split": 0.1},
                       compile={"loss": "binary_crossentropy", "optimizer": {"name": "adam", "learning_rate": 0.01},
                                "metrics": ["accuracy"]},
                       training={"epochs": epochs, "batch_size": 32, "deterministic": True, "verbose": 2,
                                 **training})
    return write_config(tmp_path, data)


def expkit(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "expkit", *map(str, args)], capture_output=True, text=True,
                          env=_env(), timeout=300, **kw)


def start_train(config: Path, runs: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "expkit", "train", str(config), "--runs-dir", str(runs)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=_env())


def rows(run_dir: Path) -> list[dict]:
    if not (run_dir / "metrics.csv").is_file():  # a resume with no finished epoch starts it anew
        return []
    with open(run_dir / "metrics.csv", newline="") as f:
        return list(csv.DictReader(f))


def wait_for_rows(run_dir_parent: Path, count: int, proc: subprocess.Popen, timeout: float = 120) -> Path:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for path in run_dir_parent.glob("*/metrics.csv"):
            if len(rows(path.parent)) >= count:
                return path.parent
        assert proc.poll() is None, "the run ended before it could be killed"
        time.sleep(0.02)
    raise AssertionError(f"no run reached {count} epochs in {timeout} s")


def values(table: list[dict]) -> list[dict]:
    """The rows without the wall-clock column."""
    return [{k: v for k, v in row.items() if k != "epoch_seconds"} for row in table]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """The config, and a run of it never interrupted."""
    tmp_path = tmp_path_factory.mktemp("reference")
    config = xor_config(tmp_path)
    done = expkit("train", config, "--runs-dir", tmp_path / "runs", "--set", "training.keep_state=true")
    assert done.returncode == 0, done.stderr
    (run_dir,) = (tmp_path / "runs").iterdir()
    assert (run_dir / "state.npz").is_file()  # kept on completion, as asked
    return config, run_dir


@pytest.mark.slow
def test_sigkill_in_an_epoch_then_resume_matches_an_uninterrupted_run(tmp_path, reference):
    config, reference = reference
    killed = tmp_path / "killed"
    proc = start_train(config, killed)
    run_dir = wait_for_rows(killed, 2, proc)  # now in epoch 3
    time.sleep(0.1)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "running"  # what the killed process left
    listed = expkit("compare", run_dir, "--format", "json")
    assert json.loads(listed.stdout)["rows"][0]["status"] == "stale", listed.stdout

    resumed = expkit("resume", run_dir)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming stale run from the end of epoch" in resumed.stdout
    assert values(rows(run_dir)) == values(rows(reference))
    assert [int(r["epoch"]) for r in rows(run_dir)] == list(range(1, EPOCHS + 1))
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "completed"
    assert [a["status"] for a in info["attempts"]] == ["running", "completed"]  # the killed one never wrote its end
    assert info["attempts"][1]["initial_epoch"] >= 1  # 2 when the kill came after the epoch-2 save
    assert info["attempts"][0]["pid"] != info["attempts"][1]["pid"]
    assert not (run_dir / "state.npz").exists()  # removed on completion
    results = json.loads((run_dir / "results.json").read_text())
    want = json.loads((reference / "results.json").read_text())
    assert results["test"] == want["test"] and results["val"] == want["val"]
    again = expkit("resume", run_dir)
    assert again.returncode == 2 and "already completed" in again.stderr


def temp_files(folder: Path) -> list[Path]:
    return list(folder.glob(".*.tmp*"))


def kill_during_state_save(runs: Path, proc: subprocess.Popen, timeout: float = 120) -> Path:
    """SIGKILL the moment a state file's temporary copy exists: in the middle of the end-of-epoch save."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and proc.poll() is None:
        for tmp in runs.glob("*/.state.*.tmp.npz"):
            proc.send_signal(signal.SIGKILL)
            proc.wait()
            return tmp.parent
        time.sleep(0.0005)
    raise AssertionError("never saw a state save in progress")


@pytest.mark.slow
def test_fault_injection_sigkill_at_random_moments(tmp_path, reference):
    """Two runs, killed at different kinds of moment (one during the end-of-epoch save; one at a random
    time after its first epoch, then its resume killed again), each resumed to completion: every metrics.csv has each
    epoch once and matches the uninterrupted run's, the model loads, no temporary file is left."""
    import random
    config, reference = reference
    rng = random.Random(0)

    runs = tmp_path / "save"
    proc = start_train(config, runs)
    run_dir = kill_during_state_save(runs, proc)
    assert temp_files(run_dir), "the kill did not land during the save"
    finished = [run_dir]
    # Resumed now, while the second run goes on: its TensorFlow import and epochs overlap the rest.
    save_log = (tmp_path / "save-resume.log").open("w")
    save_resume = subprocess.Popen([sys.executable, "-m", "expkit", "resume", str(run_dir)], env=_env(),
                                   stdout=subprocess.DEVNULL, stderr=save_log)

    runs = tmp_path / "twice"
    proc = start_train(config, runs)
    run_dir = wait_for_rows(runs, 1, proc)
    # Somewhere in epoch 2 (or in epoch 1's save): a fraction of the reference's shortest epoch, so the
    # kill lands before the run ends on a fast, idle machine as well as on a loaded one.
    epoch = min(float(r["epoch_seconds"]) for r in rows(reference))
    time.sleep(rng.uniform(0.0, 0.8) * epoch)
    assert proc.poll() is None, "the run ended before the kill: the test's timing is wrong, not expkit"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    resume = subprocess.Popen([sys.executable, "-m", "expkit", "resume", str(run_dir)], env=_env(),
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    start = len(rows(run_dir))
    deadline = time.monotonic() + 120
    while len(rows(run_dir)) <= start and resume.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)  # killed again once the resumed run has finished one more epoch
    time.sleep(rng.uniform(0.0, 0.8) * epoch)
    assert resume.poll() is None, "the resumed run ended before its kill: the test's timing is wrong"
    resume.send_signal(signal.SIGKILL)
    resume.wait()
    finished.append(run_dir)
    assert save_resume.wait(timeout=300) == 0, (tmp_path / "save-resume.log").read_text()[-3000:]
    save_log.close()

    import keras
    for run_dir in finished:
        # The second kill can come after the resumed run's last epoch: then it has already completed.
        if json.loads((run_dir / "run.json").read_text())["status"] != "completed":
            done = expkit("resume", run_dir)
            assert done.returncode == 0, (run_dir, done.stderr)
        table = rows(run_dir)
        assert [int(r["epoch"]) for r in table] == list(range(1, EPOCHS + 1)), run_dir
        assert values(table) == values(rows(reference)), run_dir
        assert keras.saving.load_model(run_dir / "model.keras").count_params() > 250_000
        assert not temp_files(run_dir), temp_files(run_dir)
        info = json.loads((run_dir / "run.json").read_text())
        assert info["status"] == "completed" and len(info["attempts"]) >= 2
    assert len(json.loads((finished[1] / "run.json").read_text())["attempts"]) == 3
