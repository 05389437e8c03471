"""Peak memory and images/s of image_folder streamed (two set sizes) and read into memory.

    python benchmarks/stream_memory.py [--small 5000] [--large 50000] [--root /tmp/expkit-stream-bench]

Writes two folders of 28x28 grayscale PNGs (10 classes; kept in --root for the next time), then
trains a small MLP for 4 epochs in a fresh process per case: streamed with `cache: disk` (a fresh
cache folder, so epoch 1 decodes and writes it, epochs 2-4 read it) on both sets, and `stream: false`
(every image decoded into memory first) on the small one. Peak RSS is the child's own maximum
resident set size as the kernel counts it (os.wait4's rusage). Goals: the large set's peak within
1.3x of the small one's; streamed epochs 2-4 at least 0.8x the in-memory path's images/s.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = """experiment: {{name: stream_bench, seed: 0}}
dataset: {{name: image_folder, path: {path}, color_mode: grayscale, stream: {stream}, cache: {cache},
          cache_dir: {cache_dir}, validation_split: 0.0, test_split: 0.05}}
model:
  layers:
    - {{type: Flatten}}
    - {{type: Dense, units: 64, activation: relu}}
    - {{type: Dense, units: 10, activation: softmax}}
compile: {{loss: sparse_categorical_crossentropy, optimizer: adam}}
training: {{epochs: 4, batch_size: 128}}
"""


def make_folder(folder: Path, count: int) -> float:
    """`count` PNGs in 10 class folders (skipped when already there); returns the seconds it took."""
    done = folder / ".complete"
    if done.exists():
        return 0.0
    t0 = time.perf_counter()
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    import numpy as np
    import tensorflow as tf
    rng = np.random.default_rng(0)
    for c in range(10):
        (folder / f"class_{c}").mkdir(parents=True, exist_ok=True)
    for i in range(count):
        c = i % 10
        pixels = rng.integers(0, 128, (28, 28, 1), dtype=np.uint8) + np.uint8(12 * c)
        (folder / f"class_{c}" / f"{i:06d}.png").write_bytes(tf.io.encode_png(pixels).numpy())
    done.touch()
    return time.perf_counter() - t0


def child(config_file: str) -> None:
    """One case: load, build, fit; print a JSON line of timings."""
    from expkit.config import load_config
    from expkit.data import make_pipelines
    from expkit.training.run import prepare
    t0 = time.perf_counter()
    loaded = load_config(config_file)
    cfg = loaded.config
    ready = prepare(loaded)
    load_seconds = time.perf_counter() - t0
    splits, keras = ready.splits, ready.keras
    train, _, _ = make_pipelines(splits, cfg.training.batch_size, 0, cache=cfg.dataset.cache,
                                 cache_dir=cfg.dataset.cache_dir)
    seconds = []

    class EpochTimer(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.t = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append(time.perf_counter() - self.t)

    ready.model.fit(train, epochs=cfg.training.epochs, verbose=0, callbacks=[EpochTimer()])
    print(json.dumps({"train": len(splits.x_train), "load_seconds": load_seconds, "epoch_seconds": seconds}))


def run_case(name: str, folder: Path, stream: bool, work: Path) -> dict:
    cache_dir = work / f"cache-{name}"
    shutil.rmtree(cache_dir, ignore_errors=True)
    config = work / f"{name}.yaml"
    config.write_text(CONFIG.format(path=folder, stream=str(stream).lower(), cache="disk" if stream else "memory",
                                    cache_dir=cache_dir))
    out = work / f"{name}.out"
    with out.open("w") as stdout:
        proc = subprocess.Popen([sys.executable, __file__, "--child", str(config)], stdout=stdout,
                                stderr=subprocess.DEVNULL, cwd=ROOT,
                                env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"})
        _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise SystemExit(f"{name}: the child failed (exit {proc.returncode}); run it by hand: "
                         f"{sys.executable} {__file__} --child {config}")
    result = json.loads(out.read_text().strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    first, later = result["epoch_seconds"][0], result["epoch_seconds"][1:]
    result["images_per_second"] = [result["train"] / first, result["train"] * len(later) / sum(later)]
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=5000)
    parser.add_argument("--large", type=int, default=50000)
    parser.add_argument("--root", type=Path, default=Path(tempfile.gettempdir()) / "expkit-stream-bench")
    parser.add_argument("--child")
    args = parser.parse_args()
    if args.child:
        return child(args.child)
    small, large = args.root / f"png-{args.small}", args.root / f"png-{args.large}"
    for folder, count in ((small, args.small), (large, args.large)):
        seconds = make_folder(folder, count)
        print(f"{folder}: {count} PNGs of 28x28" + (f" (written in {seconds:.0f} s)" if seconds else " (reused)"))
    work = args.root / "work"
    work.mkdir(parents=True, exist_ok=True)
    cases = [("stream-small", small, True), ("stream-large", large, True), ("memory-small", small, False)]
    results = {name: run_case(name, folder, stream, work) for name, folder, stream in cases}
    print(f"{'case':<14}{'train images':>13}{'load s':>8}{'epoch 1 img/s':>15}{'epochs 2-4 img/s':>18}{'peak RSS MB':>13}")
    for name, r in results.items():
        ips = r["images_per_second"]
        print(f"{name:<14}{r['train']:>13}{r['load_seconds']:>8.1f}{ips[0]:>15.0f}{ips[1]:>18.0f}{r['peak_rss_mb']:>13.0f}")
    s, l, m = results["stream-small"], results["stream-large"], results["memory-small"]
    print(f"peak RSS large/small streamed: {l['peak_rss_mb'] / s['peak_rss_mb']:.2f}x (goal <= 1.3x)")
    print(f"epochs 2-4 images/s streamed (disk cache) / in memory, small set: "
          f"{s['images_per_second'][1] / m['images_per_second'][1]:.2f}x (goal >= 0.8x); "
          f"large set: {l['images_per_second'][1] / m['images_per_second'][1]:.2f}x")
    print(f"peak RSS in memory / streamed, small set: {m['peak_rss_mb'] / s['peak_rss_mb']:.2f}x")


if __name__ == "__main__":
    main()
