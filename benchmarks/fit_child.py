"""What the memory benchmarks share: one case trained in a child process of its own, timed per epoch, with
the child's peak resident memory (`os.wait4`'s rusage), so one case's caches never count for another.

    python benchmarks/fit_child.py CONFIG     # the child: load, build, fit; prints a JSON line of timings
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def child(config_file: str) -> None:
    """One case: load (and scan, adapt statistics), build, fit; print a JSON line of timings."""
    sys.path.insert(0, str(ROOT))
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


def measure(name: str, config: Path, work: Path) -> dict:
    """Run `config` as a child; its JSON line plus `peak_rss_mb`."""
    out = work / f"{name}.out"
    with out.open("w") as stdout:
        proc = subprocess.Popen([sys.executable, __file__, str(config)], stdout=stdout, stderr=subprocess.DEVNULL,
                                cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT), "TF_CPP_MIN_LOG_LEVEL": "3"})
        _, status, usage = os.wait4(proc.pid, 0)
    code = os.waitstatus_to_exitcode(status)
    if code != 0:
        raise SystemExit(f"{name}: the child failed (exit {code}); run it by hand: "
                         f"{sys.executable} {__file__} {config}")
    result = json.loads(out.read_text().strip().splitlines()[-1])
    result["peak_rss_mb"] = usage.ru_maxrss / 1024  # Linux: kilobytes
    return result


if __name__ == "__main__":
    child(sys.argv[1])
