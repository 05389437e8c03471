"""predict and serve on a run with several named inputs and outputs: an .npz of one array per input name,
TF Serving's named row and columnar forms, a dict of outputs, clear errors for a missing or extra name."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.helpers import config_dict, write_config
from tests.test_predict import expkit
from tests.test_serve import serving

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def named_run(tmp_path_factory):
    """Inputs a (3 floats) and b (4 uint8 values, / 255 in training) -> outputs value (1) and kind (2 classes)."""
    tmp = tmp_path_factory.mktemp("named_run")
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=(64, 3)).astype("float32"), rng.integers(0, 256, (64, 4)).astype("uint8")
    np.savez(tmp / "mio.npz", a_train=a, b_train=b, value_train=a.sum(1, keepdims=True),
             kind_train=(a[:, 0] > 0).astype("int32"))
    data = config_dict([{"type": "Concatenate", "inputs": ["a", "b"]},
                        {"type": "Dense", "units": 8, "activation": "relu", "name": "hidden"},
                        {"type": "Dense", "units": 1, "inputs": "hidden", "name": "value"},
                        {"type": "Dense", "units": 2, "activation": "softmax", "inputs": "hidden", "name": "kind"}],
                       experiment={"name": "mio"}, dataset={"name": "npz", "path": str(tmp / "mio.npz")},
                       model={"inputs": [{"name": "a", "shape": [3]}, {"name": "b", "shape": [4]}],
                              "outputs": ["value", "kind"]},
                       compile={"loss": {"value": "mse", "kind": "sparse_categorical_crossentropy"},
                                "optimizer": "adam"}, training={"epochs": 1, "batch_size": 16})
    result = expkit("train", write_config(tmp, data), "--runs-dir", tmp / "runs")
    assert result.returncode == 0, result.stderr
    run = Path(result.stdout.strip().splitlines()[-1])
    import keras
    model = keras.saving.load_model(run / "model.keras", safe_mode=True)
    new = {"a": a[:5], "b": b[:5]}
    value, kind = model.predict({"a": a[:5], "b": b[:5].astype("float32") / 255}, verbose=0)
    return run, new, {"value": value, "kind": kind}


def test_predict_reads_an_npz_by_input_name_and_gives_each_output(named_run, tmp_path):
    run, new, expected = named_run
    np.savez(tmp_path / "new.npz", **new)
    result = expkit("predict", run, tmp_path / "new.npz", "--output", tmp_path / "out.json")
    assert result.returncode == 0, result.stderr
    rows = json.loads((tmp_path / "out.json").read_text())
    assert [r["input"] for r in rows] == [f"new.npz[{i}]" for i in range(5)]
    np.testing.assert_allclose([r["prediction"]["value"] for r in rows], expected["value"][:, 0], rtol=1e-5)
    np.testing.assert_allclose([r["prediction"]["kind"] for r in rows], expected["kind"], rtol=1e-5)
    printed = expkit("predict", run, tmp_path / "new.npz").stdout.splitlines()
    assert printed[0].startswith("new.npz[0]\t{\"value\": ") and len(printed) == 5


@pytest.mark.parametrize("arrays, args, message", [
    ({"a": 1}, (), "no array for the input(s) b; the model takes 'a' (float32, samples of shape [3]), 'b' (float32"),
    ({"a": 1, "bb": 1, "b": 1}, (), "bb is not an input of the model (did you mean 'b'?)"),
    ({"a": 1, "b": 2}, (), "input 'b': samples of shape [3] (array [5, 3]), but the model takes samples of shape [4]"),
    ({"a": 1, "b": 1}, ("--output", "out.npy"), "several outputs (value, kind), which one .npy array cannot hold"),
])
def test_predict_errors_name_the_inputs(named_run, tmp_path, arrays, args, message):
    run, new, _ = named_run
    np.savez(tmp_path / "x.npz", **{k: new.get(k, new["b"]) if v == 1 else new["a"] for k, v in arrays.items()})
    result = expkit("predict", run, tmp_path / "x.npz", *[tmp_path / a if a.endswith(".npy") else a for a in args])
    assert result.returncode == 2 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


@pytest.fixture(scope="module")
def named_server(named_run, tmp_path_factory):
    run = named_run[0]
    with serving(run, tmp_path_factory.mktemp("serve_named") / "server.log", "mio") as (client, _):
        yield client


def test_serve_takes_named_rows_and_columns_and_answers_each_output(named_run, named_server):
    _, new, expected = named_run
    rows = [{"a": new["a"][i].tolist(), "b": new["b"][i].tolist()} for i in range(5)]
    status, body = named_server.predict({"instances": rows}, name="mio")
    assert status == 200, body
    np.testing.assert_allclose([p["value"] for p in body["predictions"]], expected["value"], rtol=1e-5)
    np.testing.assert_allclose([p["kind"] for p in body["predictions"]], expected["kind"], rtol=1e-5)
    status, body = named_server.predict({"inputs": {k: v.tolist() for k, v in new.items()}}, name="mio")
    assert status == 200 and set(body["outputs"]) == {"value", "kind"}, body
    np.testing.assert_allclose(body["outputs"]["kind"], expected["kind"], rtol=1e-5)
    status, meta = named_server.call("mio/metadata")
    signature = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert status == 200 and set(signature["inputs"]) == {"a", "b"} and set(signature["outputs"]) == {"value", "kind"}


@pytest.mark.parametrize("payload, message", [
    ({"instances": [{"a": [0, 0, 0]}]}, "no array for the input(s) b"),
    ({"inputs": {"a": [[0, 0, 0]], "b": [[0, 0, 0, 0]], "c": [[1]]}}, "c is not an input of the model"),
    ({"instances": [{"a": [0, 0, 0], "b": [0, 0, 0, 0]}, {"a": [0, 0, 0]}]}, '"instances"[1] names "a" but'),
    ({"instances": [[0, 0, 0]]}, 'this model has named inputs ("a", "b")'),
    ({"inputs": {"a": [[0, 0, "x"]], "b": [[0, 0, 0, 0]]}}, "is \"x\", not a number"),
])
def test_serve_errors_name_the_inputs(named_server, payload, message):
    status, body = named_server.predict(payload, name="mio")
    assert status == 400 and message in body["error"], body


def test_a_plain_stack_with_one_named_text_input_takes_it_by_its_config_name(tmp_path):
    """A plain stack is a Sequential, whose one input Keras names 'input': predict and serve use the config's
    name (text) for it and feed it bare, as training did; strings stay strings."""
    import keras
    from expkit.serving.named import load_named_predictor
    (tmp_path / "config.json").write_text(json.dumps({"model": {"inputs": [{"name": "text", "dtype": "string"}]},
                                                      "dataset": {"scale": "auto"}}))
    vectorize = keras.layers.TextVectorization(max_tokens=10, output_sequence_length=3)
    vectorize.adapt(["good film", "bad plot"])
    model = keras.Sequential([keras.Input((), dtype="string"), vectorize, keras.layers.Embedding(10, 2),
                              keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(1)])
    predictor = load_named_predictor(tmp_path, model)
    assert predictor.input_names == ["text"] and len(predictor.outputs) == 1
    out = predictor(predictor.check({"text": ["good film", "bad plot"]}, "test"))
    want = model(keras.ops.convert_to_tensor(["good film", "bad plot"]))
    np.testing.assert_allclose(next(iter(out.values())), keras.ops.convert_to_numpy(want), rtol=1e-6)
