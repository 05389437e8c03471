"""The synthetic `series` set and a real sequence-to-sequence run with TimeDistributed(Dense)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from expkit.config import load_config
from expkit.data.synthetic import make_synthetic

ROOT = Path(__file__).resolve().parents[1]


def test_series_shapes_determinism_and_target():
    a = make_synthetic("series", 200, 0.0, 3, seed=5, length=30)
    b = make_synthetic("series", 200, 0.0, 3, seed=5, length=30)
    c = make_synthetic("series", 200, 0.1, 3, seed=5, length=30)
    assert a.x_train.shape == a.y_train.shape == (200, 30, 1) and a.task == "regression"
    np.testing.assert_array_equal(a.x_train, b.x_train)
    # Without noise, the target is the input shifted one step ahead.
    np.testing.assert_allclose(a.y_train[:, :-1], a.x_train[:, 1:])
    noise = c.x_train - a.x_train
    assert abs(noise.std() - 0.1) < 0.005 and np.array_equal(c.y_train, a.y_train)
    assert make_synthetic("series", 10, 0.1, 3, seed=0).x_train.shape == (10, 50, 1)  # default length


@pytest.mark.slow
def test_a_short_training_beats_copying_the_current_value(tmp_path):
    from expkit.training.run import train
    loaded = load_config(ROOT / "configs" / "series_seq2seq.yaml",
                         ["dataset.samples=1500", "training.epochs=8", "training.device=cpu"])
    run_dir = train(loaded, tmp_path)
    results = json.loads((run_dir / "results.json").read_text())
    raw = make_synthetic("series", 1500, 0.1, 3, seed=0, length=50)
    copy_rmse = float(np.sqrt(np.mean((raw.x_train - raw.y_train) ** 2)))  # predict x[t+1] = x[t]
    assert copy_rmse > 0.25
    assert results["test"]["rmse"] < 0.6 * copy_rmse, (results["test"], copy_rmse)
