"""PNG charts of finished runs: learning curves per epoch, and one metric across runs with seed groups.

Each chart is a `draw_*` function that returns a matplotlib Figure (tests look inside it) and a
`plot_*` function that draws and saves it, returning the path written. Figures are built without
pyplot on the Agg canvas: no display, no global state. matplotlib is imported lazily (it is the
optional `plots` extra) and TensorFlow never: a chart that needs a model, such as a decision
boundary, belongs in its own draw function beside these, importing TensorFlow itself.
"""
from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING

from expkit.errors import ExpkitError, suggest
from expkit.analysis.values import is_number, mean_and_std, seed_group_key
from expkit.runstore import SEED_KEY, Run, flatten

if TYPE_CHECKING:
    from matplotlib.figure import Figure

DPI = 120
NOT_CURVES = ("epoch", "learning_rate", "epoch_seconds")  # metrics.csv columns that are not train metrics
FORMATS = (".png", ".svg", ".pdf")
MARKED_EPOCHS = 40  # curves with at most this many epochs mark each point


def _figure(**kwargs) -> Figure:
    """A Figure on the non-interactive Agg canvas; the one place matplotlib is imported."""
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError:
        raise ExpkitError("expkit plot needs matplotlib: pip install 'expkit[plots]' (or pip install matplotlib)") from None
    figure = Figure(dpi=DPI, layout="constrained", **kwargs)
    FigureCanvasAgg(figure)
    return figure


def save_figure(figure: Figure, out: str | Path) -> Path:
    out = Path(out)
    figure.savefig(out, dpi=DPI)
    return out


def check_output(out: str | Path) -> Path:
    """The output file, checked before any drawing: a supported format, in a folder that exists."""
    out = Path(out)
    if out.suffix.lower() not in FORMATS:
        raise ExpkitError(f"--out {out}: expected a file ending in {', '.join(FORMATS)}, e.g. curves.png")
    if not out.parent.is_dir():
        raise ExpkitError(f"--out {out}: the folder '{out.parent}' does not exist; create it or choose another path")
    return out


# --- labels -------------------------------------------------------------------------------------

def differing_keys(configs: list[dict], ignore: tuple[str, ...] = ()) -> list[str]:
    """Dotted config keys whose values are not the same in every config, in first-seen order."""
    flats = [flatten(c) for c in configs]
    keys = dict.fromkeys(k for flat in flats for k in flat if k not in ignore)
    missing = object()
    return [k for k in keys if len({repr(flat.get(k, missing)) for flat in flats}) > 1]


def _short(keys: list[str]) -> dict[str, str]:
    """'model.layers.0.units' -> 'units' unless another differing key ends alike."""
    lasts = [k.rsplit(".", 1)[-1] for k in keys]
    return {k: last if lasts.count(last) == 1 else k for k, last in zip(keys, lasts)}


def describe(config: dict, keys: list[str], limit: int = 3) -> str:
    """'units=4, seed=2' for the given keys (at most `limit`, then '…')."""
    flat, short = flatten(config), _short(keys)
    parts = [f"{short[k]}={flat.get(k, '-')}" for k in keys[:limit]]
    return ", ".join(parts) + (", …" if len(keys) > limit else "")


def run_labels(runs: list[Run]) -> list[str]:
    """Legend names: the run name, plus what differs when several runs share it, plus the id's
    suffix when even that is not enough (the same config trained twice)."""
    labels = []
    for run in runs:
        same = [r for r in runs if r.name == run.name]
        label = run.name or run.id
        if len(same) > 1:
            keys = differing_keys([r.config for r in same], ignore=("experiment.name",))
            label += f" ({describe(run.config, keys)})" if keys else ""
        labels.append(label)
    return [f"{label} #{run.id[-4:]}" if labels.count(label) > 1 else label for label, run in zip(labels, runs)]


# --- learning curves ------------------------------------------------------------------------------

def curve_metrics(rows: list[dict]) -> list[str]:
    """Train metric names in metrics.csv, loss first: val_accuracy counts as accuracy."""
    names = dict.fromkeys(c.removeprefix("val_") for c in (rows[0] if rows else {}) if c not in NOT_CURVES)
    return sorted(names, key=lambda n: n != "loss")


