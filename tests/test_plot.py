"""expkit plot: learning curves and seed-group bar charts drawn from hand-made run folders."""
from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

from expkit.analysis import plot  # noqa: E402
from expkit.cli import main  # noqa: E402
from expkit.runstore import load_runs  # noqa: E402

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
COLUMNS = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds"]


def make_run(root: Path, run_id: str, *, seed: int = 0, units: int = 8, name: str = "xor_mlp",
             epochs: int = 3, test: dict | None = None, status: str = "completed",
             columns: list[str] = COLUMNS) -> Path:
    """A run folder as `expkit train` writes it, without model.keras: run.json, config.json,
    results.json (when `test` is given) and metrics.csv (`epochs` rows, header only for 0,
    no file for None). Metric values are made up but distinct per run and epoch."""
    path = root / run_id
    path.mkdir(parents=True)
    config = {"experiment": {"name": name, "seed": seed},
              "dataset": {"name": "xor"},
              "model": {"layers": [{"type": "Dense", "units": units}, {"type": "Dense", "units": 1}]},
              "training": {"epochs": epochs or 1}}
    (path / "config.json").write_text(json.dumps(config))
    (path / "run.json").write_text(json.dumps({"id": run_id, "name": name, "status": status,
                                               "start_time": f"2026-01-01T00:00:{len(list(root.iterdir())):02d}"}))
    if test is not None:
        (path / "results.json").write_text(json.dumps({"train": {"loss": 0.1}, "test": test, "params": 33}))
    if epochs is not None:
        with (path / "metrics.csv").open("w", newline="") as f:
            writer = csv.writer(f)
            writer.writerow(columns)
            for epoch in range(1, epochs + 1):
                writer.writerow([epoch if c == "epoch" else round(seed + units / 10 + epoch / 100 + i / 1000, 6)
                                 for i, c in enumerate(columns)])
    return path


def lines_by_label(figure, metric: str) -> dict[str, list[float]]:
    ax = next(a for a in figure.axes if a.get_title() == metric)
    return {line.get_label(): list(line.get_ydata()) for line in ax.get_lines()}


# --- curves ----------------------------------------------------------------------------------------

def test_curves_png_is_written_and_reads_back_at_the_figure_size(tmp_path):
    make_run(tmp_path, "r1", seed=1)
    make_run(tmp_path, "r2", seed=2)
    runs = load_runs([tmp_path])
    out = plot.plot_curves(runs, tmp_path / "curves.png")

    assert out == tmp_path / "curves.png"
    assert out.read_bytes()[:8] == PNG_SIGNATURE
    import matplotlib.image
    width, height = plot.draw_curves(runs).get_size_inches() * plot.DPI
    assert matplotlib.image.imread(out).shape == (round(height), round(width), 4)


def _run_coloured_pixels(tmp_path, runs, name: str) -> int:
    """Pixels of the first run's colour inside the loss axes of the saved PNG (the legend is outside)."""
    import matplotlib.image
    import numpy as np
    figure = plot.draw_curves(runs)
    out = plot.save_figure(figure, tmp_path / name)
    pixels = matplotlib.image.imread(out)[..., :3]
    box = next(a for a in figure.axes if a.get_title() == "loss").get_window_extent()
    height = pixels.shape[0]
    inside = pixels[int(height - box.y1):int(height - box.y0), int(box.x0):int(box.x1)]
    colour = np.array(plot._colours(1)[0][:3])
    return int((np.abs(inside - colour).max(axis=-1) < 0.08).sum())


def test_a_one_epoch_run_shows_as_visible_points(tmp_path, monkeypatch):
    make_run(tmp_path, "r1", epochs=1)
    runs = load_runs([tmp_path])
    assert _run_coloured_pixels(tmp_path, runs, "marked.png") > 30  # two markers of ~5 px across
    monkeypatch.setattr(plot, "MARKED_EPOCHS", 0)  # what it looked like before: empty axes
    assert _run_coloured_pixels(tmp_path, runs, "unmarked.png") == 0


