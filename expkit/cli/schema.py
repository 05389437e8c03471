"""`expkit schema [--markdown]`: the config's JSON Schema for editors, or the Markdown reference."""
from __future__ import annotations

import json


def add_parser(sub) -> None:
    parser = sub.add_parser("schema", help="print the config's JSON Schema (for editor autocompletion)")
    parser.add_argument("--markdown", action="store_true", help="print the config reference as Markdown instead")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.config import ExperimentConfig
    if args.markdown:
        from expkit.config.reference import markdown_reference
        print(markdown_reference(), end="")
        return 0
    print(json.dumps(ExperimentConfig.model_json_schema(), indent=2))
    return 0
