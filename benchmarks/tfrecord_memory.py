"""Peak memory and records/s of a tfrecord set streamed, at two sizes.

    python benchmarks/tfrecord_memory.py [--small 10000] [--large 100000] [--root /tmp/expkit-tfrecord-bench]

Writes two sets of tf.train.Example records (a 28x28 float32 `image`, an int64 `label`; 10 shards each;
kept in --root for the next time), then trains a small MLP for 3 epochs on each in a fresh process,
streamed without a cache (`cache: none`: every epoch reads and parses the files again, so nothing
grows with the set). Peak RSS is the child's own maximum resident set size as the kernel counts it
(os.wait4's rusage). Goal: the large set's peak within 1.3x of the small one's. `load s` includes
TensorFlow's start, the pass that parses every record and the standardization statistics' pass.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from fit_child import measure  # noqa: E402

SHARDS = 10
CONFIG = """experiment: {{name: tfrecord_bench, seed: 0}}
dataset:
  name: tfrecord
  path: {path}/shard-*.tfrecord
  tfrecord:
    features: {{image: {{dtype: float32, shape: [28, 28]}}, label: {{dtype: int64}}}}
    label: label
  cache: none
  validation_split: 0.0
  test_split: 0.05
model:
  layers:
    - {{type: Flatten}}
    - {{type: Dense, units: 64, activation: relu}}
    - {{type: Dense, units: 10, activation: softmax}}
compile: {{loss: sparse_categorical_crossentropy, optimizer: adam}}
training: {{epochs: 3, batch_size: 128}}
"""


def make_records(folder: Path, count: int) -> float:
    """`count` records in SHARDS files (skipped when already there); returns the seconds it took."""
    done = folder / ".complete"
    if done.exists():
        return 0.0
    t0 = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    writers = [tf.io.TFRecordWriter(str(folder / f"shard-{s:02d}.tfrecord")) for s in range(SHARDS)]
    for i in range(count):
        label = i % 10
        image = rng.random(784, dtype=np.float32) * 0.5 + 0.05 * label
        example = tf.train.Example(features=tf.train.Features(feature={
            "image": tf.train.Feature(float_list=tf.train.FloatList(value=image)),
            "label": tf.train.Feature(int64_list=tf.train.Int64List(value=[label]))}))
        writers[i % SHARDS].write(example.SerializeToString())
    for writer in writers:
        writer.close()
    done.touch()
    return time.perf_counter() - t0


def run_case(name: str, folder: Path, work: Path) -> dict:
    config = work / f"{name}.yaml"
    config.write_text(CONFIG.format(path=folder))
    result = measure(name, config, work)
    epochs = result["epoch_seconds"]
    result["records_per_second"] = result["train"] * len(epochs) / sum(epochs)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=10000)
    parser.add_argument("--large", type=int, default=100000)
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "expkit-tfrecord-bench")
    args = parser.parse_args()
    small, large = args.root / f"records-{args.small}", args.root / f"records-{args.large}"
    for folder, count in ((small, args.small), (large, args.large)):
        seconds = make_records(folder, count)
        size = sum(f.stat().st_size for f in folder.glob("*.tfrecord")) / 2**20
        print(f"{folder}: {count} records, {size:.0f} MB in {SHARDS} files"
              + (f" (written in {seconds:.0f} s)" if seconds else " (reused)"))
    work = args.root / "work"
    work.mkdir(parents=True, exist_ok=True)
    results = {name: run_case(name, folder, work) for name, folder in (("small", small), ("large", large))}
    print(f"{'case':<8}{'train records':>14}{'load s':>8}{'records/s':>11}{'peak RSS MB':>13}")
    for name, r in results.items():
        print(f"{name:<8}{r['train']:>14}{r['load_seconds']:>8.1f}{r['records_per_second']:>11.0f}"
              f"{r['peak_rss_mb']:>13.0f}")
    s, l = results["small"], results["large"]
    print(f"peak RSS large/small: {l['peak_rss_mb'] / s['peak_rss_mb']:.2f}x (goal <= 1.3x); "
          f"the large set is {l['train'] / s['train']:.0f}x the records")


if __name__ == "__main__":
    main()