def test_curves_draw_one_axes_per_metric_and_train_and_validation_per_run(tmp_path):
    columns = ["epoch", "loss", "accuracy", "mse", "val_loss", "val_accuracy", "val_mse", "learning_rate"]
    make_run(tmp_path, "r1", seed=1, columns=columns)
    make_run(tmp_path, "r2", seed=2, columns=columns)
    figure = plot.draw_curves(load_runs([tmp_path]))

    assert [ax.get_title() for ax in figure.axes] == ["loss", "accuracy", "mse"]  # no learning_rate, epoch_seconds
    for ax in figure.axes:
        assert len(ax.get_lines()) == 4
        assert [line.get_linestyle() for line in ax.get_lines()] == ["-", "--", "-", "--"]
        assert ax.get_xlabel() == "epoch"
    lines = lines_by_label(figure, "accuracy")
    # Same name: the labels say what differs. Values: seed + units/10 + epoch/100 + column/1000.
    assert lines["xor_mlp (seed=1) accuracy"] == pytest.approx([1.812, 1.822, 1.832])
    assert lines["xor_mlp (seed=2) val_accuracy"] == pytest.approx([2.815, 2.825, 2.835])
    assert [t.get_text() for t in figure.legends[0].get_texts()] == [
        "xor_mlp (seed=1)", "xor_mlp (seed=2)", "train", "validation"]


@pytest.mark.parametrize("wanted, titles", [
    (["accuracy"], ["accuracy"]),
    (["val_accuracy", "loss"], ["accuracy", "loss"]),  # val_ names mean the pair
])
def test_curves_metrics_option_chooses_the_subplots(tmp_path, wanted, titles):
    make_run(tmp_path, "r1")
    figure = plot.draw_curves(load_runs([tmp_path]), metrics=wanted)
    assert [ax.get_title() for ax in figure.axes] == titles


@pytest.mark.parametrize("epochs", [None, 0], ids=["no metrics.csv", "header only"])
def test_curves_skip_a_run_without_metrics_rows_with_a_note(tmp_path, epochs):
    make_run(tmp_path, "good")
    bad = make_run(tmp_path, "crashed", seed=5, epochs=epochs, status="failed")
    notes: list[str] = []
    figure = plot.draw_curves(load_runs([tmp_path]), notes=notes)

    assert notes == [f"{bad}: skipped, no metrics.csv rows (status: failed)"]
    assert len(figure.axes[0].get_lines()) == 2
    assert figure.get_suptitle() == "Learning curves: xor_mlp"  # labels tell apart the runs drawn


def test_curves_with_no_rows_at_all_is_an_error(tmp_path):
    make_run(tmp_path, "crashed", epochs=None, status="failed")
    with pytest.raises(plot.ExpkitError, match=r"none of the 1 run\(s\) has metrics.csv rows"):
        plot.draw_curves(load_runs([tmp_path]))


def test_runs_with_the_same_config_are_told_apart_by_id(tmp_path):
    make_run(tmp_path, "20260101-xor_mlp-aaaa")
    make_run(tmp_path, "20260101-xor_mlp-bbbb")
    make_run(tmp_path, "20260101-other-cccc", name="other")
    assert plot.run_labels(load_runs([tmp_path])) == ["xor_mlp #aaaa", "xor_mlp #bbbb", "other"]


# --- bar -------------------------------------------------------------------------------------------

