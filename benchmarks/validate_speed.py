"""`expkit validate` start-up of one or more expkit source trees, side by side (wall and CPU time).

Every keras.layers class is a layer type (about 130 spec classes derived from the catalogue); they are
derived on first use, so validating a config pays only for the types it uses. Compare with the tree
before that change:

    mkdir /tmp/before && git archive 596bb98 | tar -x -C /tmp/before
    python benchmarks/validate_speed.py --tree /tmp/before --tree . --rounds 7
"""
from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path


def timed(tree: Path, config: str) -> tuple[float, float]:
    env = {**os.environ, "PYTHONPATH": str(tree.resolve())}
    before, t0 = resource.getrusage(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run([sys.executable, "-m", "expkit", "validate", str(tree / config)], env=env, cwd=tree,
                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    wall, after = time.perf_counter() - t0, resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", type=Path, required=True)
    parser.add_argument("--config", default="configs/mnist_cnn.yaml")
    parser.add_argument("--rounds", type=int, default=7)
    args = parser.parse_args()
    walls = {t: [] for t in args.tree}
    cpus = {t: [] for t in args.tree}
    for _ in range(args.rounds):  # alternate the trees so a busy machine slows them alike
        for tree in args.tree:
            wall, cpu = timed(tree, args.config)
            walls[tree].append(wall)
            cpus[tree].append(cpu)
    base_wall, base_cpu = statistics.median(walls[args.tree[0]]), statistics.median(cpus[args.tree[0]])
    for tree in args.tree:
        wall, cpu = statistics.median(walls[tree]), statistics.median(cpus[tree])
        print(f"expkit validate {args.config}  {str(tree):30s} wall median {wall:.3f} s (x{wall / base_wall:.2f})  "
              f"cpu median {cpu:.3f} s (x{cpu / base_cpu:.2f})")


if __name__ == "__main__":
    main()
