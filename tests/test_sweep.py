"""Sweeps: expansion, validation of every point before training, the manifest, and resuming."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import yaml

from expkit.config.sweep import SweepConfig
from expkit.sweep.manifest import hparam_domains, varying_keys
from expkit.sweep.points import expand
from tests.helpers import xor_classifier

ROOT = Path(__file__).resolve().parents[1]

BASE = xor_classifier(0.05, units=4, experiment={"name": "sw", "seed": 0},
                      dataset={"name": "xor", "samples": 200}, training={"epochs": 2, "verbose": 2})


def write(tmp_path: Path, sweep: dict | None = None, **changes) -> Path:
    data = json.loads(json.dumps(BASE))
    data.update(changes)
    if sweep is not None:
        data["sweep"] = sweep
    path = tmp_path / "sweep.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def expkit(*args, timeout=600):
    return subprocess.run([sys.executable, "-m", "expkit", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT)


def test_grid_times_seeds_times_variants_in_a_fixed_order():
    spec = SweepConfig.model_validate({
        "variants": [{"name": "a", "set": {"model.layers.0.units": 2}}, {"name": "b"}],
        "grid": {"compile.optimizer.learning_rate": [0.1, 0.01], "training.batch_size": [16, 32, 64]},
        "seeds": [5, 6]})
    points = expand(spec, base_seed=0, base_name="sw")
    assert len(points) == 2 * 2 * 3 * 2
    assert points[0].overrides == ["experiment.name=sw-a", "model.layers.0.units=2",
                                   "compile.optimizer.learning_rate=0.1", "training.batch_size=16",
                                   "experiment.seed=5"]
    assert points[-1].values == {"experiment.name": "sw-b", "compile.optimizer.learning_rate": 0.01,
                                 "training.batch_size": 64, "experiment.seed": 6}
    assert [p.index for p in points] == list(range(1, 25))
    assert varying_keys(points) == ["experiment.name", "compile.optimizer.learning_rate", "training.batch_size",
                                    "experiment.seed"]


def test_random_points_are_in_range_and_the_same_for_the_same_seed():
    spec = SweepConfig.model_validate({"random": {"samples": 50, "params": {
        "compile.optimizer.learning_rate": {"log_uniform": [1e-4, 1e-1]},
        "model.regularization.dropout": {"uniform": [0.0, 0.5]},
        "model.layers.0.units": {"int_uniform": [2, 8]},
        "compile.optimizer.name": {"choice": ["sgd", "adam"]}}}})
    first = [p.values for p in expand(spec, 3, "sw")]
    assert first == [p.values for p in expand(spec, 3, "sw")]
    assert first != [p.values for p in expand(spec, 4, "sw")]
    lrs = np.array([v["compile.optimizer.learning_rate"] for v in first])
    assert lrs.min() >= 1e-4 and lrs.max() <= 1e-1
    assert (np.log10(lrs) < -2.5).sum() > 10  # log-uniform: many small values, not only near 0.1
    assert {v["model.layers.0.units"] for v in first} <= set(range(2, 9))
    assert {v["compile.optimizer.name"] for v in first} == {"sgd", "adam"}
    domains = hparam_domains(spec, expand(spec, 3, "sw"))
    assert domains["compile.optimizer.learning_rate"] == {"min": 1e-4, "max": 1e-1}
    assert domains["compile.optimizer.name"] == {"values": ["sgd", "adam"]}


@pytest.mark.parametrize("sweep,message", [
    ({"grid": {"model.layers.0.units": []}}, "grid key 'model.layers.0.units' has no values"),
    ({"grid": {"model..units": [1]}}, "'model..units' is not a dotted config path"),
    ({"random": {"samples": 2, "params": {"a.b": {"uniform": [1, 0]}}}}, "needs low < high"),
    ({"random": {"samples": 2, "params": {"a.b": {"log_uniform": [0, 1]}}}}, "needs low > 0"),
    ({"random": {"samples": 2, "params": {"a.b": {"uniform": [0, 1], "choice": [1]}}}}, "exactly one of"),
    ({"seeds": 0}, "must be greater than 0"),
    ({"variants": [{"name": "x"}, {"name": "x"}]}, "variant names must be unique"),
    ({"grdi": {}}, "did you mean 'grid'"),
])
def test_a_bad_sweep_section_is_a_located_config_error(tmp_path, sweep, message):
    result = expkit("sweep", write(tmp_path, sweep), "--runs-dir", tmp_path / "runs")
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "sweep.yaml:" in result.stderr
    assert "Traceback" not in result.stderr and not (tmp_path / "runs").exists()


def test_every_point_is_validated_before_anything_trains(tmp_path):
    cfg = write(tmp_path, {"grid": {"model.layers.0.units": [4, 0, -1]}})
    result = expkit("sweep", cfg, "--runs-dir", tmp_path / "runs", "--grid", "training.epochs=1,2")
    assert result.returncode == 2
    assert "4 of 6 sweep points are invalid; nothing was trained" in result.stderr
    assert "point 3 (model.layers.0.units=0, training.epochs=1)" in result.stderr
    assert "--set model.layers.0.units=-1: model.layers[0].units: must be greater than 0, got -1" in result.stderr
    assert not (tmp_path / "runs").exists()


@pytest.mark.parametrize("args,message", [
    (["--grid", "training.epochs"], "expected KEY=V1,V2"),
    (["--random", "compile.optimizer.learning_rate=gauss:0:1", "--samples", "2"], "expected KEY=uniform:LOW:HIGH"),
    (["--random", "compile.optimizer.learning_rate=uniform:1:0", "--samples", "2"], "needs low < high"),
    (["--random", "compile.optimizer.learning_rate=uniform:0.1:0.2"], "needs both"),
    (["--seeds", "two"], "expected a count (3) or a list of integers"),
    (["--jobs", "0"], "--jobs 0: must be at least 1"),
    (["--grid", "training.epochs=2,2"], "resolve to the same config"),
])
def test_bad_command_line_options(tmp_path, args, message):
    result = expkit("sweep", write(tmp_path), "--runs-dir", tmp_path / "runs", *args)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


def test_dry_run_lists_the_points_and_trains_nothing(tmp_path):
    result = expkit("sweep", write(tmp_path), "--runs-dir", tmp_path / "runs", "--dry-run",
                    "--grid", "compile.optimizer.learning_rate=0.1,0.01", "--seeds", "0,7")
    assert result.returncode == 0, result.stderr
    assert "sweep 'sw': 4 points, all valid; 0 already completed, 4 to run" in result.stdout
    assert "compile.optimizer.learning_rate=0.01, experiment.seed=7" in result.stdout
    assert not (tmp_path / "runs").exists()


def test_train_notes_that_it_ignores_the_sweep_section(tmp_path):
    from expkit.config import load_config
    loaded = load_config(write(tmp_path, {"seeds": 2}))
    assert loaded.config.sweep.seeds == 2
    assert "sweep" not in yaml.safe_load(loaded.to_yaml())


@pytest.mark.slow
def test_a_killed_sweep_resumes_where_it_died(tmp_path):
    cfg = write(tmp_path, {"grid": {"model.layers.0.units": [2, 3, 4, 5, 6, 7]}})
    runs = tmp_path / "runs"
    proc = subprocess.Popen([sys.executable, "-m", "expkit", "sweep", str(cfg), "--runs-dir", str(runs)],
                            cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    manifest = runs / "sw" / "sweep.json"
    deadline = time.time() + 300
    while time.time() < deadline:
        if manifest.is_file():
            points = json.loads(manifest.read_text())["points"]
            if sum(p.get("status") == "completed" for p in points) >= 2:
                break
        time.sleep(0.3)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err[-2000:]
    first = json.loads(manifest.read_text())["points"]
    completed_first = [p["index"] for p in first if p.get("status") == "completed"]
    assert 2 <= len(completed_first) < 6, first

    again = expkit("sweep", cfg, "--runs-dir", runs)
    assert again.returncode == 0, again.stderr[-2000:]
    assert f"{len(completed_first)} already completed, {6 - len(completed_first)} to run" in again.stdout
    trained_again = [line for line in again.stdout.splitlines() if ": completed in" in line]
    assert len(trained_again) == 6 - len(completed_first)
    final = json.loads(manifest.read_text())
    assert [p["status"] for p in final["points"]] == ["completed"] * 6
    statuses = [json.loads((Path(p) / "run.json").read_text())["status"]
                for p in (runs / "sw").iterdir() if (Path(p) / "run.json").is_file()]
    assert statuses.count("completed") == 6
    assert set(statuses) <= {"completed", "interrupted"}  # the killed point stays, marked, not overwritten
    assert final["varying_keys"] == ["model.layers.0.units"]
    assert again.stdout.strip().splitlines()[-1] == str(runs / "sw")


@pytest.mark.slow
def test_jobs_run_points_in_parallel_processes_and_variants_name_runs(tmp_path):
    cfg = write(tmp_path, {"variants": [
        {"name": "linear", "set": {"model.layers": [{"type": "Dense", "units": 1, "activation": "sigmoid"}]}},
        {"name": "hidden"}]})
    result = expkit("sweep", cfg, "--runs-dir", tmp_path / "runs", "--jobs", "2")
    assert result.returncode == 0, result.stderr[-2000:]
    names = sorted(json.loads((p / "run.json").read_text())["name"] for p in (tmp_path / "runs" / "sw").iterdir()
                   if (p / "run.json").is_file())
    assert names == ["sw-hidden", "sw-linear"]
    pids = {json.loads((p / "run.json").read_text())["pid"] for p in (tmp_path / "runs" / "sw").iterdir()
            if (p / "run.json").is_file()}
    assert len(pids) == 2 and os.getpid() not in pids
