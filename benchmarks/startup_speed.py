"""Command start-up and compare speed of one or more expkit source trees, side by side.

Times `expkit --help` and `expkit compare DIR --format csv` over N synthetic runs (the folders
benchmarks/compare_speed.py writes), alternating the trees A B A B ... in fresh processes, and prints
each tree's median and the ratio to the first tree. Use it to check that a change made nothing slower:

    git worktree add /tmp/before <commit>
    python benchmarks/startup_speed.py --tree /tmp/before --tree . --n 1000 --rounds 7
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))


def timed(tree: Path, *args: str) -> float:
    env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
    t0 = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "expkit", *args], env=env, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    seconds = time.perf_counter() - t0
    if done.returncode != 0:
        raise SystemExit(f"{tree}: expkit {' '.join(args)} failed: {done.stderr[-500:]}")
    return seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tree", action="append", type=Path, help="an expkit source tree (repeat; default: .)")
    parser.add_argument("--n", type=int, default=1000, help="synthetic runs for compare (default 1000)")
    parser.add_argument("--rounds", type=int, default=7, help="alternating rounds (default 7)")
    args = parser.parse_args()
    trees = args.tree or [ROOT]
    from compare_speed import make_runs
    folder = Path(tempfile.mkdtemp(prefix="expkit_startup_"))
    make_runs(folder, args.n)
    commands = {"--help": ["--help"], f"compare {args.n} runs": ["compare", str(folder), "--format", "csv"]}
    for label, argv in commands.items():
        times: dict[Path, list[float]] = {t: [] for t in trees}
        for _ in range(args.rounds):
            for tree in trees:
                times[tree].append(timed(tree, *argv))
        first = statistics.median(times[trees[0]])
        for tree in trees:
            median = statistics.median(times[tree])
            print(f"expkit {label:18s} {str(tree):28s} median {median:.3f} s over {args.rounds}  "
                  f"ratio to first {median / first:.3f}")


if __name__ == "__main__":
    main()
