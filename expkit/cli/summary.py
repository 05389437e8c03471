"""`expkit summary CONFIG_OR_RUN`: Keras' model summary and parameter count, no training."""
from __future__ import annotations

from pathlib import Path

from expkit.cli.app import add_set_option


def add_parser(sub) -> None:
    parser = sub.add_parser("summary", help="Keras' model summary and parameter count, no training")
    parser.add_argument("config", metavar="CONFIG_OR_RUN", help="a YAML file, or a run folder (its trained model)")
    add_set_option(parser)
    parser.set_defaults(handler=run)


def run(args) -> int:
    path = Path(args.config)
    if path.is_dir():
        from expkit.serving import load_run_model
        model = load_run_model(path)
    else:
        from expkit.config import load_config
        loaded = load_config(path, args.overrides)
        from expkit.training import prepare
        model = prepare(loaded, load_data=False).model
    model.summary()
    print(f"parameters: {model.count_params():,}")
    return 0
