"""How fast `expkit compare` reads many runs: N synthetic run folders, timed end to end and in process.

The folders copy the shape of what `expkit train` writes (config.yaml + config.json, run.json,
metrics.csv, results.json, model.keras, tb/) for a small convnet; they vary the first layer's
filters, the learning rate, the dropout rate and the seed, and a few runs failed or are still running.

    python benchmarks/compare_speed.py                 # N=1000 and N=10000
    python benchmarks/compare_speed.py --n 500 --keep /tmp/bench_runs
"""
from __future__ import annotations

import argparse
import json
import math
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

EPOCHS = 10


def config(filters: int, learning_rate: float, rate: float, seed: int) -> dict:
    """A resolved config as expkit writes it (every default filled in)."""
    conv = {"type": "Conv2D", "use_bias": True, "filters": filters, "kernel_size": 3, "strides": 1,
            "padding": "valid", "activation": "relu"}
    return {
        "experiment": {"name": "mnist_cnn", "seed": seed, "description": "A small convnet on MNIST.",
                       "tags": ["mnist", "cnn"]},
        "dataset": {"name": "mnist", "features": 3, "test_split": 0.2, "validation_split": 0.1, "scale": "auto",
                    "flatten": False, "channel_axis": "auto", "labels": "sparse", "color_mode": "rgb",
                    "cache": True},
        "model": {
            "layers": [conv, {"type": "MaxPooling2D", "pool_size": 2, "padding": "valid"},
                       {**conv, "filters": 2 * filters}, {"type": "MaxPooling2D", "pool_size": 2, "padding": "valid"},
                       {"type": "Flatten"}, {"type": "Dropout", "rate": rate},
                       {"type": "Dense", "use_bias": True, "units": 10, "activation": "softmax"}],
            "initializer": {"name": "glorot_uniform"},
            "regularization": {"l1": 0.0, "l2": 0.0, "dropout": 0.0, "batch_norm": False},
        },
        "compile": {"loss": {"name": "sparse_categorical_crossentropy"}, "metrics": ["accuracy"],
                    "optimizer": {"name": "adam", "learning_rate": learning_rate}},
        "training": {"epochs": EPOCHS, "batch_size": 128, "shuffle": True, "device": "auto", "deterministic": False,
                     "steps_per_execution": 16, "jit_compile": "auto", "mixed_precision": "auto", "verbose": "auto",
                     "callbacks": {"tensorboard": {"update_freq": "epoch", "histogram_freq": 0, "write_graph": False,
                                                   "profile_batch": 0}, "terminate_on_nan": True}},
    }


