"""Warm workers (`expkit sweep --reuse-workers`): a point trained in a reused process is the same run
as in a fresh one, and a worker killed mid-point fails that point only and is replaced."""
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
import yaml

from expkit.runstore import load_runs

ROOT = Path(__file__).resolve().parents[1]
LR = "compile.optimizer.learning_rate"

BASE = {
    "experiment": {"name": "warm", "seed": 3},
    "dataset": {"name": "moons", "samples": 300, "noise": 0.2, "validation_split": 0.2},
    "model": {"layers": [{"type": "Dense", "units": 6, "activation": "tanh"}, {"type": "Dropout", "rate": 0.2},
                         {"type": "Dense", "units": 1, "activation": "sigmoid"}]},
    "compile": {"loss": "binary_crossentropy", "metrics": ["accuracy"],
                "optimizer": {"name": "adam", "learning_rate": 0.05}},
    "training": {"epochs": 3, "batch_size": 32, "verbose": 2, "deterministic": True},
}


def write(tmp_path: Path, sweep: dict) -> Path:
    path = tmp_path / "warm.yaml"
    path.write_text(yaml.safe_dump({**BASE, "sweep": sweep}, sort_keys=False))
    return path


def sweep(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "expkit", "sweep", *map(str, args)], capture_output=True,
                          text=True, timeout=timeout, cwd=ROOT)


def metrics(run_dir: Path) -> list[dict]:
    with (run_dir / "metrics.csv").open() as f:
        return [{k: v for k, v in row.items() if k != "epoch_seconds"} for row in csv.DictReader(f)]


@pytest.mark.slow
def test_a_point_in_a_warm_worker_trains_exactly_as_in_a_fresh_process(tmp_path):
    # Three points in one worker: the second and third run after another model in the same process
    # (layer names, seed generators, graphs), so any state left behind would change their numbers.
    config = write(tmp_path, {"grid": {LR: [0.05, 0.01, 0.2]}})
    fresh = sweep(config, "--runs-dir", tmp_path / "fresh")
    warm = sweep(config, "--runs-dir", tmp_path / "warm", "--reuse-workers")
    assert fresh.returncode == 0 and warm.returncode == 0, fresh.stdout[-2000:] + warm.stdout[-2000:]
    by_lr = {}
    for kind in ("fresh", "warm"):
        for run in load_runs([tmp_path / kind]):
            by_lr.setdefault(run.config["compile"]["optimizer"]["learning_rate"], {})[kind] = run
    assert len(by_lr) == 3
    for lr, runs in by_lr.items():
        assert metrics(runs["fresh"].path) == metrics(runs["warm"].path), lr
        assert runs["fresh"].results["test"] == runs["warm"].results["test"], lr
    pids = {run["warm"].info["pid"] for run in by_lr.values()}
    assert len(pids) == 1  # one worker process trained all three


@pytest.mark.slow
def test_a_worker_killed_mid_point_fails_that_point_only_and_is_replaced(tmp_path):
    config = write(tmp_path, {"grid": {LR: [0.05, 0.01, 0.2]}})
    runs = tmp_path / "runs"
    cmd = [sys.executable, "-m", "expkit", "sweep", str(config), "--runs-dir", str(runs), "--reuse-workers",
           "--set", "training.epochs=40"]
    driver = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    victim = None
    deadline = time.monotonic() + 300
    while victim is None and time.monotonic() < deadline:  # point 2 training: kill its worker
        found = [r for r in load_runs([runs / "warm"])] if (runs / "warm").is_dir() else []
        victim = next((r for r in found if r.status == "running" and len(found) == 2), None)
        time.sleep(0.2)
    assert victim is not None, "point 2 never started"
    os.kill(victim.info["pid"], signal.SIGKILL)
    out, _ = driver.communicate(timeout=600)
    assert driver.returncode == 1, out
    assert "point 2 (compile.optimizer.learning_rate=0.01): failed" in out
    assert "point 3 (compile.optimizer.learning_rate=0.2): completed" in out
    statuses = {json.dumps(r.config["compile"]["optimizer"]["learning_rate"]): (r.status, r.info["pid"])
                for r in load_runs([runs / "warm"])}
    assert statuses["0.01"] == ("stale", victim.info["pid"])  # killed: it could not record anything
    assert statuses["0.2"][0] == "completed" and statuses["0.2"][1] != victim.info["pid"]  # a new worker
    again = subprocess.run([*cmd[:-2], "--set", "training.epochs=40"], cwd=ROOT, capture_output=True, text=True,
                           timeout=600)
    assert again.returncode == 0 and "2 already completed, 1 to run" in again.stdout, again.stdout
    assert "point 2 (compile.optimizer.learning_rate=0.01): completed" in again.stdout  # resumed in its folder


@pytest.mark.slow
def test_two_sweeps_with_warm_workers_on_one_folder_train_each_point_once(tmp_path):
    # Each sweep alone would train all four points; claims (sweep/claims.py) make them split the points.
    config = write(tmp_path, {"grid": {LR: [0.05, 0.01, 0.2, 0.1]}})
    cmd = [sys.executable, "-m", "expkit", "sweep", str(config), "--runs-dir", str(tmp_path / "runs"),
           "--reuse-workers", "--set", "training.epochs=1"]
    sweeps = [subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
              for _ in range(2)]
    outs = [p.communicate(timeout=600)[0] for p in sweeps]
    assert [p.returncode for p in sweeps] == [0, 0], outs
    runs = load_runs([tmp_path / "runs" / "warm"])
    assert len(runs) == 4 and len({r.info["identity"] for r in runs}) == 4, outs  # none trained twice
    assert all(r.status == "completed" for r in runs)
    for out in outs:
        assert "4 of 4 points completed" in out
    assert not list((tmp_path / "runs" / "warm" / "claims").glob("*.claim"))
