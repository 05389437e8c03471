"""expkit train vs a plain hand-written Keras script: the same convnet on the same MNIST samples.

Alternates the two (A B A B ..., each in a fresh process) and prints samples per second for each
run, and the median of the per-pair ratios (expkit / plain). Both sides time model.fit alone.

    python benchmarks/train_speed.py --pairs 3 --limit 20000 --epochs 2
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(Path(__file__).resolve().parent))
from pairs import alternate, convnet_config, train_run  # noqa: E402

# The plain script: what a Keras user writes by hand (numpy arrays straight into fit).
PLAIN = """\
import os, sys, time, json
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
import keras, numpy as np
from expkit.data import load_splits
from expkit.config.dataset import DatasetConfig
limit, epochs = int(sys.argv[1]), int(sys.argv[2])
splits = load_splits(DatasetConfig(name="mnist", limit=limit, validation_split=0.0), 0, "Conv2D")
x, y = splits.x_train, splits.y_train
keras.utils.set_random_seed(0)
model = keras.Sequential([
    keras.Input((28, 28, 1)),
    keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(2),
    keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(2),
    keras.layers.Flatten(), keras.layers.Dropout(0.5), keras.layers.Dense(10, activation="softmax")])
model.compile(loss="sparse_categorical_crossentropy", optimizer="adam", metrics=["accuracy"])
t0 = time.perf_counter()
model.fit(x, y, batch_size=128, epochs=epochs, verbose=0)
seconds = time.perf_counter() - t0
print(json.dumps({"samples_per_second": len(x) * epochs / seconds, "seconds": seconds}))
"""


def run_expkit(config: Path, runs: Path, overrides: list[str]) -> float:
    run = train_run(config, runs, overrides)
    return json.loads((run / "results.json").read_text())["samples_per_second"]


def run_plain(script: Path, limit: int, epochs: int) -> float:
    out = subprocess.run([sys.executable, str(script), str(limit), str(epochs)], capture_output=True,
                         text=True, check=True, cwd=ROOT)
    return json.loads(out.stdout.strip().splitlines()[-1])["samples_per_second"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3)
    parser.add_argument("--limit", type=int, default=20000, help="MNIST training samples")
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--steps-per-execution", type=int, default=1,
                        help="expkit's training.steps_per_execution (the plain script keeps Keras' default, 1)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="an override for the expkit side, e.g. training.callbacks.terminate_on_nan=false")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        config = convnet_config(tmp / "bench.yaml", "bench_expkit", args.limit, args.epochs, spe=args.steps_per_execution)
        script = tmp / "plain.py"
        script.write_text(textwrap.dedent(PLAIN))
        print(f"convnet on {args.limit} MNIST samples, {args.epochs} epochs, batch 128, "
              f"expkit steps_per_execution={args.steps_per_execution} {' '.join(args.overrides)}")
        alternate("plain Keras", lambda: {"steady": run_plain(script, args.limit, args.epochs)},
                  "expkit", lambda: {"steady": run_expkit(config, tmp / "runs", args.overrides)},
                  args.pairs, lambda r: f"{r['steady']:8.0f} samples/s")

if __name__ == "__main__":
    main()
