"""training.distribution and the device settings: config checks, and MirroredStrategy on a CPU split into two
logical devices (the stand-in for two GPUs) trained through the Python API in a subprocess."""
from __future__ import annotations

import json
import re
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from expkit.errors import ExpkitError
from tests.helpers import load, xor_classifier

ROOT = Path(__file__).resolve().parents[1]
LAYERS = [{"type": "Dense", "units": 4, "activation": "tanh"}, {"type": "Dense", "units": 1}]


@pytest.mark.parametrize("training,path,message", [
    ({"distribution": "mirrored", "backend": "jax"}, "training.distribution", "use distribution: data_parallel on JAX"),
    ({"distribution": "data_parallel"}, "training.distribution", "set backend: jax"),
    ({"devices": ["/cpu:0"]}, "training.devices", "set training.distribution: mirrored"),
    ({"distribution": "mirrored", "steps_per_execution": 8}, "training.steps_per_execution",
     "set training.steps_per_execution: 1"),
    ({"backend": "jax", "gpu_memory": 2048}, "training.gpu_memory", "use growth or all"),
])
def test_settings_that_do_not_work_together_are_config_errors(tmp_path, training, path, message):
    with pytest.raises(ExpkitError) as info:
        load(tmp_path, LAYERS, training=training)
    assert path in str(info.value) and message in str(info.value)
    assert "exp.yaml:" in str(info.value)  # points at the line


@pytest.mark.parametrize("training,message", [
    ({"devices": ["cpu"], "distribution": "mirrored"}, "is not a TensorFlow device: write /gpu:N"),
    ({"devices": ["/tpu:0"], "distribution": "mirrored"}, "is not a TensorFlow device: write /gpu:N"),
    ({"devices": [], "distribution": "mirrored"}, "training.devices"),
    ({"gpu_memory": 0}, "training.gpu_memory"),
    ({"gpu_memory": "some"}, "training.gpu_memory"),
    ({"distribution": "horovod"}, "training.distribution"),
    ({"backend": "torch"}, "training.backend"),
])
def test_bad_device_values_are_named(tmp_path, training, message):
    with pytest.raises(ExpkitError, match=re.escape(message)):
        load(tmp_path, LAYERS, training=training)


def test_the_defaults_are_one_device_tensorflow_and_memory_growth(tmp_path):
    training = load(tmp_path, LAYERS).config.training
    assert (training.backend, training.distribution, training.devices, training.gpu_memory) == \
        ("tensorflow", "none", None, "growth")


MIRROR_SCRIPT = textwrap.dedent("""
    import json, sys
    import tensorflow as tf
    # Two logical CPUs stand in for two GPUs: set before TensorFlow initializes its devices.
    cpu = tf.config.list_physical_devices("CPU")[0]
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    import expkit
    base = json.loads(sys.argv[2])
    out = {}
    for kind in ("mirrored", "none"):
        extra = ["training.distribution=mirrored", "training.devices=[/cpu:0, /cpu:1]"] if kind == "mirrored" else []
        run = expkit.train(base, overrides=extra, runs_dir=sys.argv[1])
        out[kind] = {"results": run.results, "info": run.info, "path": str(run.path)}
    print("RESULT " + json.dumps(out))
""")


@pytest.mark.slow
def test_mirrored_over_two_logical_cpus_trains_like_one_device(tmp_path):
    base = xor_classifier(experiment={"name": "mirror", "seed": 3},
                          dataset={"name": "xor", "samples": 1000, "noise": 0.2, "validation_split": 0.1},
                          training={"epochs": 3, "batch_size": 32, "shuffle": False, "verbose": 0,
                                    "callbacks": {"checkpoint": {"monitor": "val_loss"}}})
    proc = subprocess.run([sys.executable, "-c", MIRROR_SCRIPT, str(tmp_path), json.dumps(base)],
                          capture_output=True, text=True,
                          timeout=300, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.split("RESULT ", 1)[1])
    mirrored, single = out["mirrored"], out["none"]
    info = mirrored["info"]
    assert (info["replicas"], info["per_replica_batch"], info["distribution"]) == (2, 16, "mirrored")
    assert info["replica_devices"] == ["CPU:0", "CPU:1"]
    assert (single["info"]["replicas"], single["info"]["distribution"]) == (1, "none")
    assert "MirroredStrategy over 2 replicas (CPU:0, CPU:1), 16 samples per replica" in proc.stdout
    # Same seed, same initial weights and (shuffle off) the same batches: the only difference is the order in
    # which float32 gradients are summed (two half-batch sums all-reduced instead of one sum), a rounding of
    # ~1e-7 per step. Over 69 Adam steps that stays far below 1e-4 (measured: 3e-8); a wrong split of the
    # global batch (e.g. gradients not averaged over replicas, or each replica taking 32) moves it by >1e-2.
    for split in ("train", "test"):
        assert mirrored["results"][split]["loss"] == pytest.approx(single["results"][split]["loss"], abs=1e-4)
    assert mirrored["results"]["test"]["accuracy"] > 0.9
    # The checkpoint callback, the saved model and TensorBoard's logs work the same under the strategy.
    for name in ("model.keras", "best.keras", "metrics.csv", "tb"):
        assert (Path(mirrored["path"]) / name).exists(), name


