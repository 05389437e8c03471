"""expkit predict: every input format, prepared as training did, gives the model's own predictions."""
from __future__ import annotations

import contextlib
import gzip
import io
import json
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from expkit.cli import main
from tests.helpers import config_dict, write_config

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
MNIST = ROOT / "expkit" / "data" / "mnist"


def expkit(*args):
    """The real CLI in this process (TensorFlow is imported once for the module); an uncaught exception
    fails the test, as a traceback would. test_the_installed_command runs it as a subprocess."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main([str(a) for a in args])
    return SimpleNamespace(returncode=code, stdout=out.getvalue(), stderr=err.getvalue())


def test_the_installed_command(mnist_run, tmp_path):
    x, _ = mnist_test(2)
    np.save(tmp_path / "x.npy", x)
    for args, code in [((tmp_path / "x.npy",), 0), ((tmp_path / "x.npz",), 2)]:
        result = subprocess.run([sys.executable, "-m", "expkit", "predict", str(mnist_run), *map(str, args)],
                                capture_output=True, text=True, timeout=300, cwd=ROOT)
        assert result.returncode == code, result.stderr
        assert "Traceback" not in result.stderr
    assert len(result.stdout.strip().splitlines()) == 0 and "no such file" in result.stderr


def mnist_test(n: int) -> tuple[np.ndarray, np.ndarray]:
    images = np.frombuffer(gzip.open(MNIST / "t10k-images-idx3-ubyte.gz").read(), np.uint8, offset=16)
    labels = np.frombuffer(gzip.open(MNIST / "t10k-labels-idx1-ubyte.gz").read(), np.uint8, offset=8)
    return images.reshape(-1, 28, 28)[-n:], labels[-n:]  # the end: not in the run's test_limit slice


@pytest.fixture(scope="module")
def expected(mnist_run):
    """The run's model on raw MNIST test images (its first layers scale them and add the channel axis)."""
    model = run_model(mnist_run)
    x, y = mnist_test(40)
    return x, y, model.predict(x.astype("float32"), verbose=0)


def predicted_classes(stdout: str) -> list[int]:
    return [int(line.split("\t")[1].split()[0]) for line in stdout.strip().splitlines()]


def test_npy_batch_gives_the_models_classes_and_probabilities(mnist_run, expected, tmp_path):
    x, y, probs = expected
    np.save(tmp_path / "x.npy", x)
    result = expkit("predict", mnist_run, tmp_path / "x.npy", "--top", "3")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert len(lines) == 40 and lines[0].startswith("x.npy[0]\t")
    assert predicted_classes(result.stdout) == list(probs.argmax(axis=1))
    assert float(lines[0].split("\t")[1].split()[1]) == pytest.approx(probs[0].max(), abs=1e-4)
    assert all(len(line.split("\t")) == 4 for line in lines)  # the input, then 3 classes
    assert np.mean(probs.argmax(axis=1) == y) > 0.8  # the run learned something: predictions mean something


@pytest.mark.parametrize("form", ["single", "flattened", "npz_x", "npz_only"])
def test_other_array_forms(mnist_run, expected, tmp_path, form):
    x, _, probs = expected
    if form == "single":
        np.save(tmp_path / "in.npy", x[0])
        file, want = tmp_path / "in.npy", probs[:1]
    elif form == "flattened":
        np.save(tmp_path / "in.npy", x.reshape(40, 784))
        file, want = tmp_path / "in.npy", probs
    else:
        arrays = {"x": x, "labels": np.zeros(40)} if form == "npz_x" else {"images": x}
        np.savez(tmp_path / "in.npz", **arrays)
        file, want = tmp_path / "in.npz", probs
    result = expkit("predict", mnist_run, file)
    assert result.returncode == 0, result.stderr
    assert predicted_classes(result.stdout) == list(want.argmax(axis=1))


def test_images_and_a_folder_of_images(mnist_run, expected, tmp_path):
    from PIL import Image
    x, _, probs = expected
    folder = tmp_path / "digits"
    folder.mkdir()
    for i in range(3):
        Image.fromarray(x[i]).save(folder / f"d{i}.png")
    Image.fromarray(np.kron(x[3], np.ones((2, 2), np.uint8))).convert("RGB").save(tmp_path / "big.jpg", quality=95)
    result = expkit("predict", mnist_run, folder, tmp_path / "big.jpg")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert [line.split("\t")[0] for line in lines] == ["d0.png", "d1.png", "d2.png", "big.jpg"]
    assert predicted_classes(result.stdout)[:3] == list(probs[:3].argmax(axis=1))  # PNG is lossless
    assert predicted_classes(result.stdout)[3] == probs[3].argmax()  # 56x56 RGB JPEG -> 28x28 gray


