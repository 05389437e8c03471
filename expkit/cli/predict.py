"""`expkit predict RUN INPUT...`: classes with probabilities (or values) for new inputs."""
from __future__ import annotations

import csv
import json
from pathlib import Path

from expkit.errors import ExpkitError

OUTPUT_SUFFIXES = (".csv", ".json", ".npy")


def add_parser(sub) -> None:
    parser = sub.add_parser("predict", help="predict with a trained run (.npy, .npz, .csv, images), "
                                            "preprocessing the inputs as training did",
                            description="Raw inputs (as the dataset holds them, e.g. MNIST pixels 0..255) are "
                                        "prepared with the run's preprocessing.json, then fed to its model. "
                                        "Images are not inverted: MNIST digits are white on black, so invert a "
                                        "scan of dark ink on white paper first.",
                            epilog="Example: expkit predict runs/<id> digits/ --top 3")
    parser.add_argument("run", type=Path, help="a completed run folder")
    parser.add_argument("inputs", type=Path, nargs="+", metavar="INPUT",
                        help="a .npy, .npz or .csv file, or image files / folders of images; for a model with "
                             "named inputs, .npz files with one array per input name")
    parser.add_argument("--top", type=int, default=1, metavar="K", help="classifiers: print the K best classes")
    parser.add_argument("--output", type=Path, metavar="FILE",
                        help="write the predictions to FILE (.csv, .json or .npy of the model outputs)")
    parser.add_argument("--force", action="store_true", help="replace an existing --output file")
    parser.add_argument("--batch-size", type=int, default=256, help="samples per model call (default 256)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    if args.top < 1 or args.batch_size < 1:
        raise ExpkitError("--top and --batch-size must be at least 1")
    if args.output is not None:
        _check_output(args.output, args.force)
    _check_arrays(args.inputs)
    from expkit.serving.named import NamedPredictor, named_rows
    from expkit.serving.predict import load_predictor, read_inputs, result_rows
    predictor = load_predictor(args.run)
    if isinstance(predictor, NamedPredictor):  # named inputs: an .npz with one array per input name
        if len(predictor.outputs) > 1 and args.output is not None and args.output.suffix.lower() == ".npy":
            raise ExpkitError(f"--output {args.output}: the model has several outputs ({', '.join(predictor.outputs)}), "
                              "which one .npy array cannot hold; write .json or .csv")
        x, labels = predictor.read(args.inputs)
        outputs = predictor(x, args.batch_size)
        rows = named_rows(outputs, labels)
        outputs = next(iter(outputs.values())) if len(outputs) == 1 else outputs
    else:
        x, labels = read_inputs(args.inputs, predictor.pre)
        outputs = predictor(x, args.batch_size)
        rows = result_rows(outputs, labels, predictor.pre, args.top)
    if args.output is None:
        for row in rows:
            print(_line(row))
    else:
        _write(args.output, rows, outputs)
        print(f"{len(rows)} predictions -> {args.output}")
    return 0


def _check_arrays(inputs: list[Path]) -> None:
    """An .npy/.npz whose header lies (a 200-byte file declaring 10^12 values) is refused from its header
    alone, before TensorFlow's import and the model's load, which take seconds and cannot fix it."""
    from expkit.data.files import check_npy_file, check_npz_file
    for path in inputs:
        if path.is_file() and path.suffix.lower() in (".npy", ".npz"):
            (check_npy_file if path.suffix.lower() == ".npy" else check_npz_file)(path)


def _check_output(out: Path, force: bool) -> None:
    if out.suffix.lower() not in OUTPUT_SUFFIXES:
        raise ExpkitError(f"--output {out}: expected a file name ending in {', '.join(OUTPUT_SUFFIXES)}")
    if out.exists() and not force:
        raise ExpkitError(f"--output {out} exists: choose another name, or pass --force to replace it")
    if not out.parent.is_dir():
        raise ExpkitError(f"--output {out}: the folder {out.parent} does not exist")


def _line(row: dict) -> str:
    if "prediction" in row:
        value = row["prediction"]
        if isinstance(value, dict):  # several outputs
            value = {k: _rounded(v) for k, v in value.items()}
        shown = f"{value:.6g}" if isinstance(value, float) else json.dumps(value)
        return f"{row['input']}\t{shown}"
    return f"{row['input']}\t" + "\t".join(f"{t['class']} {t['probability']:.4f}" for t in row["top"])


def _rounded(value):
    return round(value, 6) if isinstance(value, float) else [_rounded(v) for v in value] if isinstance(value, list) \
        else value


def _write(out: Path, rows: list[dict], outputs) -> None:
    suffix = out.suffix.lower()
    tmp = out.with_name(out.name + ".tmp")  # never leave half a file under the real name
    if suffix == ".npy":
        import numpy as np
        with open(tmp, "wb") as f:
            np.save(f, outputs)
    elif suffix == ".json":
        tmp.write_text(json.dumps(rows, indent=1) + "\n")
    else:
        with open(tmp, "w", newline="") as f:
            csv.writer(f).writerows(_csv_rows(rows))
    tmp.replace(out)


def _csv_rows(rows: list[dict]) -> list[list]:
    """A header and a row per sample: the value(s), or the class and probability (then the next K-1 best)."""
    if "prediction" in rows[0] and isinstance(rows[0]["prediction"], dict):  # several outputs: a column each
        names = list(rows[0]["prediction"])
        return [["input", *names]] + [[r["input"], *(json.dumps(r["prediction"][n]) for n in names)] for r in rows]
    if "prediction" in rows[0]:
        return [["input", "prediction"]] + [[r["input"], json.dumps(r["prediction"])] for r in rows]
    header = ["input", "class", "probability"]
    for k in range(2, len(rows[0]["top"]) + 1):
        header += [f"class_{k}", f"probability_{k}"]
    body = [[r["input"]] + [v for t in r["top"] for v in (t["class"], f"{t['probability']:.6f}")] for r in rows]
    return [header] + body
