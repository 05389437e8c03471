"""Trained runs shared by the predict and serve tests: real training, small data, once per session."""
from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from tests.helpers import config_dict, write_config

ROOT = Path(__file__).resolve().parents[1]


def expkit_in_process(*args) -> subprocess.CompletedProcess:
    """The CLI's `main` in this process, for steps whose process is not what a test checks (training a run
    to test something else): TensorFlow's import (seconds) is paid once per session, not once per step.
    Exit codes, signals and "never imports TensorFlow" stay checked by the tests that start real processes."""
    import contextlib
    import io

    import sys

    from expkit.cli import main
    argv = [str(a) for a in args]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err), pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys, "argv", ["expkit", *argv])  # run.json records the command, as `python -m expkit` gives it
        code = main(argv)
    return subprocess.CompletedProcess(args, code, out.getvalue(), err.getvalue())


def train_run(tmp: Path, data: dict) -> Path:
    result = expkit_in_process("train", write_config(tmp, data), "--runs-dir", tmp / "runs")
    assert result.returncode == 0, result.stderr[-3000:]
    return Path(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def mnist_run(tmp_path_factory) -> Path:
    """A small MNIST convnet (2,000 training images, 2 epochs): good enough to read most digits."""
    data = config_dict([{"type": "Conv2D", "filters": 8, "kernel_size": 3, "activation": "relu"},
                        {"type": "MaxPooling2D", "pool_size": 2}, {"type": "Flatten"},
                        {"type": "Dense", "units": 10, "activation": "softmax"}],
                       experiment={"name": "digits"}, dataset={"name": "mnist", "limit": 2000, "test_limit": 500},
                       compile={"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                                "optimizer": "adam"}, training={"epochs": 2, "batch_size": 64})
    return train_run(tmp_path_factory.mktemp("mnist_run"), data)


@pytest.fixture(scope="session")
def table_run(tmp_path_factory) -> Path:
    """A classifier on a CSV file with named columns, standardized: predict must match columns by name."""
    import numpy as np
    tmp = tmp_path_factory.mktemp("table_run")
    rng = np.random.default_rng(0)
    x = rng.normal(size=(400, 2)) * [10.0, 0.1] + [50.0, 1.0]
    label = np.where((x[:, 0] - 50.0) / 10.0 + (x[:, 1] - 1.0) / 0.1 > 0, "big", "small")
    lines = ["width,label,height"] + [f"{a:.4f},{c},{b:.5f}" for (a, b), c in zip(x, label)]
    (tmp / "shapes.csv").write_text("\n".join(lines) + "\n")
    data = config_dict([{"type": "Dense", "units": 8, "activation": "tanh"},
                        {"type": "Dense", "units": 2, "activation": "softmax"}],
                       experiment={"name": "shapes"},
                       dataset={"name": "csv", "path": str(tmp / "shapes.csv"), "target": "label",
                                "scale": "standardize"},
                       compile={"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"],
                                "optimizer": {"name": "adam", "learning_rate": 0.05}},
                       training={"epochs": 20, "batch_size": 32})
    return train_run(tmp, data)