def test_csv_columns_are_matched_by_name_and_standardized_as_in_training(table_run, tmp_path):
    # Columns in another order than training's (width,label,height), with an extra one: matched by name.
    (tmp_path / "new.csv").write_text("height,note,width\n1.3,a,50\n0.7,b,50\n1.0,c,75\n")
    result = expkit("predict", table_run, tmp_path / "new.csv")
    assert result.returncode == 0, result.stderr
    classes = [line.split("\t")[1].split()[0] for line in result.stdout.strip().splitlines()]
    assert classes == ["big", "small", "big"]
    assert expkit("predict", table_run, tmp_path / "new.csv", "--output", tmp_path / "p.npy").returncode == 0
    pre = json.loads((table_run / "preprocessing.json").read_text())
    raw = np.array([[50, 1.3], [50, 0.7], [75, 1.0]], dtype=np.float32)  # width, height
    model = run_model(table_run)  # takes raw features: its first layer standardizes them as training did
    np.testing.assert_allclose(model.layers[0](raw), (raw - pre["mean"]) / pre["std"], rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.load(tmp_path / "p.npy"), model.predict(raw, verbose=0), rtol=1e-5, atol=1e-6)


@pytest.fixture(scope="module")
def regression_run(tmp_path_factory):
    """A regression on a CSV file (target 'price' between the features), standardized: values out, not classes."""
    tmp = tmp_path_factory.mktemp("regression_run")
    x = np.random.default_rng(1).normal(size=(200, 2)) * [30.0, 2.0] + [100.0, 5.0]
    lines = ["area,price,rooms"] + [f"{a:.3f},{3 * a + 20 * r:.3f},{r:.3f}" for a, r in x]
    (tmp / "houses.csv").write_text("\n".join(lines) + "\n")
    data = config_dict([{"type": "Dense", "units": 4, "activation": "relu"}, {"type": "Dense", "units": 1}],
                       experiment={"name": "houses"},
                       dataset={"name": "csv", "path": str(tmp / "houses.csv"), "target": "price",
                                "scale": "standardize"}, training={"epochs": 2})
    result = subprocess.run([sys.executable, "-m", "expkit", "train", str(write_config(tmp, data)), "--runs-dir",
                             str(tmp / "runs")], capture_output=True, text=True, timeout=300, cwd=ROOT)
    assert result.returncode == 0, result.stderr[-3000:]
    return Path(result.stdout.strip().splitlines()[-1])


def test_regression_prints_the_models_values(regression_run, tmp_path):
    (tmp_path / "new.csv").write_text("rooms,area\n3,80\n6,150\n")
    result = expkit("predict", regression_run, tmp_path / "new.csv")
    assert result.returncode == 0, result.stderr
    lines = [line.split("\t") for line in result.stdout.strip().splitlines()]
    assert [line[0] for line in lines] == ["new.csv[0]", "new.csv[1]"]
    pre = json.loads((regression_run / "preprocessing.json").read_text())
    assert pre["task"] == "regression" and pre["feature_names"] == ["area", "rooms"]
    x = np.array([[80.0, 3.0], [150.0, 6.0]], dtype=np.float32)  # raw: the model standardizes them itself
    expected = run_model(regression_run).predict(x, verbose=0).reshape(-1)
    np.testing.assert_allclose([float(line[1]) for line in lines], expected, rtol=1e-4)
    assert expkit("predict", regression_run, tmp_path / "new.csv", "--output", tmp_path / "p.csv").returncode == 0
    assert (tmp_path / "p.csv").read_text().splitlines()[0] == "input,prediction"


def run_model(run_dir: Path):
    from expkit.backend import import_keras
    return import_keras().saving.load_model(run_dir / "model.keras", safe_mode=True)


def test_several_inputs_are_predicted_in_order(mnist_run, expected, tmp_path):
    from PIL import Image
    x, _, probs = expected
    np.save(tmp_path / "a.npy", x[:2])
    Image.fromarray(x[2]).save(tmp_path / "b.png")
    result = expkit("predict", mnist_run, tmp_path / "a.npy", tmp_path / "b.png")
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.strip().splitlines()] == ["a.npy[0]", "a.npy[1]", "b.png"]
    assert predicted_classes(result.stdout) == list(probs[:3].argmax(axis=1))


@pytest.mark.parametrize("suffix", [".csv", ".json", ".npy"])
def test_output_file(mnist_run, expected, tmp_path, suffix):
    x, _, probs = expected
    np.save(tmp_path / "x.npy", x[:5])
    out = tmp_path / f"out{suffix}"
    result = expkit("predict", mnist_run, tmp_path / "x.npy", "--output", out)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"5 predictions -> {out}"
    if suffix == ".npy":
        np.testing.assert_allclose(np.load(out), probs[:5], rtol=1e-5, atol=1e-6)
    elif suffix == ".json":
        assert [row["class"] for row in json.loads(out.read_text())] == [str(c) for c in probs[:5].argmax(1)]
    else:
        assert out.read_text().splitlines()[0] == "input,class,probability"
        top = tmp_path / "top.csv"
        assert expkit("predict", mnist_run, tmp_path / "x.npy", "--output", top, "--top", "2").returncode == 0
        header, first = top.read_text().splitlines()[:2]
        assert header == "input,class,probability,class_2,probability_2"
        assert first.split(",")[1] == str(probs[0].argmax()) and first.split(",")[3] == str(probs[0].argsort()[-2])
    again = expkit("predict", mnist_run, tmp_path / "x.npy", "--output", out)
    assert again.returncode == 2 and "exists" in again.stderr and "--force" in again.stderr
    assert expkit("predict", mnist_run, tmp_path / "x.npy", "--output", out, "--force").returncode == 0


