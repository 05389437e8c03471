"""`expkit export RUN --format keras|savedmodel|litert|onnx`."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    parser = sub.add_parser("export", help="export a run's model: .keras, a SavedModel for TF Serving, LiteRT "
                            "(.tflite) or ONNX")
    parser.add_argument("run", type=Path, help="a completed run folder")
    parser.add_argument("--format", default="keras", choices=("keras", "savedmodel", "litert", "onnx"),
                        help="keras: model.keras; savedmodel: a TensorFlow SavedModel in <out>/1/; litert: "
                        "<out>/model.tflite (run it with ai-edge-litert); onnx: <out>/model.onnx (needs the onnx "
                        "extra) (default: keras)")
    parser.add_argument("--out", type=Path, help="output folder (default: RUN/export/<format>)")
    parser.add_argument("--force", action="store_true", help="replace an existing export")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.serving.export import export_run
    print(export_run(args.run, args.format, args.out, args.force))
    return 0
