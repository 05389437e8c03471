"""`expkit validate CONFIG...`: every problem of every file, without training (no TensorFlow unless --build)."""
from __future__ import annotations

import sys

from expkit.cli.app import add_set_option
from expkit.errors import EXIT_BAD_INPUT, ExpkitError


def add_parser(sub) -> None:
    parser = sub.add_parser("validate", help="check configs without training (no TensorFlow unless --build)")
    parser.add_argument("configs", nargs="+", metavar="CONFIG", help="one or more YAML files")
    add_set_option(parser)
    parser.add_argument("--build", action="store_true", help="also build each model to catch shape errors")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.config import load_config
    failures = 0
    for file in args.configs:
        try:
            loaded = load_config(file, args.overrides)
            detail = ""
            if args.build:
                from expkit.training import prepare
                model = prepare(loaded, load_data=False).model
                detail = f" (model built: {model.count_params():,} parameters)"
            print(f"{file}: valid{detail}")
        except ExpkitError as exc:
            failures += 1
            print(f"{exc}", file=sys.stderr)
    return EXIT_BAD_INPUT if failures else 0
