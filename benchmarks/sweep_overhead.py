"""What a sweep of small points pays besides training: the same sweep with a fresh `expkit train`
process per point and with warm workers (`--reuse-workers`), same --jobs, side by side.

Per-point overhead = (wall time x jobs - the runs' summed training_seconds) / points: the interpreter,
the TensorFlow import, data loading, building and compiling, writing the run folder.

    python benchmarks/sweep_overhead.py                  # toy2d_hidden_units, seed 0 only: 12 points, --jobs 2
    python benchmarks/sweep_overhead.py --seeds 3        # all 36 points
    python benchmarks/sweep_overhead.py --config configs/xor_mlp.yaml --jobs 1
"""
from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_sweep(config: str, runs: Path, jobs: int, seeds: int, warm: bool) -> tuple[float, float, int]:
    from expkit.runstore import load_runs
    cmd = [sys.executable, "-m", "expkit", "sweep", config, "--runs-dir", str(runs), "--jobs", str(jobs),
           "--seeds", str(seeds), "--name", "bench", *(["--reuse-workers"] if warm else [])]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    t0 = time.perf_counter()
    result = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, env=env)
    wall = time.perf_counter() - t0
    if result.returncode != 0:
        sys.exit(f"sweep failed ({result.returncode}):\n{result.stdout[-3000:]}{result.stderr[-3000:]}")
    runs_done = [r for r in load_runs([runs / "bench"]) if r.status == "completed"]
    return wall, sum(r.results["training_seconds"] for r in runs_done), len(runs_done)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/toy2d_hidden_units.yaml")
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--seeds", type=int, default=1, help="seeds per point (the config has 3; 1 = seed 0 only)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="sweep_overhead-") as tmp:
        rows = []
        for label, warm in (("fresh processes", False), ("warm workers", True)):
            wall, training, points = run_sweep(args.config, Path(tmp) / label.split()[0], args.jobs, args.seeds, warm)
            rows.append((label, wall, training, points))
    print(f"sweep_overhead: {args.config}, {rows[0][3]} points ({args.seeds} seed(s) each), --jobs {args.jobs}, "
          f"{os.cpu_count()} CPUs")
    for label, wall, training, points in rows:
        overhead = (wall * args.jobs - training) / points
        print(f"  {label:16s} wall {wall:7.1f} s   training {training:6.1f} s   overhead per point {overhead:5.2f} s")
    print(f"  warm workers: {rows[0][1] / rows[1][1]:.2f}x faster wall time")


if __name__ == "__main__":
    main()
