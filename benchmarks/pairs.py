"""What the side-by-side benchmarks share: a fresh `expkit train` process, and A/B pairs with their ratio.

The machines are shared and noisy, so every speed figure is a ratio of two measurements taken one right
after the other (A B A B ...), never an absolute time compared with one taken earlier.
"""
from __future__ import annotations

import os
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Callable

ROOT = Path(__file__).resolve().parents[1]

# The Keras reference MNIST convnet, as the speed benchmarks train it.
CONVNET = """\
experiment: {{name: {name}, seed: 0}}
dataset: {{name: mnist, limit: {limit}, validation_split: 0.0}}
model:
  layers:
    - {{type: Conv2D, filters: 32, kernel_size: 3, activation: relu}}
    - {{type: MaxPooling2D, pool_size: 2}}
    - {{type: Conv2D, filters: 64, kernel_size: 3, activation: relu}}
    - {{type: MaxPooling2D, pool_size: 2}}
    - {{type: Flatten}}
    - {{type: Dropout, rate: 0.5}}
    - {{type: Dense, units: 10, activation: softmax}}
compile: {{loss: sparse_categorical_crossentropy, metrics: [accuracy], optimizer: adam}}
training: {{epochs: {epochs}, batch_size: {batch}, verbose: 0, steps_per_execution: {spe}}}
"""


def convnet_config(path: Path, name: str, limit: int, epochs: int, batch: int = 128, spe: int = 1) -> Path:
    """Write the benchmark convnet's config to `path`."""
    path.write_text(CONVNET.format(name=name, limit=limit, epochs=epochs, batch=batch, spe=spe))
    return path


def train_run(config: Path, runs: Path, overrides: list[str], env: dict | None = None) -> Path:
    """Train `config` in a fresh process (`--set` each override); the run folder it printed last."""
    sets = [arg for item in overrides for arg in ("--set", item)]
    out = subprocess.run([sys.executable, "-m", "expkit", "train", str(config), "--runs-dir", str(runs), *sets],
                         capture_output=True, text=True, cwd=ROOT, env={**os.environ, **(env or {})})
    if out.returncode != 0:
        sys.exit(f"expkit train {' '.join(overrides)} failed:\n{out.stderr[-2000:]}")
    return Path(out.stdout.strip().splitlines()[-1])


def alternate(label_a: str, run_a: Callable[[], dict], label_b: str, run_b: Callable[[], dict], pairs: int,
              show: Callable[[dict], str], key: str = "steady") -> float:
    """Run a then b `pairs` times; print each pair with `show(result)` and the ratio b / a of `key`.

    Returns the median ratio, which is also printed."""
    ratios = []
    for pair in range(1, pairs + 1):
        first, second = run_a(), run_b()
        ratios.append(second[key] / first[key])
        print(f"pair {pair}: {label_a} {show(first)}   {label_b} {show(second)}   "
              f"ratio {label_b}/{label_a} {ratios[-1]:.3f}", flush=True)
    median = statistics.median(ratios)
    print(f"median ratio ({label_b} / {label_a}): {median:.3f} over {len(ratios)} pairs", flush=True)
    return median
