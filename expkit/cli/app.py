"""The parser and the one place exceptions become exit codes (read from the exception: errors.py)."""
from __future__ import annotations

import argparse
import importlib
import sys

from expkit import __version__
from expkit.errors import EXIT_INTERRUPTED, ExpkitError, TrainingFailed

# Every subcommand, in the order --help lists them: one module each in expkit/cli/.
COMMANDS = ("train", "resume", "validate", "summary", "schema", "compare", "diff", "sweep", "plot", "export",
            "predict", "serve", "neighbours", "mlflow-sync")


def add_set_option(parser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override a config value (parsed as YAML), e.g. model.layers.2.rate=0.3; repeatable")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="expkit", description="Declarative experiment runner for Keras: one YAML file in, a run folder out.",
        epilog="Example: expkit train configs/mnist_cnn.yaml --set training.epochs=2")
    parser.add_argument("--version", action="version", version=f"expkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name in COMMANDS:
        importlib.import_module(f"expkit.cli.{name.replace('-', '_')}").add_parser(sub)
    for parser_ in (parser, *{id(p): p for p in sub.choices.values()}.values()):
        # `expkit --plugin X train` or `expkit train --plugin X`; distinct dests, as a subcommand's defaults
        # would overwrite the top-level value
        parser_.add_argument("--plugin", dest="plugins" if parser_ is parser else "plugins_after", action="append",
                             default=[], metavar="PATH_OR_MODULE",
                             help="load a plugin (a module name, a .py file or a package folder) whose layers, "
                             "losses and datasets configs may name; installed plugins are found by their "
                             "expkit.plugins entry point; repeatable" if parser_ is parser else argparse.SUPPRESS)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        plugins = args.plugins + getattr(args, "plugins_after", [])
        if plugins:
            from expkit.config.plugins import load_cli_plugins
            load_cli_plugins(plugins)
        return args.handler(args)
    except (ExpkitError, TrainingFailed) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED


if __name__ == "__main__":
    sys.exit(main())
