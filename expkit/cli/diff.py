"""`expkit diff RUN_A RUN_B`: the config keys that changed between two runs, then their metrics."""
from __future__ import annotations

import sys


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "diff", help="what changed between two runs: config keys, then final metrics side by side",
        description="One line per config key that differs (model.layers[2].rate: 0.2 → 0.5; a layer added or "
        "removed is one line), then both runs' final metrics with the change (b - a). Exit 0 whether or not "
        "they differ.",
        epilog="Example: expkit diff runs/20260101-120000-mnist_cnn-1a2b runs/20260101-130000-mnist_cnn-3c4d "
        "(or: expkit diff 1a2b 3c4d)")
    parser.add_argument("run_a", metavar="RUN_A", help="a run folder (or, when no such path exists, the end of "
                        "a run's id under --runs-dir, e.g. 1a2b)")
    parser.add_argument("run_b", metavar="RUN_B", help="the run to compare it with")
    parser.add_argument("--format", choices=("text", "json"), default="text", help="output format (default: text)")
    parser.add_argument("--runs-dir", default="runs", help="where to look up run ids (default: runs)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.analysis.diff import diff_json, diff_text, resolve_run
    a, b = resolve_run(args.run_a, args.runs_dir), resolve_run(args.run_b, args.runs_dir)
    sys.stdout.write((diff_json if args.format == "json" else diff_text)(a, b))
    return 0