def bad_inputs(tmp: Path) -> dict:
    np.save(tmp / "shape.npy", np.zeros((2, 27, 28)))
    np.save(tmp / "nan.npy", np.full((1, 28, 28), np.nan))
    np.save(tmp / "none.npy", np.zeros((0, 28, 28)))
    np.save(tmp / "text.npy", np.array([["a"] * 28] * 28))
    np.savez(tmp / "keys.npz", a=np.zeros(3), b=np.zeros(3))
    (tmp / "notes.txt").write_text("hello")
    (tmp / "broken.npy").write_bytes(b"not numpy")
    (tmp / "empty.npy").write_bytes(b"")
    (tmp / "broken.npz").write_bytes(b"PK\x03\x04 not really a zip")
    (tmp / "latin1.csv").write_bytes("caf\xe9,1\n1,2\n".encode("latin-1"))
    (tmp / "empty").mkdir()
    return {"shape.npy": "raw samples of shape [28, 28] (784 values each, flattened or not); give an array of "
                         "shape [N, 28, 28]",
            "nan.npy": "NaN or infinite", "none.npy": "no samples", "text.npy": "not a rectangular array of numbers",
            "keys.npz": "holds the arrays a, b; expected one named 'x'", "notes.txt": "unknown input format '.txt'",
            "broken.npy": "not a readable .npy", "empty.npy": "not a readable .npy",
            "broken.npz": "not a readable .npz", "latin1.csv": "not UTF-8 text", "empty": "no images",
            "missing.npy": "no such file"}


@pytest.mark.parametrize("name", ["shape.npy", "nan.npy", "none.npy", "text.npy", "keys.npz", "notes.txt",
                                  "broken.npy", "empty.npy", "broken.npz", "latin1.csv", "empty", "missing.npy"])
def test_bad_input_is_a_clear_error(mnist_run, tmp_path, name):
    message = bad_inputs(tmp_path)[name]
    result = expkit("predict", mnist_run, tmp_path / name)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr and "Traceback" not in result.stderr


@pytest.mark.parametrize("args, message", [
    (("--top", "0"), "--top and --batch-size must be at least 1"),
    (("--batch-size", "-1"), "--top and --batch-size must be at least 1"),
    (("--output", "out.txt"), "expected a file name ending in .csv, .json, .npy"),
    (("--output", "nowhere/out.csv"), "the folder nowhere does not exist"),
])
def test_bad_options_are_clear_errors(mnist_run, tmp_path, monkeypatch, args, message):
    monkeypatch.chdir(tmp_path)
    np.save(tmp_path / "x.npy", np.zeros((1, 28, 28)))
    result = expkit("predict", mnist_run, tmp_path / "x.npy", *args)
    assert result.returncode == 2 and message in result.stderr, result.stderr


@pytest.mark.parametrize("content, message", [
    ("width,label\n50,big\n", "missing the column(s) height"),
    ("width,height\n50,tall\n", "column 'height' holds 'tall', not a number"),
])
def test_bad_csv_is_a_clear_error(table_run, tmp_path, content, message):
    (tmp_path / "bad.csv").write_text(content)
    result = expkit("predict", table_run, tmp_path / "bad.csv")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr


def test_images_for_a_table_run_are_refused(table_run, tmp_path):
    from PIL import Image
    Image.fromarray(np.zeros((28, 28), np.uint8)).save(tmp_path / "a.png")
    result = expkit("predict", table_run, tmp_path / "a.png")
    assert result.returncode == 2 and "not images" in result.stderr


@pytest.mark.parametrize("case, message", [
    ("no-folder", "no such run folder"),
    ("no-preprocessing", "no preprocessing.json"),
    ("no-model", "no model.keras (not a completed run?)"),
    ("bad-preprocessing", "not a preprocessing file written by expkit"),
])
def test_a_folder_that_is_not_a_completed_run(mnist_run, tmp_path, case, message):
    run = tmp_path / "run"
    if case != "no-folder":
        run.mkdir()
    if case in ("no-model", "bad-preprocessing"):
        shutil.copy(mnist_run / "preprocessing.json", run)
    if case == "bad-preprocessing":
        shutil.copy(mnist_run / "model.keras", run)
        (run / "preprocessing.json").write_text('{"scale": "unit"}')
    np.save(tmp_path / "x.npy", np.zeros((1, 28, 28)))
    result = expkit("predict", run, tmp_path / "x.npy")
    assert result.returncode == 2 and message in result.stderr and "Traceback" not in result.stderr, result.stderr
