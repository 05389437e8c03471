"""`expkit compare RUN_OR_DIR...`: one table of runs, and its four renderings (table, markdown, csv, json)."""
from __future__ import annotations

import argparse
import sys

from expkit.analysis.render import FORMATS


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
        "  expkit compare runs/ --metric best --sort val.accuracy --no-group-by-seed\n"
        "  expkit compare runs/* --group-by experiment.name\n"
        "  expkit compare runs/ --filter 'test.accuracy>0.9' --columns id | xargs -n1 expkit summary\n\n"
        "The table keeps to the terminal's width (COLUMNS); columns that do not fit are listed below it.")
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
    parser.add_argument("--group-by", metavar="KEY", help="one row per value of KEY (e.g. experiment.name), "
                        "with n and mean ± sample std of each metric; config keys that vary inside a group are left out")
    parser.add_argument("--group-by-seed", action=argparse.BooleanOptionalAction, default=None,
                        help="one row per group of runs that differ only by experiment.seed, with n and "
                        "mean ± sample std (default: on when some runs differ only by seed)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.analysis.compare import compare_runs
    from expkit.analysis.render import render
    table = compare_runs(args.paths, sort=args.sort, descending=args.descending, filters=args.filters,
                         metric=args.metric, group_by_seed=args.group_by_seed, columns=args.columns,
                         all_columns=args.all_columns, group_by=args.group_by)
    for problem in table.problems:
        print(f"skipped {problem}", file=sys.stderr)
    if not table.rows:
        print("no run matches the filters", file=sys.stderr)
    try:
        sys.stdout.write(render(table, args.format, width=terminal_width()))
        sys.stdout.flush()
    except BrokenPipeError:  # `expkit compare ... | head`
        import os
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


def terminal_width() -> int | None:
    """COLUMNS, else the terminal's width; None (no limit) when the output goes to a file or a pipe."""
    import os
    import shutil
    if os.environ.get("COLUMNS", "").isdigit() or sys.stdout.isatty():
        return max(shutil.get_terminal_size().columns, 40)
    return None
