"""`expkit compare RUN_OR_DIR...`: one table of runs, and its four renderings (table, markdown, csv, json)."""
from __future__ import annotations

import argparse
import sys

FORMATS = ("table", "markdown", "csv", "json")
MAX_CELL = 48  # the text table cuts longer cells (descriptions, long lists); csv and json never do


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "compare", help="one table of runs: the config keys that differ, metrics, params and time",
        description="One row per run (or per seed group): name, id, status, the config keys whose values\n"
        "differ between the runs, train/val/test metrics, parameter count and training time.\n"
        "Reads only run.json, config.json and results.json (metrics.csv with --metric best).",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n  expkit compare runs/ --sort test.accuracy\n"
        "  expkit compare runs/my_sweep --filter 'test.accuracy>0.9' --format markdown\n"
        "  expkit compare runs/* --columns 'name,model.*,test.accuracy' --format csv\n"
        "  expkit compare runs/ --metric best --sort val.accuracy --no-group-by-seed")
    parser.add_argument("paths", nargs="+", metavar="RUN_OR_DIR",
                        help="run folders, or folders holding runs (runs/, a sweep folder); globs are fine")
    parser.add_argument("--sort", metavar="KEY", help="sort by a column, e.g. test.accuracy (accuracy-like "
                        "metrics descending, loss-like ascending: loss, mse, mae, rmse, *error; others ascending)")
    direction = parser.add_mutually_exclusive_group()
    direction.add_argument("--asc", dest="descending", action="store_const", const=False, help="sort ascending")
    direction.add_argument("--desc", dest="descending", action="store_const", const=True, help="sort descending")
    parser.add_argument("--filter", dest="filters", action="append", default=[], metavar="EXPR",
                        help="keep runs where KEY OP VALUE holds, OP one of = != > >= < <=, VALUE read as YAML "
                        "(e.g. 'test.accuracy>0.9', model.layers.1.units=128, status=completed); repeatable, all "
                        "must hold; applied to single runs before seed grouping")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--columns", metavar="A,B,C", help="exactly these columns, in this order; globs allowed "
                       "(e.g. 'name,model.*,test.accuracy')")
    which.add_argument("--all-columns", action="store_true", help="every config key, not only those that differ")
    parser.add_argument("--metric", choices=("final", "best"), default="final",
                        help="final: results.json (last epoch; test evaluated after training). best: from "
                        "metrics.csv, the epoch with the best validation value of the sort key's metric "
                        "(val_loss without --sort), reported as best_epoch, train.*, val.* (no test.*)")
    parser.add_argument("--format", choices=FORMATS, default="table", help="output format (default: table)")
    parser.add_argument("--group-by-seed", action=argparse.BooleanOptionalAction, default=None,
                        help="one row per group of runs that differ only by experiment.seed, with n and "
                        "mean ± sample std (default: on when some runs differ only by seed)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.compare import compare_runs
    table = compare_runs(args.paths, sort=args.sort, descending=args.descending, filters=args.filters,
                         metric=args.metric, group_by_seed=args.group_by_seed, columns=args.columns,
                         all_columns=args.all_columns)
    for problem in table.problems:
        print(f"skipped {problem}", file=sys.stderr)
    if not table.rows:
        print("no run matches the filters", file=sys.stderr)
    try:
        sys.stdout.write(render(table, args.format))
        sys.stdout.flush()
    except BrokenPipeError:  # `expkit compare ... | head`
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def render(table, fmt: str) -> str:
    return {"table": _text, "markdown": _markdown, "csv": _csv, "json": _json}[fmt](table)


def _shown(table) -> list[str]:
    """The columns a person reads: X.std folds into X as 'mean ± std'."""
    return [c for c in table.columns if not (c.endswith(".std") and c[:-4] in table.columns)]


def cell(table, row: dict, column: str) -> str:
    """One value as a person reads it: metrics compactly, params with thousands separators, means ± std."""
    from expkit.compare import flow
    value = row.get(column)
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return flow(value)
    text = _number(table, column, value)
    std = row.get(f"{column}.std") if f"{column}.std" in table.columns else None
    if std is None:
        return text
    # Two significant digits of spread are all a reader can use: 0.8846 ± 0.0019, not ± 0.001904.
    spread = f"{std:.1f}" if column in ("training_seconds", "samples_per_second") else f"{std:.2g}"
    return f"{text} ± {spread}"


def _number(table, column: str, value: float) -> str:
    from expkit.compare import format_number
    if column in ("params", "epochs_run", "best_epoch", "n") and float(value).is_integer():
        return f"{int(value):,}" if column == "params" else str(int(value))
    if column in ("training_seconds", "samples_per_second", "best_epoch", "epochs_run"):
        return f"{value:.1f}"
    if isinstance(value, int):
        return str(value)
    if column.split(".", 1)[0] in ("train", "val", "test") or f"{column}.std" in table.columns:
        return format_number(value)
    return repr(value)  # a config value: as written (0.0003, 1e-05)


def _numeric(table, column: str) -> bool:
    values = [row.get(column) for row in table.rows if row.get(column) is not None]
    return bool(values) and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values)


def _text(table) -> str:
    columns = _shown(table)
    cells = [[_cut(cell(table, row, c)) for c in columns] for row in table.rows]
    widths = [max([len(c)] + [len(r[i]) for r in cells]) for i, c in enumerate(columns)]
    right = [_numeric(table, c) for c in columns]

    def line(values):
        return "  ".join(v.rjust(w) if r else v.ljust(w) for v, w, r in zip(values, widths, right)).rstrip()
    out = [line(columns), line(["-" * w for w in widths])] + [line(r) for r in cells]
    return "\n".join(out) + "\n"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_CELL else text[:MAX_CELL - 1] + "…"


def _markdown(table) -> str:
    columns = _shown(table)

    def line(values):
        return "| " + " | ".join(v.replace("|", "\\|") for v in values) + " |"
    rule = "|" + "|".join("---:" if _numeric(table, c) else "---" for c in columns) + "|"
    rows = [line([cell(table, row, c) for c in columns]) for row in table.rows]
    return "\n".join([line(columns), rule, *rows]) + "\n"


def _raw(value) -> str:
    """csv cells: full precision, blank for missing, JSON for lists and mappings."""
    import json
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (list, dict)):
        return json.dumps(value)
    return str(value)


def _csv(table) -> str:
    import csv
    import io
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(table.columns)
    writer.writerows([_raw(row.get(c)) for c in table.columns] for row in table.rows)
    return out.getvalue()


def _json(table) -> str:
    import json
    import math

    def clean(value):
        return None if isinstance(value, float) and not math.isfinite(value) else value
    rows = [{c: clean(row.get(c)) for c in table.columns} for row in table.rows]
    return json.dumps({"metric": table.metric, "grouped": table.grouped, "columns": table.columns, "rows": rows},
                      indent=2, default=str) + "\n"