def test_bar_groups_seeds_into_mean_and_sample_std(tmp_path):
    for seed, accuracy in enumerate([0.9, 0.8, 0.95]):
        make_run(tmp_path, f"a{seed}", seed=seed, units=8, test={"accuracy": accuracy, "loss": 0.3})
    for seed, accuracy in enumerate([0.6, 0.7]):
        make_run(tmp_path, f"b{seed}", seed=seed, units=4, test={"accuracy": accuracy, "loss": 0.5})
    make_run(tmp_path, "c0", units=2, test={"accuracy": 0.5, "loss": 0.7})
    figure = plot.draw_bar(load_runs([tmp_path]), "test.accuracy")
    ax = figure.axes[0]

    # By hand: mean(0.9, 0.8, 0.95) = 0.883333, sample std = sqrt((0.016667² + 0.083333² + 0.066667²) / 2);
    # mean(0.6, 0.7) = 0.65, std = sqrt(2 * 0.05² / 1); one run has no error bar.
    assert [bar.get_height() for bar in ax.patches] == pytest.approx([0.883333, 0.65, 0.5], abs=1e-6)
    errorbars = [c for c in ax.containers if type(c).__name__ == "ErrorbarContainer"]
    assert len(errorbars) == 1
    segments = errorbars[0].lines[2][0].get_segments()
    centres = [(s[0][1] + s[1][1]) / 2 for s in segments]
    half_lengths = [(s[1][1] - s[0][1]) / 2 for s in segments]
    assert centres == pytest.approx([0.883333, 0.65], abs=1e-6)
    assert half_lengths == pytest.approx([0.0763763, 0.0707107], abs=1e-6)
    dots = sorted(y for c in ax.collections if type(c).__name__ == "PathCollection" for _, y in c.get_offsets())
    assert dots == pytest.approx([0.5, 0.6, 0.7, 0.8, 0.9, 0.95])
    assert [t.get_text() for t in ax.get_xticklabels()] == ["units=8\n(n=3)", "units=4\n(n=2)", "units=2\n(n=1)"]


def test_bar_zooms_in_when_the_groups_differ_by_a_few_points_and_says_so(tmp_path):
    for seed, accuracy in enumerate([0.88, 0.885]):
        make_run(tmp_path, f"a{seed}", seed=seed, units=8, test={"accuracy": accuracy})
    make_run(tmp_path, "b0", units=4, test={"accuracy": 0.84})
    ax = plot.draw_bar(load_runs([tmp_path]), "test.accuracy").axes[0]
    low, high = ax.get_ylim()
    assert 0.8 < low < 0.84 and 0.885 < high < 0.95
    assert "the y axis does not start at 0" in ax.get_title()
    wide = tmp_path / "wide"
    make_run(wide, "c0", units=8, test={"accuracy": 0.9})
    make_run(wide, "d0", units=4, test={"accuracy": 0.3})
    ax = plot.draw_bar(load_runs([wide]), "test.accuracy").axes[0]
    assert ax.get_ylim()[0] <= 0 and "does not start at 0" not in ax.get_title()


def test_bar_labels_groups_by_name_when_each_has_its_own(tmp_path):
    make_run(tmp_path, "a0", units=8, test={"accuracy": 0.9}, name="mlp-relu")
    make_run(tmp_path, "b0", units=4, test={"accuracy": 0.8}, name="mlp-linear")
    ax = plot.draw_bar(load_runs([tmp_path]), "test.accuracy").axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mlp-relu\n(n=1)", "mlp-linear\n(n=1)"]


def test_bar_defaults_to_test_accuracy_else_test_loss(tmp_path):
    make_run(tmp_path, "r1", test={"loss": 0.4})
    make_run(tmp_path, "r2", seed=1, test={"loss": 0.6})
    figure = plot.draw_bar(load_runs([tmp_path]))
    assert figure.axes[0].get_ylabel() == "test loss"
    assert [bar.get_height() for bar in figure.axes[0].patches] == pytest.approx([0.5])
    assert [t.get_text() for t in figure.axes[0].get_xticklabels()] == ["xor_mlp\n(n=2)"]


def test_bar_skips_a_run_without_the_metric_with_a_note(tmp_path):
    make_run(tmp_path, "done", test={"accuracy": 0.9})
    failed = make_run(tmp_path, "failed", seed=1, status="failed")
    notes: list[str] = []
    figure = plot.draw_bar(load_runs([tmp_path]), "accuracy", notes=notes)  # split defaults to test
    assert notes == [f"{failed}: skipped, no test.accuracy in results.json (status: failed)"]
    assert [bar.get_height() for bar in figure.axes[0].patches] == pytest.approx([0.9])


# --- the command -----------------------------------------------------------------------------------

