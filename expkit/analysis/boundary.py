"""`expkit plot --decision-boundary RUN...`: what a 2-feature classifier learned, over its data, as a PNG.

For each run: its model (safe mode) on a 300x300 grid covering the run's own samples plus a margin,
the grid prepared by the run's preprocessing.json as training prepared its inputs; filled contours
of P(class 1) for two classes (the 0.5 line drawn in black) or of the predicted class for more;
the training samples as dots and the test samples as crosses, coloured by their true class. The
samples are re-made from the run's config.yaml: the same seed gives the same split. Several runs
make a row of panels in one figure, to compare 0, 2, 3 and 5 hidden units side by side.
"""
from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from expkit.errors import ExpkitError
from expkit.runstore import RunFolder

GRID = 300
MARGIN = 0.15  # of the data's extent, on each side


def boundary_panel(run_dir: Path, load_predictor) -> dict:
    """Everything one panel draws: the grid and its probabilities, the samples, the title.
    `load_predictor(run_dir)` is serving's (the caller passes it: analysis does not import serving)."""
    from expkit.config.dataset import DatasetConfig
    from expkit.data.prepare import raw_splits
    folder = RunFolder(run_dir)
    if not folder.config_yaml.is_file() and not folder.config_json.is_file():
        raise ExpkitError(f"{run_dir}: not a run folder (no config.yaml); give the folder of a completed run")
    predictor = load_predictor(run_dir)
    pre = predictor.pre
    if tuple(pre.raw_shape) != (2,) or pre.task != "classification":
        raise ExpkitError(f"{run_dir}: a decision boundary needs a classifier of 2 input features, but this run's "
                          f"inputs have shape {list(pre.raw_shape)} ({pre.task}); use it on runs of 2-D data "
                          "such as xor, moons, circles or spirals")
    # Only the recorded dataset section is read back, not the whole config against today's schema,
    # so an old run still draws after the schema grows.
    recorded = folder.read_config()
    dataset = DatasetConfig.model_validate(recorded.get("dataset") or {})
    splits = raw_splits(dataset, (recorded.get("experiment") or {}).get("seed", 0))
    xy = np.concatenate([pair[0] for pair in splits.values() if pair is not None]).astype(np.float64)
    low, high = xy.min(axis=0), xy.max(axis=0)
    pad = MARGIN * np.maximum(high - low, 1e-6)
    gx, gy = np.meshgrid(np.linspace(low[0] - pad[0], high[0] + pad[0], GRID),
                         np.linspace(low[1] - pad[1], high[1] + pad[1], GRID))
    probs = predictor(np.stack([gx.ravel(), gy.ravel()], axis=1), batch_size=8192)
    probs = probs.reshape(len(probs), -1)
    surface = probs[:, -1] if probs.shape[1] <= 2 else probs.argmax(axis=1).astype(np.float64)
    results = folder.read_json(folder.results_json) or {}
    run = folder.read_json(folder.run_json) or {}
    return {"name": f"{run.get('name', run_dir.name)} ({dataset.name})", "gx": gx, "gy": gy, "surface": surface.reshape(gx.shape),
            "classes": max(probs.shape[1], 2), "splits": splits,
            "test_accuracy": results.get("test", {}).get("accuracy")}


def draw_boundaries(run_dirs: list[Path], load_predictor, title: str | None = None):
    """A Figure with one panel per run."""
    from expkit.analysis.plot import _figure
    panels = [boundary_panel(Path(d), load_predictor) for d in run_dirs]
    columns = min(len(panels), 4)
    rows = math.ceil(len(panels) / columns)
    figure = _figure(figsize=(3.6 * columns, 3.4 * rows))
    for index, panel in enumerate(panels):
        _draw_panel(figure.add_subplot(rows, columns, index + 1), panel)
    if title:
        figure.suptitle(title)
    return figure


def _draw_panel(ax, panel: dict) -> None:
    from matplotlib import colormaps
    cmap = colormaps["RdBu" if panel["classes"] == 2 else "tab10"]
    if panel["classes"] == 2:
        ax.contourf(panel["gx"], panel["gy"], panel["surface"], levels=np.linspace(0, 1, 11), cmap=cmap, alpha=0.6)
        ax.contour(panel["gx"], panel["gy"], panel["surface"], levels=[0.5], colors="black", linewidths=1.2)
    else:
        ax.contourf(panel["gx"], panel["gy"], panel["surface"], levels=np.arange(panel["classes"] + 1) - 0.5,
                    cmap=cmap, alpha=0.5)
    vmax = 1 if panel["classes"] == 2 else panel["classes"] - 1
    for split, marker in (("train", "o"), ("val", "o"), ("test", "x")):
        pair = panel["splits"].get(split)
        if pair is None:
            continue
        x, y = pair
        kwargs = {"edgecolors": "black", "linewidths": 0.3} if marker == "o" else {"linewidths": 1.0}
        ax.scatter(x[:, 0], x[:, 1], c=np.asarray(y).reshape(-1), cmap=cmap, vmin=0, vmax=vmax, s=9,
                   marker=marker, label=split if split != "val" else None, **kwargs)
    accuracy = panel["test_accuracy"]
    ax.set_title(panel["name"] + (f"\ntest accuracy {accuracy:.3f}" if accuracy is not None else ""), fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])


def plot_boundaries(run_dirs: list[Path], out: Path, load_predictor, title: str | None = None) -> Path:
    from expkit.analysis.plot import save_figure
    return save_figure(draw_boundaries(run_dirs, load_predictor, title), out)
