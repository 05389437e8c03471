"""Subcommands beyond train/validate/summary/schema. Each module has `add_parser(subparsers)`, which
registers its parser with `set_defaults(handler=...)`. Modules import nothing heavy at the top."""
MODULES = ("compare", "diff", "sweep", "plot", "export", "predict", "serve", "neighbours")
