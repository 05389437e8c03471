"""expkit plot --decision-boundary: the learned boundary of real trained 2-D classifiers, as a PNG."""
from __future__ import annotations

import contextlib
import io
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from expkit.cli import main
from tests.conftest import train_run
from tests.helpers import config_dict

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def expkit(*args):
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def xor_config(hidden: int) -> dict:
    layers = [{"type": "Dense", "units": hidden, "activation": "tanh"}] if hidden else []
    return config_dict(layers + [{"type": "Dense", "units": 1, "activation": "sigmoid"}],
                       experiment={"name": f"xor-h{hidden}"}, dataset={"name": "xor", "samples": 400, "noise": 0.1},
                       compile={"loss": "binary_crossentropy", "metrics": ["accuracy"],
                                "optimizer": {"name": "adam", "learning_rate": 0.05}},
                       training={"epochs": 40, "batch_size": 32})


@pytest.fixture(scope="module")
def xor_runs(tmp_path_factory):
    return {h: train_run(tmp_path_factory.mktemp(f"xor{h}"), xor_config(h)) for h in (0, 5)}


def test_the_boundary_of_a_hidden_layer_separates_the_xor_corners(xor_runs):
    from expkit.analysis.boundary import boundary_panel
    from expkit.serving import load_predictor
    panel = boundary_panel(xor_runs[5], load_predictor)
    gx, gy, p = panel["gx"], panel["gy"], panel["surface"]
    assert gx.shape == p.shape == (300, 300)
    x, y = panel["splits"]["train"]
    assert x.shape[1] == 2 and set(np.unique(y)) == {0, 1}
    assert gx.min() < x[:, 0].min() and gx.max() > x[:, 0].max()  # the grid covers the data

    def at(px, py):  # the grid point nearest (px, py)
        i, j = np.abs(gy[:, 0] - py).argmin(), np.abs(gx[0] - px).argmin()
        return p[i, j]
    # XOR of the signs: class 1 where the coordinates' signs differ.
    assert at(1, 1) < 0.2 and at(-1, -1) < 0.2 and at(1, -1) > 0.8 and at(-1, 1) > 0.8
    # No hidden layer: logistic regression cannot do it; its surface is monotone along any line.
    flat = boundary_panel(xor_runs[0], load_predictor)["surface"]
    corners = [flat[0, 0], flat[0, -1], flat[-1, 0], flat[-1, -1]]
    assert not (max(corners[1], corners[2]) > 0.8 and max(corners[0], corners[3]) < 0.2)


def test_cli_writes_one_png_with_a_panel_per_run(xor_runs, tmp_path):
    out = tmp_path / "boundaries.png"
    result = expkit("plot", "--decision-boundary", xor_runs[0], xor_runs[5], "--out", out, "--title", "XOR")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(out)
    from PIL import Image
    with Image.open(out) as image:
        assert image.format == "PNG" and image.size[0] > image.size[1] > 200  # two panels side by side
    from expkit.analysis.boundary import draw_boundaries
    from expkit.serving import load_predictor
    figure = draw_boundaries([xor_runs[0], xor_runs[5]], load_predictor)
    titles = [ax.get_title() for ax in figure.axes]
    assert titles[0].startswith("xor-h0 (xor)\ntest accuracy") and titles[1].startswith("xor-h5 (xor)")


def test_a_run_that_is_not_2d_is_a_clear_error(mnist_run, tmp_path):
    result = expkit("plot", "--decision-boundary", mnist_run, "--out", tmp_path / "b.png")
    assert result.returncode == 2
    assert "needs a classifier of 2 input features" in result.stderr and "[28, 28]" in result.stderr
    assert not (tmp_path / "b.png").exists()


@pytest.mark.parametrize("extra, message", [
    (["--kind", "bar"], "ask for different charts"),
    (["--metric", "test.accuracy"], "not the decision boundary"),
])
def test_conflicting_options(xor_runs, tmp_path, extra, message):
    result = expkit("plot", "--decision-boundary", xor_runs[5], "--out", tmp_path / "b.png", *extra)
    assert result.returncode == 2 and message in result.stderr


def test_the_installed_command_on_a_missing_run(tmp_path):
    result = subprocess.run([sys.executable, "-m", "expkit", "plot", "--decision-boundary", str(tmp_path / "nope")],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "Traceback" not in result.stderr and "nope" in result.stderr
