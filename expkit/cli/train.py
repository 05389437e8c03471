"""`expkit train CONFIG`: validate, build and train; the run folder is printed last."""
from __future__ import annotations

import sys
from pathlib import Path

from expkit.cli.app import add_set_option


def add_parser(sub) -> None:
    parser = sub.add_parser("train", help="validate, build and train; prints the run folder last")
    parser.add_argument("config", help="the experiment's YAML file")
    add_set_option(parser)
    parser.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs)")
    parser.add_argument("--name", help="override experiment.name (used in the run folder's name)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.config import load_config
    loaded = load_config(args.config, args.overrides, name=args.name)
    if loaded.config.sweep:
        print(f"note: {args.config} has a sweep: section, which `expkit train` ignores (it trains the base "
              f"config once); `expkit sweep {args.config}` runs the sweep", file=sys.stderr)
    from expkit.runstore import make_runs_dir
    make_runs_dir(Path(args.runs_dir))  # a file or a read-only disk is found before TensorFlow starts
    from expkit.training import train
    print(train(loaded, Path(args.runs_dir)))
    return 0
