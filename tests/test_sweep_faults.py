"""Sweeps under faults, with real processes and real signals: `kill -9` of `expkit sweep --jobs 2`
takes its children down with it, and the rerun resumes the interrupted points in their own folders
(no point trained twice); two `expkit sweep` on one folder at once split the points between them."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from expkit.runstore import load_runs, process_gone
from helpers import config_dict, write_config

ROOT = Path(__file__).resolve().parents[1]


def sweep_config(tmp_path: Path, units: list[int], epochs: int = 3) -> Path:
    data = config_dict([{"type": "Dense", "units": 4, "activation": "tanh"},
                        {"type": "Dense", "units": 1, "activation": "sigmoid"}],
                       experiment={"name": "faults", "seed": 0},
                       dataset={"name": "xor", "samples": 6000, "validation_split": 0.1},
                       compile={"loss": "binary_crossentropy", "optimizer": "adam"},
                       training={"epochs": epochs, "batch_size": 8, "verbose": 2},
                       sweep={"grid": {"model.layers.0.units": units}})
    return write_config(tmp_path, data)


def start_sweep(config: Path, runs: Path, *args) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "expkit", "sweep", str(config), "--runs-dir", str(runs), *args],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"})


def training_runs(sweep_dir: Path, rows: int, count: int, timeout: float = 300) -> list[Path]:
    """Wait until `count` run folders have at least `rows` epochs in metrics.csv."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ready = [p.parent for p in sweep_dir.glob("*/metrics.csv") if len(p.read_text().splitlines()) > rows]
        if len(ready) >= count:
            return ready
        time.sleep(0.05)
    raise AssertionError(f"no {count} runs reached epoch {rows} in {timeout} s")


def identities(sweep_dir: Path) -> list[str]:
    return sorted(r.info["identity"] for r in load_runs([sweep_dir]))


@pytest.mark.slow
def test_kill_9_of_a_sweep_takes_its_children_and_the_rerun_resumes_them(tmp_path):
    config = sweep_config(tmp_path, [2, 3, 5])
    sweep_dir = tmp_path / "runs" / "faults"
    sweep = start_sweep(config, tmp_path / "runs", "--jobs", "2")
    children = training_runs(sweep_dir, 1, 2)
    pids = [json.loads((run / "run.json").read_text())["pid"] for run in children]
    sweep.send_signal(signal.SIGKILL)
    sweep.wait()
    deadline = time.monotonic() + 60
    infos = [json.loads((run / "run.json").read_text()) for run in children]
    while not all(process_gone(info) for info in infos) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert all(process_gone(info) for info in infos), f"children {pids} still alive after the sweep was killed"
    assert not list(sweep_dir.glob("logs")), "logs live in each run folder"
    assert all((run / "train.log").is_file() for run in children)

    rerun = start_sweep(config, tmp_path / "runs", "--jobs", "2")
    out, _ = rerun.communicate(timeout=600)
    assert rerun.returncode == 0, out
    runs = load_runs([sweep_dir])
    assert [r.status for r in runs] == ["completed"] * 3, out
    assert len(set(identities(sweep_dir))) == 3  # one run per point: none trained twice
    resumed = [r for r in runs if len(r.info["attempts"]) == 2]
    assert sorted(r.path for r in resumed) == sorted(children), out
    for run in resumed:
        assert [int(row["epoch"]) for row in run.metrics_csv()] == [1, 2, 3]
    assert not list((sweep_dir / "claims").glob("*.claim"))


@pytest.mark.slow
def test_two_sweeps_on_one_folder_train_each_point_once(tmp_path):
    config = sweep_config(tmp_path, [2, 3, 4], epochs=1)
    first = start_sweep(config, tmp_path / "runs")
    second = start_sweep(config, tmp_path / "runs")
    outs = [p.communicate(timeout=600)[0] for p in (first, second)]
    assert first.returncode == 0 and second.returncode == 0, outs
    sweep_dir = tmp_path / "runs" / "faults"
    runs = load_runs([sweep_dir])
    assert len(runs) == 3 and len(set(identities(sweep_dir))) == 3, outs
    for out in outs:
        assert "3 of 3 points completed" in out
