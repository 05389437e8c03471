"""The `expkit` command: `app` builds the parser and maps exceptions to exit codes; every other module
here is one subcommand with `add_parser(subparsers)`, which registers `set_defaults(handler=run)`.
Command modules import nothing heavy at the top, so `expkit --help` never loads TensorFlow."""
from expkit.cli.app import main

__all__ = ["main"]
