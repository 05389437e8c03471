"""Search with an objective (sweep.search, Optuna): a real TPE search with a median pruner on XOR, a
search killed with SIGKILL and restarted, `sweep --status`, pruned runs, and bad input."""
from __future__ import annotations

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
    "experiment": {"name": "xor_lr", "seed": 0},
    "dataset": {"name": "xor", "samples": 400, "noise": 0.1, "validation_split": 0.25},
    "model": {"layers": [{"type": "Dense", "units": 8, "activation": "tanh"},
                         {"type": "Dense", "units": 1, "activation": "sigmoid"}]},
    "compile": {"loss": "binary_crossentropy", "metrics": ["accuracy"],
                "optimizer": {"name": "adam", "learning_rate": 0.01}},
    "training": {"epochs": 8, "batch_size": 32, "verbose": 0},
}


def write(tmp_path: Path, search: dict, **sweep) -> Path:
    data = json.loads(json.dumps(BASE))
    data["sweep"] = {"search": search, **sweep}
    path = tmp_path / "search.yaml"
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def expkit(*args, timeout=600, env=None):
    return subprocess.run([sys.executable, "-m", "expkit", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env=env)


SEARCH = {"objective": "val.accuracy", "sampler": "tpe", "trials": 6, "startup_trials": 2, "pruner": "median",
          "params": {LR: {"log_uniform": [1e-5, 0.3]}}}


@pytest.fixture(scope="module")
def searched(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("search")
    config = write(tmp, SEARCH)
    result = expkit("sweep", config, "--runs-dir", tmp / "runs", "--reuse-workers")  # warm: 6 TF imports fewer
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return config, tmp / "runs", result.stdout


@pytest.mark.slow
def test_tpe_with_a_median_pruner_finds_a_good_learning_rate(searched):
    config, runs, stdout = searched
    manifest = json.loads((runs / "xor_lr" / "sweep.json").read_text())
    states = [t["state"] for t in manifest["trials"]]
    assert len(states) == 6 and set(states) <= {"completed", "pruned"}, states
    assert "pruned" in states  # learning rates near 1e-5 stay at chance and the median pruner stops them
    best = max((t for t in manifest["trials"] if t["state"] == "completed"), key=lambda t: t["value"])
    assert best["value"] >= 0.95 and best["values"][LR] > 1e-3, best
    assert (runs / "xor_lr" / "study.db").is_file()
    assert f"best: trial {best['number']}, val.accuracy {best['value']:.4f} (max)" in stdout
    assert f"parameter importances (Optuna, fANOVA): {LR} 1.000" in stdout
    # every trial is one ordinary run folder that says which trial it was
    trials = {r.info["trial"]["number"]: r for r in load_runs([runs / "xor_lr"])}
    assert sorted(trials) == list(range(6))
    assert all(r.info["trial"]["state"] == r.status for r in trials.values())


@pytest.mark.slow
def test_a_pruned_run_is_a_run_with_status_pruned(searched):
    config, runs, stdout = searched
    pruned = [r for r in load_runs([runs / "xor_lr"]) if r.status == "pruned"]
    assert pruned
    run = pruned[0]
    assert run.info["trial"]["state"] == "pruned" and run.info["error"] is None
    assert run.results["pruned_at_epoch"] == run.info["epochs_run"] < BASE["training"]["epochs"]
    assert (run.path / "model.keras").is_file()
    assert f"trial {run.info['trial']['number']} ({LR}=" in stdout and f"pruned at epoch {run.info['epochs_run']}" in stdout
    table = expkit("compare", runs / "xor_lr", "--columns", "id,status,val.accuracy,epochs_run", "--format", "csv")
    assert table.returncode == 0, table.stderr
    row = next(line for line in table.stdout.splitlines() if line.startswith(run.id))
    assert row.split(",")[1] == "pruned" and row.split(",")[2] != ""  # its metrics are real, and shown


@pytest.mark.slow
def test_status_reports_the_best_trial_without_training(searched):
    config, runs, stdout = searched
    before = len(list((runs / "xor_lr").iterdir()))
    result = expkit("sweep", "--status", config, "--runs-dir", runs)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("search 'xor_lr': 6 of 6 trials done: ")
    assert lines[1] == next(line for line in stdout.splitlines() if line.startswith("best: trial"))
    assert len(list((runs / "xor_lr").iterdir())) == before


def _wait(condition, timeout, what):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _runs(folder: Path) -> list:
    return load_runs([folder]) if folder.is_dir() else []


@pytest.mark.slow
def test_a_search_killed_with_sigkill_finishes_the_rest_when_restarted(tmp_path):
    config = write(tmp_path, {**SEARCH, "trials": 3, "pruner": "none"}, name="killed")
    runs = tmp_path / "runs"
    folder = runs / "killed"
    cmd = [sys.executable, "-m", "expkit", "sweep", str(config), "--runs-dir", str(runs)]
    driver = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:  # kill it while its second trial trains: the first completed, the second half-way
        _wait(lambda: any(r.status == "running" and r.info["trial"]["number"] == 1 for r in _runs(folder)),
              300, "trial 1 to start")
    finally:
        driver.send_signal(signal.SIGKILL)
        driver.wait(timeout=30)
    # the sweep's children die with it (a parent-death signal): trial 1's run says interrupted, or stale
    killed = [r for r in _runs(folder) if r.status in ("running", "stale", "interrupted")]
    for run in killed:
        try:
            os.kill(run.info["pid"], signal.SIGKILL)
        except ProcessLookupError:
            pass
    time.sleep(1)
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "3 of 3 trials done: 3 completed" in result.stdout
    finished = [r for r in _runs(folder) if r.status == "completed"]
    numbers = sorted(r.info["trial"]["number"] for r in finished)
    assert numbers == [0, 1, 2]  # trial 1 ran again under its own number; trial 0 was not run twice
    assert "trial 0 " not in result.stdout
    assert [r.info["trial"]["number"] for r in killed] == [1]
    # trial 1 was taken up again with its own values, in the killed run's own folder (`expkit resume`)
    assert len(_runs(folder)) == 3 and killed[0].path in [r.path for r in finished]
    manifest = json.loads((folder / "sweep.json").read_text())
    assert [t["state"] for t in manifest["trials"]] == ["completed"] * 3


@pytest.mark.parametrize("search, sweep, message", [
    ({"objective": "val.accuracy", "trials": 2, "params": {LR: {"uniform": [0.1, 0.2]}}},
     {"grid": {"training.epochs": [1, 2]}}, "sweep.search: cannot be combined with grid"),
    ({"objective": "test.accuracy", "trials": 2, "pruner": "median", "params": {LR: {"uniform": [0.1, 0.2]}}},
     {}, "sweep.search.pruner: cannot judge test.accuracy during training"),
    ({"objective": "val.accuracy", "trials": 2, "sampler": "grid", "params": {LR: {"log_uniform": [0.1, 0.2]}}},
     {}, "grid needs choice or int_uniform params, got a real range for compile.optimizer.learning_rate"),
    ({"objective": "accuracy", "trials": 2, "params": {LR: {"uniform": [0.1, 0.2]}}},
     {}, "sweep.search.objective"),
    ({"objective": "val.accuracy", "trials": 2, "params": {"model.layers.7.units": {"int_uniform": [1, 4]}}},
     {}, "model.layers.7"),
])
def test_a_bad_search_section_is_exit_2_and_trains_nothing(tmp_path, search, sweep, message):
    result = expkit("sweep", write(tmp_path, search, **sweep), "--runs-dir", tmp_path / "runs", timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()


def test_missing_optuna_is_a_clear_message_and_exit_2(tmp_path):
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "optuna.py").write_text("raise ImportError(\"No module named 'optuna'\")\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT)])}
    result = expkit("sweep", write(tmp_path, SEARCH), "--runs-dir", tmp_path / "runs", env=env, timeout=120)
    assert result.returncode == 2
    assert "needs Optuna, which is not installed: pip install -e '.[search]'" in result.stderr
    assert "Traceback" not in result.stderr


def test_gp_without_torch_is_a_clear_message_and_exit_2(tmp_path):
    # a blocker stands for a machine without torch (the test extra installs it)
    blocker = tmp_path / "site"
    blocker.mkdir()
    (blocker / "torch.py").write_text("raise ImportError(\"No module named 'torch'\", name='torch')\n")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(blocker), str(ROOT)])}
    config = write(tmp_path, {**SEARCH, "sampler": "gp"})
    result = expkit("sweep", config, "--runs-dir", tmp_path / "runs", env=env, timeout=120)
    assert result.returncode == 2, result.stdout + result.stderr
    assert ("sweep.search.sampler: gp needs the torch package, which is not installed: pip install -e '.[gp]'"
            in result.stderr)
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "runs").exists()  # found before the study is created


