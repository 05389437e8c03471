"""Where a warm sweep worker (expkit.cli.worker) spends a point's time: one worker, fed N points of a small
config at once (no sweep driver), timing each point's `expkit train` call, the model.fit part of it
(results.json's training_seconds), and the worker's own work after it (clearing Keras' state, collecting
garbage, answering) until the next point starts.

    python benchmarks/warm_worker_timing.py              # 6 points of toy2d_hidden_units, 10 epochs each
    python benchmarks/warm_worker_timing.py --points 12 --epochs 60
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/toy2d_hidden_units.yaml")
    parser.add_argument("--points", type=int, default=6)
    parser.add_argument("--epochs", type=int, default=10)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="warm_worker_timing-"))
    datasets = ["xor", "circles", "moons"]
    jobs = []
    for i in range(args.points):
        run_dir = tmp / f"p{i}"
        argv = ["train", str(ROOT / args.config), "--run-dir", str(run_dir), "--set", f"dataset.name={datasets[i % 3]}",
                "--set", f"model.layers.0.units={2 + i % 4}", "--set", f"training.epochs={args.epochs}"]
        jobs.append(json.dumps({"argv": argv, "env": {}, "log": str(tmp / f"p{i}.log")}))
    read, write = os.pipe()  # every point queued at once: no driver in the way
    os.write(write, ("\n".join(jobs) + "\n").encode())
    os.close(write)
    os.dup2(read, 0)
    sys.stdin = os.fdopen(0, "r")
    t0 = time.perf_counter()
    import expkit.cli.app as app
    import expkit.cli.worker as worker
    marks: list[tuple[float, float]] = []
    train = app.main

    def timed(argv):  # the worker calls app.main once per point
        start = time.perf_counter()
        try:
            return train(argv)
        finally:
            marks.append((start, time.perf_counter()))
    app.main = timed
    report = os.fdopen(os.dup(1), "w")  # the worker points fd 1 at each point's log
    worker.run()
    end = time.perf_counter()
    report.write(f"warm_worker_timing: {args.config}, {args.points} points, {args.epochs} epochs, {os.cpu_count()} CPUs\n")
    report.write(f"  warm-up (imports) {marks[0][0] - t0:5.2f} s\n")
    outside, after = [], []
    for i, (start, stop) in enumerate(marks):
        fit = json.loads((tmp / f"p{i}" / "results.json").read_text())["training_seconds"]
        outside.append(stop - start - fit)
        after.append((marks[i + 1][0] if i + 1 < len(marks) else end) - stop)
        report.write(f"  point {i}: train {stop - start:5.2f} s, model.fit {fit:5.2f} s, outside fit {outside[-1]:4.2f} s, "
                     f"worker after it {after[-1]:4.2f} s\n")
    rest = slice(1, None) if len(marks) > 1 else slice(None)
    report.write(f"  points after the first, mean: outside fit {sum(outside[rest]) / len(outside[rest]):4.2f} s, "
                 f"worker after it {sum(after[rest]) / len(after[rest]):4.2f} s\n")
    report.flush()
    shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
