"""What resumability costs: the time and size of the end-of-epoch training state (state.npz: weights,
optimizer moments, callback counters, random state; fsynced and renamed into place) for catalogue
models, on this machine. Compare it with the epoch_seconds column of a run's metrics.csv.

    python benchmarks/resume_state.py [CONFIG...]    (default: xor_mlp, mnist_mlp, mnist_cnn)
"""
from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from expkit.config import load_config  # noqa: E402
from expkit.training import prepare  # noqa: E402
from expkit.training.state import capture, save_state  # noqa: E402

CONFIGS = ["configs/xor_mlp.yaml", "configs/mnist_mlp.yaml", "configs/mnist_cnn.yaml"]


def measure(config: str, repeats: int = 5) -> str:
    loaded = load_config(ROOT / config, ["dataset.limit=2000"] if "mnist" in config else [])
    ready = prepare(loaded, load_data=False)
    model = ready.model
    model.optimizer.build(model.trainable_variables)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.npz"
        times = []
        for _ in range(repeats):
            t0 = time.perf_counter()
            save_state(path, capture(model, [], 1))
            times.append(time.perf_counter() - t0)
        size = path.stat().st_size
    best = min(times)
    return (f"{config}: {model.count_params():,} parameters, state.npz {size / 2**20:.2f} MB, "
            f"saved in {best * 1000:.1f} ms (best of {repeats})")


if __name__ == "__main__":
    for config in sys.argv[1:] or CONFIGS:
        print(measure(config), flush=True)