GP = {"objective": "val.accuracy", "sampler": "gp", "trials": 3, "startup_trials": 1,
      "params": {LR: {"log_uniform": [1e-3, 0.3]}}}


@pytest.mark.slow
def test_a_gp_search_samples_its_trials_after_the_first_with_optunas_gp_sampler(tmp_path):
    """After its one startup trial, GPSampler fits a Gaussian process with torch for each trial."""
    import optuna
    result = expkit("sweep", write(tmp_path, GP), "--runs-dir", tmp_path / "runs", "--reuse-workers",
                    "--set", "training.epochs=1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "sampler gp" in result.stdout and "3 of 3 trials done: 3 completed" in result.stdout, result.stdout
    study = optuna.load_study(study_name="xor_lr", storage=f"sqlite:///{tmp_path / 'runs' / 'xor_lr' / 'study.db'}")
    rates = [t.params[LR] for t in study.trials]
    assert len(set(rates)) == 3 and all(1e-3 <= r <= 0.3 for r in rates)


# CMA-ES over two parameters (one alone, Optuna's CmaEsSampler falls back to random sampling), each
# trial with two seeds: the objective is their mean.
CMAES = {"objective": "val.accuracy", "sampler": "cmaes", "trials": 3, "startup_trials": 1,
         "params": {LR: {"log_uniform": [1e-3, 0.3]}, "model.layers.0.units": {"int_uniform": [2, 8]}}}


@pytest.fixture(scope="module")
def cmaes_searched(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("cmaes")
    config = write(tmp, CMAES)
    result = expkit("sweep", config, "--runs-dir", tmp / "runs", "--seeds", "2", "--reuse-workers",
                    "--set", "training.epochs=2")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return tmp / "runs" / "xor_lr", result.stdout


@pytest.mark.slow
def test_a_cmaes_search_samples_its_trials_with_cma_es(cmaes_searched):
    import optuna
    sweep_dir, stdout = cmaes_searched
    assert "sampler cmaes" in stdout and "3 of 3 trials done: 3 completed" in stdout, stdout
    study = optuna.load_study(study_name="xor_lr", storage=f"sqlite:///{sweep_dir / 'study.db'}")
    sampled = [t.number for t in study.trials if "cma:generation" in t.system_attrs]
    assert sampled == [1, 2]  # after the one startup trial, every trial came from CMA-ES


@pytest.mark.slow
def test_with_seeds_a_trials_objective_is_the_mean_of_its_seed_runs(cmaes_searched):
    sweep_dir, stdout = cmaes_searched
    trials = json.loads((sweep_dir / "sweep.json").read_text())["trials"]
    runs = {str(r.path): r for r in load_runs([sweep_dir])}
    assert len(runs) == 6  # 3 trials x 2 seeds
    for trial in trials:
        seed_runs = [runs[path] for path in trial["runs"]]
        assert sorted(r.seed for r in seed_runs) == [0, 1]
        accuracies = [r.results["val"]["accuracy"] for r in seed_runs]
        assert trial["value"] == pytest.approx(sum(accuracies) / 2)
    assert "(mean of 2 seeds)" in stdout