# --- GPUs for sweep children: counted from EXPKIT_GPU_COUNT (or nvidia-smi), handed out by CUDA_VISIBLE_DEVICES.

def test_gpus_come_from_the_override_the_sweeps_own_visible_list_or_none():
    from expkit.sweep.gpus import machine_gpus
    assert machine_gpus({"EXPKIT_GPU_COUNT": "3"}) == ["0", "1", "2"]
    assert machine_gpus({"CUDA_VISIBLE_DEVICES": "4,6", "EXPKIT_GPU_COUNT": "8"}) == ["4", "6"]
    assert machine_gpus({"CUDA_VISIBLE_DEVICES": ""}) == []
    assert machine_gpus({"EXPKIT_GPU_COUNT": "0"}) == []
    with pytest.raises(ExpkitError, match="EXPKIT_GPU_COUNT='two': expected a number of GPUs"):
        machine_gpus({"EXPKIT_GPU_COUNT": "two"})
    assert machine_gpus({"PATH": "/nonexistent"}) == []  # no nvidia-smi: no GPUs


def test_pool_hands_out_the_least_used_gpus_round_robin():
    from expkit.sweep.gpus import GpuPool
    pool = GpuPool(["0", "1"], None)
    first, second, third = pool.acquire(), pool.acquire(), pool.acquire()
    assert (first, second) == (["0"], ["1"]) and third in (["0"], ["1"])  # a third run shares one
    pool.release(first)
    pool.release(third)
    assert pool.acquire() == ["0"]  # GPU 0 is now free, GPU 1 still runs one
    pairs = GpuPool(["0", "1", "2", "3"], 2)
    assert pairs.acquire() == ["0", "1"] and pairs.acquire() == ["2", "3"]
    assert GpuPool([], 4).acquire() == []  # no GPUs: every run on the CPU, the option has nothing to do
    with pytest.raises(ExpkitError, match="--gpus-per-run 3: this machine shows 2 GPU"):
        GpuPool(["0", "1"], 3)


def _sweep(tmp_path, *args, gpus="2"):
    import yaml
    data = {"experiment": {"name": "gpus", "seed": 0}, "dataset": {"name": "xor", "samples": 100},
            "model": {"layers": [{"type": "Dense", "units": 1, "activation": "sigmoid"}]},
            "compile": {"loss": "binary_crossentropy", "optimizer": "adam"}, "training": {"epochs": 1, "verbose": 2}}
    cfg = tmp_path / "gpus.yaml"
    cfg.write_text(yaml.safe_dump(data))
    env = {k: v for k, v in os.environ.items() if k != "CUDA_VISIBLE_DEVICES"}
    proc = subprocess.run([sys.executable, "-m", "expkit", "sweep", str(cfg), "--runs-dir", str(tmp_path / "runs"),
                           *args], capture_output=True, text=True, timeout=600, cwd=ROOT,
                          env={**env, "PYTHONPATH": str(ROOT), "EXPKIT_GPU_COUNT": gpus})
    return proc


@pytest.mark.slow
def test_sweep_children_get_their_own_gpus_recorded_in_run_json(tmp_path):
    proc = _sweep(tmp_path, "--seeds", "3", "--jobs", "2")
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "GPUs 0, 1, 1 per run (CUDA_VISIBLE_DEVICES)" in proc.stdout
    runs = [json.loads(p.read_text()) for p in sorted((tmp_path / "runs" / "gpus").glob("*/run.json"))]
    by_seed = {r["seed"]: r.get("cuda_visible_devices") for r in runs}
    assert len(by_seed) == 3 and set(by_seed.values()) <= {"0", "1"}
    assert by_seed[0] != by_seed[1]  # the first two run at once, one GPU each


def test_gpus_per_run_beyond_the_machine_fails_before_any_run(tmp_path):
    proc = _sweep(tmp_path, "--seeds", "2", "--gpus-per-run", "3")
    assert proc.returncode == 2
    assert "error: --gpus-per-run 3: this machine shows 2 GPU(s) (0, 1): ask for at most 2" in proc.stderr
    assert not (tmp_path / "runs").exists()
