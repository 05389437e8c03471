"""`expkit plot RUN_OR_DIR...`: learning curves, or one metric across runs, as a PNG. No TensorFlow."""
from __future__ import annotations

import sys
from pathlib import Path

from expkit.errors import ExpkitError

KINDS = ("curves", "bar", "boundary", "weights")


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "plot", help="PNG learning curves of runs, or a metric across runs with seed error bars (needs matplotlib)",
        description="Draws runs read from their folders. curves: loss and each metric per epoch, train solid, "
        "validation dashed, one colour per run. bar: one results.json metric per group of runs that differ "
        "only by seed, mean with sample-std error bars and a dot per run.",
        epilog="Example: expkit plot runs/ --kind bar --metric test.accuracy --out accuracy.png")
    parser.add_argument("paths", nargs="+", metavar="RUN_OR_DIR", help="run folders, or folders holding runs (a sweep, runs/)")
    parser.add_argument("--kind", choices=KINDS, help="curves (default), bar (default when --metric is given), or "
                        "boundary (the same as --decision-boundary)")
    parser.add_argument("--decision-boundary", action="store_true", help="the learned decision boundary of each "
                        "2-feature classifier over its data, one panel per run (loads the models: imports TensorFlow)")
    parser.add_argument("--weights", action="store_true", help="what each run's first layer learned: its Conv2D "
                        "filters, or the weights of each unit of a Dense layer over a whole image, as pictures "
                        "(the same image TensorBoard shows; loads the models: imports TensorFlow)")
    parser.add_argument("--out", metavar="FILE.png", help="the file to write (default: plot-<kind>.png here); "
                        "an existing folder gets plot-<kind>.png inside it")
    parser.add_argument("--metrics", metavar="NAME,NAME", help="curves: the metrics to draw, e.g. loss,accuracy "
                        "(default: loss and every other metric in metrics.csv)")
    parser.add_argument("--metric", metavar="SPLIT.NAME", help="bar: the results.json value to compare, e.g. "
                        "test.accuracy, val.loss, params (default: test.accuracy, else test.loss)")
    parser.add_argument("--title", help="the figure's title (default: says what is drawn)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.analysis import plot
    from expkit.runstore import require_runs
    if args.decision_boundary and args.weights:
        raise ExpkitError("--decision-boundary and --weights ask for different charts; give one of them")
    flag = "boundary" if args.decision_boundary else "weights" if args.weights else None
    kind = flag or args.kind or ("bar" if args.metric else "curves")
    if flag and args.kind not in (None, flag):
        raise ExpkitError(f"--{'decision-boundary' if args.decision_boundary else 'weights'} and --kind {args.kind} "
                          "ask for different charts; give one of them")
    if kind in ("boundary", "weights") and (args.metric or args.metrics):
        chart = "the decision boundary" if kind == "boundary" else f"--kind {kind}"
        raise ExpkitError(f"--metric and --metrics are for bar and curves charts, not {chart}")
    if kind == "bar" and args.metrics:
        raise ExpkitError("--metrics is for --kind curves; for a bar chart give one --metric, e.g. test.accuracy")
    if kind == "curves" and args.metric:
        raise ExpkitError("--metric is for --kind bar; for curves give --metrics, e.g. loss,accuracy")
    out = _output(args.out, kind)
    runs = require_runs(args.paths)
    notes: list[str] = []
    if kind == "boundary":
        from expkit.analysis.boundary import plot_boundaries
        from expkit.serving import load_predictor
        path = plot_boundaries([r.path for r in runs], out, load_predictor, title=args.title)
    elif kind == "weights":
        path = plot.plot_weights([_first_layer(run) for run in runs], out, title=args.title)
    elif kind == "curves":
        metrics = [m.strip() for m in args.metrics.split(",") if m.strip()] if args.metrics else None
        path = plot.plot_curves(runs, out, metrics=metrics, title=args.title, notes=notes)
    else:
        path = plot.plot_bar(runs, out, metric=args.metric, title=args.title, notes=notes)
    for note in notes:
        print(f"note: {note}", file=sys.stderr)
    print(path)
    return 0


def _output(out: str | None, kind: str) -> Path:
    from expkit.analysis.plot import check_output
    path = Path(out) if out else Path(f"plot-{kind}.png")
    if path.is_dir():
        path = path / f"plot-{kind}.png"
    return check_output(path)


def _first_layer(run):
    """(run label, description, filters) of one run's model; loads it, so imports TensorFlow."""
    from expkit.runstore import RunFolder
    from expkit.serving import load_run_model
    from expkit.tracking.filters import first_layer_filters
    model = load_run_model(run.path)
    prep = RunFolder(run.path).read_preprocessing() or {}
    shape = prep.get("raw_shape") if len(prep.get("shape") or ()) == 1 else prep.get("shape")
    found = first_layer_filters(model.layers, tuple(shape or model.inputs[0].shape[1:]))
    if found is None:
        first = next((layer for layer in model.layers if getattr(layer, "kernel", None) is not None), None)
        what = f"{first.name} ({type(first).__name__})" if first is not None else "no layer with weights"
        raise ExpkitError(f"{run.path}: the first layer with weights is {what}, whose weights are not pictures; "
                          "--weights needs a Conv2D first, or a Dense layer over a whole image (an MLP on MNIST)")
    return (run.name or run.id, *found)
