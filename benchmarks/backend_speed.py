"""The same convnet trained by expkit on TensorFlow and on JAX: samples per second for each and their ratio.

Alternates the backends (TF JAX TF JAX ..., each run a fresh `expkit train` process) and reads each run's
metrics.csv: the steady speed is the training samples over the median epoch time after the first epoch
(which holds tracing / XLA compilation), and the first epoch is printed apart. On a machine with two or
more GPUs it also compares one GPU with all of them (mirrored on TensorFlow, data_parallel on JAX); on one
without, it says so and compares the backends on the CPU only.

    python benchmarks/backend_speed.py --pairs 3 --limit 4000 --epochs 4
"""
from __future__ import annotations

import argparse
import csv
import json
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pairs import alternate, convnet_config, train_run  # noqa: E402

def train(config: Path, runs: Path, overrides: list[str], env: dict | None = None) -> dict:
    run = train_run(config, runs, overrides, env)
    samples = json.loads((run / "results.json").read_text())["samples"]["train"]
    with (run / "metrics.csv").open() as f:
        seconds = [float(row["epoch_seconds"]) for row in csv.DictReader(f)]
    steady = statistics.median(seconds[1:]) if len(seconds) > 1 else seconds[0]
    return {"steady": samples / steady, "first_epoch_seconds": seconds[0]}


def compare(label_a, a, label_b, b, config, runs, pairs) -> None:
    """Alternate a and b (overrides, env) in fresh processes; print each pair and the median ratio b / a."""
    alternate(label_a, lambda: train(config, runs, *a), label_b, lambda: train(config, runs, *b), pairs,
              lambda r: f"{r['steady']:7.0f} samples/s (first epoch {r['first_epoch_seconds']:.1f} s)")


def main() -> None:
    from expkit.sweep.gpus import machine_gpus
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=4000, help="MNIST training samples")
    parser.add_argument("--epochs", type=int, default=4, help="epochs per run (the first is timed apart)")
    parser.add_argument("--batch-size", type=int, default=128, help="the global batch")
    args = parser.parse_args()
    gpus = machine_gpus(dict(os.environ))
    print(f"machine: {platform.node()}, {os.cpu_count()} CPU cores ({platform.processor() or platform.machine()}), "
          f"{len(gpus)} GPU(s); python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = convnet_config(tmp / "bench.yaml", "bench_backend", args.limit, args.epochs, args.batch_size)
        print(f"convnet on {args.limit} MNIST samples, {args.epochs} epochs, batch {args.batch_size}, "
              f"{'GPU' if gpus else 'CPU'}; steady = samples / median epoch time after the first")
        compare("tensorflow", (["training.backend=tensorflow"], None), "jax", (["training.backend=jax"], None),
                config, tmp / "runs", args.pairs)
        if len(gpus) < 2:
            print(f"no {'second ' if gpus else ''}GPU on this machine: the 1 vs all GPUs comparison "
                  "(mirrored on TensorFlow, data_parallel on JAX) was not run")
            return
        one = {"CUDA_VISIBLE_DEVICES": gpus[0]}
        compare("tensorflow 1 GPU", (["training.backend=tensorflow"], one),
                f"tensorflow mirrored {len(gpus)} GPUs",
                (["training.backend=tensorflow", "training.distribution=mirrored"], None), config, tmp / "runs", args.pairs)
        compare("jax 1 GPU", (["training.backend=jax"], one), f"jax data_parallel {len(gpus)} GPUs",
                (["training.backend=jax", "training.distribution=data_parallel"], None), config, tmp / "runs", args.pairs)


if __name__ == "__main__":
    main()
