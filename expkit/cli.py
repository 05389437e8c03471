"""The `expkit` command. TensorFlow is imported only by the commands that build or train a model."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from expkit import __version__
from expkit.errors import ExpkitError

EXIT_OK, EXIT_FAILED, EXIT_BAD_INPUT, EXIT_INTERRUPTED = 0, 1, 2, 130


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="expkit", description="Declarative experiment runner for Keras: one YAML file in, a run folder out.",
        epilog="Example: expkit train configs/mnist_cnn.yaml --set training.epochs=2")
    parser.add_argument("--version", action="version", version=f"expkit {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = sub.add_parser("train", help="validate, build and train; prints the run folder last")
    train.add_argument("config", help="the experiment's YAML file")
    _add_set(train)
    train.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs)")
    train.add_argument("--name", help="override experiment.name (used in the run folder's name)")

    validate = sub.add_parser("validate", help="check configs without training (no TensorFlow unless --build)")
    validate.add_argument("configs", nargs="+", metavar="CONFIG", help="one or more YAML files")
    _add_set(validate)
    validate.add_argument("--build", action="store_true", help="also build each model to catch shape errors")

    summary = sub.add_parser("summary", help="Keras' model summary and parameter count, no training")
    summary.add_argument("config", metavar="CONFIG_OR_RUN", help="a YAML file, or a run folder (its trained model)")
    _add_set(summary)

    schema = sub.add_parser("schema", help="print the config's JSON Schema (for editor autocompletion)")
    schema.add_argument("--markdown", action="store_true", help="print the config reference as Markdown instead")
    import importlib
    from expkit.commands import MODULES
    for module in MODULES:
        importlib.import_module(f"expkit.commands.{module}").add_parser(sub)
    return parser


def _add_set(parser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="override a config value (parsed as YAML), e.g. model.layers.2.rate=0.3; repeatable")


def cmd_train(args) -> int:
    from expkit.config import load_config
    loaded = load_config(args.config, args.overrides, name=args.name)
    if loaded.config.sweep:
        print(f"note: {args.config} has a sweep: section, which `expkit train` ignores (it trains the base "
              f"config once); `expkit sweep {args.config}` runs the sweep", file=sys.stderr)
    from expkit.train import train
    run_dir = train(loaded, Path(args.runs_dir))
    print(run_dir)
    return EXIT_OK


def cmd_validate(args) -> int:
    from expkit.config import load_config
    failures = 0
    for file in args.configs:
        try:
            loaded = load_config(file, args.overrides)
            detail = ""
            if args.build:
                from expkit.train import prepare
                model = prepare(loaded, load_data=False).model
                detail = f" (model built: {model.count_params():,} parameters)"
            print(f"{file}: valid{detail}")
        except ExpkitError as exc:
            failures += 1
            print(f"{exc}", file=sys.stderr)
    return EXIT_BAD_INPUT if failures else EXIT_OK


def cmd_summary(args) -> int:
    path = Path(args.config)
    if path.is_dir():
        from expkit.export import load_run_model
        model = load_run_model(path)
    else:
        from expkit.config import load_config
        loaded = load_config(path, args.overrides)
        from expkit.train import prepare
        model = prepare(loaded, load_data=False).model
    model.summary()
    print(f"parameters: {model.count_params():,}")
    return EXIT_OK


def cmd_schema(args) -> int:
    from expkit.config import ExperimentConfig
    if args.markdown:
        from expkit.config.reference import markdown_reference
        print(markdown_reference(), end="")
        return EXIT_OK
    print(json.dumps(ExperimentConfig.model_json_schema(), indent=2))
    return EXIT_OK


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    handlers = {"train": cmd_train, "validate": cmd_validate, "summary": cmd_summary, "schema": cmd_schema}
    handler = handlers.get(args.command) or args.handler
    try:
        return handler(args)
    except ExpkitError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except Exception as exc:
        from expkit.train import TrainingFailed
        if isinstance(exc, TrainingFailed):
            print(f"error: {exc}", file=sys.stderr)
            return EXIT_FAILED
        raise


if __name__ == "__main__":
    sys.exit(main())