def draw_curves(runs: list[Run], metrics: list[str] | None = None, title: str | None = None,
                notes: list[str] | None = None) -> Figure:
    """One subplot per metric, x = epoch; one colour per run, train solid, validation dashed.
    Runs without metrics.csv rows are left out, each with a line in `notes`."""
    drawn, table = [], []
    for run in runs:
        rows = run.metrics_csv()
        if rows:
            drawn.append(run)
            table.append(rows)
        elif notes is not None:
            notes.append(f"{run.path}: skipped, no metrics.csv rows (status: {run.status})")
    series = list(zip(run_labels(drawn), table))
    if not series:
        raise ExpkitError(f"none of the {len(runs)} run(s) has metrics.csv rows to plot; "
                          "curves need runs that trained at least one epoch")
    found = list(dict.fromkeys(m for _, rows in series for m in curve_metrics(rows)))
    metrics = _choose(metrics, found, "in metrics.csv") if metrics else found

    columns = min(len(metrics), 3)
    rows_of_axes = math.ceil(len(metrics) / columns)
    figure = _figure(figsize=(4.6 * columns + 2.2, 3.8 * rows_of_axes))
    axes = figure.subplots(rows_of_axes, columns, squeeze=False).flatten()
    for ax in axes[len(metrics):]:
        ax.remove()
    colours = _colours(len(series))
    for ax, metric in zip(axes, metrics):
        for (label, rows), colour in zip(series, colours):
            epochs = [i + 1 if row.get("epoch") is None else row["epoch"] for i, row in enumerate(rows)]
            # A line needs two points: a 1-epoch run is one marker or nothing at all; past
            # MARKED_EPOCHS the markers would only blur the line.
            marks = dict(marker="o", markersize=5 if len(rows) == 1 else 3) if len(rows) <= MARKED_EPOCHS else {}
            for column, style, fill in ((metric, "-", colour), (f"val_{metric}", "--", "white")):
                if column in rows[0]:
                    values = [_nan(row.get(column)) for row in rows]
                    ax.plot(epochs, values, style, color=colour, linewidth=1.6, label=f"{label} {column}",
                            markerfacecolor=fill, **marks)
        _style_curve_axes(ax, metric)
    _curve_legend(figure, [label for label, _ in series], colours)
    figure.suptitle(title or _curves_title([label for label, _ in series]), fontsize=13)
    return figure


def plot_curves(runs: list[Run], out: str | Path, metrics: list[str] | None = None, title: str | None = None,
                notes: list[str] | None = None) -> Path:
    return save_figure(draw_curves(runs, metrics, title, notes), check_output(out))


def _choose(wanted: list[str], found: list[str], where: str) -> list[str]:
    chosen = []
    for name in wanted:
        name = name.removeprefix("val_")
        if name not in found:
            options = found + [f"val_{m}" for m in found]
            raise ExpkitError(f"--metrics: no metric '{name}' {where}{suggest(name, options)}; "
                              f"the runs hold: {', '.join(found)}")
        chosen.append(name)
    return list(dict.fromkeys(chosen))


def _nan(value: float | None) -> float:
    return math.nan if value is None else value


def _colours(count: int) -> list:
    from matplotlib import colormaps
    cmap = colormaps["tab10" if count <= 10 else "tab20"]
    return [cmap(i % cmap.N) for i in range(count)]


def _style_curve_axes(ax, metric: str) -> None:
    from matplotlib.ticker import MaxNLocator
    ax.set_title(metric, fontsize=12)
    ax.set_xlabel("epoch", fontsize=11)
    ax.set_ylabel(metric, fontsize=11)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.grid(True, alpha=0.3)
    values = [v for line in ax.get_lines() for v in line.get_ydata() if v == v]
    # A loss that falls by orders of magnitude is a flat line at zero on a linear axis.
    if "loss" in metric and values and min(values) > 0 and max(values) / min(values) > 100:
        ax.set_yscale("log")
        ax.set_ylabel(f"{metric} (log scale)", fontsize=11)


def _curve_legend(figure: Figure, labels: list[str], colours: list) -> None:
    from matplotlib.lines import Line2D
    handles = [Line2D([], [], color=c, linewidth=2.5) for c in colours]
    handles += [Line2D([], [], color="grey", linestyle="-"), Line2D([], [], color="grey", linestyle="--")]
    figure.legend(handles, labels + ["train", "validation"], loc="outside right upper", fontsize=10, frameon=False)


def _curves_title(labels: list[str]) -> str:
    return f"Learning curves: {labels[0]}" if len(labels) == 1 else f"Learning curves: {len(labels)} runs"


# --- one metric across runs -----------------------------------------------------------------------

def result_metrics(runs: list[Run]) -> list[str]:
    """The numeric values results.json holds, as dotted names: test.accuracy, val.loss, params."""
    names = {}
    for run in runs:
        for key, value in flatten(run.results or {}).items():
            if is_number(value):
                names[key] = None
    return list(names)


def default_metric(runs: list[Run]) -> str:
    available = result_metrics(runs)
    return "test.accuracy" if "test.accuracy" in available or "test.loss" not in available else "test.loss"