def write_run(folder: Path, index: int, rng: random.Random) -> None:
    filters, lr, rate, seed = (rng.choice([16, 32, 64]), rng.choice([0.01, 0.001, 0.0003]),
                               rng.choice([0.25, 0.5]), rng.randrange(5))
    status = "failed" if index % 50 == 7 else "running" if index % 100 == 3 else "completed"
    run_id = f"20260101-{index // 3600 % 24:02d}{index // 60 % 60:02d}{index % 60:02d}-mnist_cnn-{index:04x}"[:35]
    path = folder / run_id
    (path / "tb" / "train").mkdir(parents=True)
    cfg = config(filters, lr, rate, seed)
    (path / "config.json").write_text(json.dumps(cfg, indent=2))
    (path / "config.yaml").write_text(json.dumps(cfg))  # compare never reads it; its size is what matters
    (path / "model.keras").write_bytes(b"\0" * 1024)
    (path / "tb" / "train" / "events.out.tfevents").write_bytes(b"\0" * 256)
    info = {"id": run_id, "name": "mnist_cnn", "status": status, "start_time": "2026-01-01T00:00:00+00:00",
            "end_time": None if status == "running" else "2026-01-01T00:01:00+00:00",
            "duration_seconds": None if status == "running" else 60.0, "seed": seed, "device": "CPU",
            "versions": {"python": "3.11.7", "expkit": "0.1.0", "tensorflow": "2.21.0", "keras": "3.15.1"},
            "command": ["expkit", "train", "configs/mnist_cnn.yaml"], "git_commit": "0" * 40, "host": "vm",
            "error": "FloatingPointError: the loss became nan" if status == "failed" else None}
    (path / "run.json").write_text(json.dumps(info, indent=2))
    skill = (math.log10(filters) + (2 if lr == 0.001 else 1)) / 4 + rng.gauss(0, 0.02)
    rows = ["epoch,loss,accuracy,val_loss,val_accuracy,learning_rate,epoch_seconds"]
    for epoch in range(1, EPOCHS + 1):
        acc = min(0.999, 0.4 + 0.6 * skill * (1 - math.exp(-epoch / 3)) + rng.gauss(0, 0.005))
        rows.append(f"{epoch},{1 - acc:.6f},{acc:.6f},{1.05 - acc:.6f},{acc - 0.01:.6f},{lr},{2.5 + rng.random():.3f}")
    (path / "metrics.csv").write_text("\n".join(rows) + "\n")
    if status == "completed":
        last = {"loss": 1 - acc, "accuracy": acc}
        results = {"train": last, "val": {"loss": 1.05 - acc, "accuracy": acc - 0.01},
                   "test": {"loss": 1.04 - acc, "accuracy": acc - 0.008}, "params": 1200 * filters,
                   "epochs_run": EPOCHS, "training_seconds": 30.0 + rng.random(), "samples_per_second": 20000.0,
                   "samples": {"train": 54000, "val": 6000, "test": 10000}, "data_source": "shipped MNIST"}
        (path / "results.json").write_text(json.dumps(results, indent=2))


def make_runs(folder: Path, n: int) -> None:
    rng = random.Random(0)
    for index in range(n):
        write_run(folder, index, rng)


def time_cli(folder: Path, *extra: str, repeat: int = 3) -> list[float]:
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        done = subprocess.run([sys.executable, "-m", "expkit", "compare", str(folder), "--format", "csv", *extra],
                              stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, cwd=ROOT)
        times.append(time.perf_counter() - t0)
        if done.returncode != 0:
            raise SystemExit(f"expkit compare failed: {done.stderr}")
    return times


def time_in_process(folder: Path, repeat: int = 3, **options) -> list[float]:
    from expkit.api import compare_runs
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        compare_runs(folder, **options)
        times.append(time.perf_counter() - t0)
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, action="append", help="how many runs (repeatable; default 1000 and 10000)")
    parser.add_argument("--keep", type=Path, help="write the runs here and keep them (default: a temp dir)")
    args = parser.parse_args()
    for n in args.n or [1000, 10000]:
        folder = (args.keep / str(n)) if args.keep else Path(tempfile.mkdtemp(prefix="expkit_bench_"))
        try:
            if folder.exists() and any(folder.iterdir()):
                print(f"N={n}: using the runs already in {folder}")
            else:
                folder.mkdir(parents=True, exist_ok=True)
                t0 = time.perf_counter()
                make_runs(folder, n)
                print(f"N={n}: wrote {n} run folders in {time.perf_counter() - t0:.1f} s ({folder})")
            cases = (("--metric final (seed groups)", (), {}),
                     ("--metric best (seed groups)", ("--metric", "best"), {"metric": "best"}),
                     ("--no-group-by-seed (one row per run)", ("--no-group-by-seed",), {"group_by_seed": False}))
            for label, extra, options in cases:
                cli = time_cli(folder, *extra)
                inproc = time_in_process(folder, **options)
                print(f"N={n} {label}: CLI `expkit compare DIR --format csv` median {statistics.median(cli):.3f} s "
                      f"(runs: {', '.join(f'{t:.3f}' for t in cli)}); in-process compare_runs median "
                      f"{statistics.median(inproc):.3f} s")
        finally:
            if not args.keep:
                shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