@pytest.mark.parametrize("args, message", [
    (["--metrics", "loss,acuracy"], "--metrics: no metric 'acuracy' in metrics.csv (did you mean 'accuracy'?)"),
    (["--kind", "bar", "--metric", "test.acuracy"],
     "--metric: no run's results.json holds 'test.acuracy' (did you mean 'test.accuracy'?)"),
    (["--out", "missing/plot.png"], "the folder 'missing' does not exist"),
    (["--out", "plot.jpg"], "expected a file ending in .png, .svg, .pdf"),
    (["--kind", "bar", "--metrics", "loss"], "--metrics is for --kind curves"),
    (["--kind", "curves", "--metric", "test.loss"], "--metric is for --kind bar"),
    (["--weights", "--kind", "bar"], "--weights and --kind bar ask for different charts"),
    (["--weights", "--metric", "test.loss"], "--metric and --metrics are for bar and curves charts, not --kind weights"),
], ids=["unknown curve metric", "unknown bar metric", "missing folder", "not png", "metrics for bar",
        "metric for curves", "weights and bar", "weights with a metric"])
def test_bad_input_exits_2_with_a_message(tmp_path, monkeypatch, capsys, args, message):
    make_run(tmp_path / "runs", "r1", test={"accuracy": 1.0, "loss": 0.1})
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "runs", *args]) == 2
    assert message in capsys.readouterr().err
    assert not list(tmp_path.glob("*.png"))


def test_no_runs_found_exits_2(tmp_path, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["plot", str(tmp_path / "empty")]) == 2
    assert f"error: no runs found in {tmp_path / 'empty'}" in capsys.readouterr().err


def test_metric_alone_means_a_bar_chart_in_the_current_folder(tmp_path, monkeypatch, capsys):
    make_run(tmp_path / "runs", "r1", test={"accuracy": 1.0})
    monkeypatch.chdir(tmp_path)
    assert main(["plot", "runs", "--metric", "params"]) == 0
    assert capsys.readouterr().out.splitlines()[-1] == "plot-bar.png"
    assert (tmp_path / "plot-bar.png").read_bytes()[:8] == PNG_SIGNATURE


def _run_python(code: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, timeout=60)


def test_cli_end_to_end_prints_the_path_last(tmp_path):
    make_run(tmp_path / "runs", "r1", seed=1)
    make_run(tmp_path / "runs", "r2", seed=2)
    make_run(tmp_path / "runs", "r3", seed=3, epochs=None, status="running")
    out = tmp_path / "figs" / "c.png"
    out.parent.mkdir()
    result = subprocess.run([sys.executable, "-m", "expkit", "plot", "runs", "--out", str(out), "--title", "XOR"],
                            cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == str(out)
    assert "r3: skipped, no metrics.csv rows (status: running)" in result.stderr
    assert out.read_bytes()[:8] == PNG_SIGNATURE


def test_plot_does_not_import_tensorflow(tmp_path):
    make_run(tmp_path / "runs", "r1", test={"accuracy": 1.0})
    code = ("import sys; from expkit.cli import main\n"
            "assert main(['plot', 'runs']) == 0 and main(['plot', 'runs', '--kind', 'bar']) == 0\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    result = _run_python(code, tmp_path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1] == "[]"


def test_missing_matplotlib_exits_2_with_the_install_hint(tmp_path):
    make_run(tmp_path / "runs", "r1")
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from expkit.cli import main; sys.exit(main(['plot', 'runs']))")
    result = _run_python(code, tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip() == ("error: expkit plot needs matplotlib: "
                                     "pip install 'expkit[plots]' (or pip install matplotlib)")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "plot-curves.png").exists()


@pytest.mark.slow
def test_weights_draws_the_first_layers_filters(mnist_run, tmp_path):
    """The trained convnet's eight 3x3 filters, tiled as TensorBoard's first_layer image is."""
    import matplotlib.image
    import numpy as np
    from expkit.tracking.filters import GAP_COLOUR
    out = tmp_path / "weights.png"
    from tests.conftest import expkit_in_process
    done = expkit_in_process("plot", "--weights", mnist_run, "--out", out)  # in-process: one TensorFlow import
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == str(out)
    pixels = matplotlib.image.imread(out)[..., :3]
    gaps = (np.abs(pixels - np.array(GAP_COLOUR)).max(axis=-1) < 0.02).sum()
    grey = (np.abs(pixels - pixels.mean(axis=-1, keepdims=True)).max(axis=-1) < 0.01) & (pixels.mean(axis=-1) < 0.9)
    assert gaps > 500 and grey.sum() > 20_000  # the grid's lines and eight filters of grey levels