def draw_bar(runs: list[Run], metric: str | None = None, title: str | None = None,
             notes: list[str] | None = None) -> Figure:
    """`metric` (a dotted results.json name; 'accuracy' means test.accuracy) per group of runs that
    differ only by seed: a bar at the mean, an error bar of the sample std (groups of two or more),
    and a dot per run."""
    available = result_metrics(runs)
    metric = metric or default_metric(runs)
    if metric not in available and f"test.{metric}" in available:
        metric = f"test.{metric}"
    if metric not in available:
        raise ExpkitError(f"--metric: no run's results.json holds '{metric}'{suggest(metric, available)}; "
                          f"available: {', '.join(available) or 'nothing (no run has finished)'}")
    groups: dict[str, list[tuple[Run, float]]] = {}
    for run in runs:
        value = flatten(run.results or {}).get(metric)
        if is_number(value):
            groups.setdefault(seed_group_key(run), []).append((run, float(value)))
        elif notes is not None:
            notes.append(f"{run.path}: skipped, no {metric} in results.json (status: {run.status})")
    members = list(groups.values())
    labels = _group_labels(members)

    figure = _figure(figsize=(max(5.5, 1.5 * len(members) + 2.5), 4.8))
    ax = figure.subplots()
    colours = _colours(len(members))
    stats = [mean_and_std([v for _, v in group]) for group in members]
    means = [mean for mean, _ in stats]
    ax.bar(range(len(members)), means, color=colours, alpha=0.45, width=0.6)
    spread = [(i, mean, std) for i, (mean, std) in enumerate(stats) if std is not None]
    if spread:
        x, y, err = zip(*spread)
        ax.errorbar(x, y, yerr=err, fmt="none", ecolor="black", elinewidth=1.5, capsize=8)
    for i, group in enumerate(members):
        offsets = [0.0] if len(group) == 1 else [-0.15 + 0.3 * k / (len(group) - 1) for k in range(len(group))]
        ax.scatter([i + o for o in offsets], [v for _, v in group], color=colours[i], edgecolor="black", zorder=3, s=28)
    _annotate_bars(ax, members, means, {i: e for i, _, e in spread})
    ax.set_xticks(range(len(members)), labels, rotation=20 if len(members) > 4 else 0,
                  ha="right" if len(members) > 4 else "center", fontsize=10)
    ax.set_ylabel(metric.replace(".", " "), fontsize=11)
    ax.grid(True, axis="y", alpha=0.3)
    ax.margins(y=0.12)  # room for the value written above each bar
    note = "mean ± sample std over seeds; dots are single runs"
    values = [v for group in members for _, v in group] + [m + e for _, m, e in spread] + [m - e for _, m, e in spread]
    low, high = min(values), max(values)
    if low > 0 and high - low < 0.25 * high:  # bars from 0 would hide differences of a few points
        pad = max(high - low, 1e-9) * 0.35
        ax.set_ylim(low - pad, high + pad)
        note += "; the y axis does not start at 0"
    ax.set_title(note, fontsize=9, color="dimgray")
    figure.suptitle(title or f"{metric.replace('.', ' ')} across {sum(map(len, members))} runs ({len(members)} configs)", fontsize=13)
    return figure


def plot_bar(runs: list[Run], out: str | Path, metric: str | None = None, title: str | None = None,
             notes: list[str] | None = None) -> Path:
    return save_figure(draw_bar(runs, metric, title, notes), check_output(out))


def _group_labels(groups: list[list[tuple[Run, float]]]) -> list[str]:
    """What sets each seed group apart: its name when every group has its own (sweep variants),
    else the differing config keys, else the run name."""
    names = [g[0][0].name for g in groups]
    if all(names) and len(set(names)) == len(names):
        return [f"{name}\n(n={len(g)})" for name, g in zip(names, groups)]
    keys = differing_keys([g[0][0].config for g in groups], ignore=(SEED_KEY,))
    labels = [describe(g[0][0].config, keys, limit=2).replace(", ", "\n") if keys else (g[0][0].name or g[0][0].id)
              for g in groups]
    return [f"{label}\n(n={len(g)})" for label, g in zip(labels, groups)]


def _annotate_bars(ax, groups, means: list[float], errors: dict[int, float]) -> None:
    for i, group in enumerate(groups):
        top = max(max(v for _, v in group), means[i] + errors.get(i, 0.0))
        text = f"{means[i]:.4g}" + (f" ± {errors[i]:.2g}" if i in errors else "")
        ax.annotate(text, (i, top), xytext=(0, 7), textcoords="offset points", ha="center", fontsize=9)


# --- what the first layer learned ------------------------------------------------------------------

def draw_weights(panels: list[tuple], title: str | None = None) -> Figure:
    """One panel per run: `(label, description, filters)` with filters [n, height, width, channels],
    tiled by tracking.filters.filter_grid, the picture TensorBoard's `first_layer` image shows."""
    from expkit.tracking.filters import filter_grid
    figure = _figure(figsize=(max(6.0, 4.2 * len(panels)), 4.8))
    axes = figure.subplots(1, len(panels), squeeze=False)[0]
    for ax, (label, description, filters) in zip(axes, panels):
        ax.imshow(filter_grid(filters), interpolation="nearest")
        ax.set_title(f"{label}\n{description}", fontsize=9)
        ax.set_axis_off()
    figure.suptitle(title or "First layer's weights (grey 0, dark negative, light positive)", fontsize=12)
    return figure


def plot_weights(panels: list[tuple], out: str | Path, title: str | None = None) -> Path:
    return save_figure(draw_weights(panels, title), check_output(out))
