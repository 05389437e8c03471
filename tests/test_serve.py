"""expkit serve: a real server process on loopback, a real HTTP client, TF Serving's request and response."""
from __future__ import annotations

import contextlib
import gzip
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest

pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]
MAX_BODY = 200_000  # small limits, so that the tests can go over them cheaply
MAX_INSTANCES = 50


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Client:
    def __init__(self, port: int, log: Path):
        self.base, self.log = f"http://127.0.0.1:{port}/v1/models/", log

    def call(self, path: str, body: bytes | None = None, method: str | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(self.base + path, data=body, method=method,
                                         headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    def predict(self, payload, name: str = "digits") -> tuple[int, dict]:
        body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
        return self.call(f"{name}:predict", body)


@contextlib.contextmanager
def serving(run: Path, log: Path, model: str, *options: str):
    """`expkit serve RUN` on a free loopback port, once it answers for `model`: (client, process); stopped after."""
    port = free_port()
    with log.open("w") as out:
        proc = subprocess.Popen([sys.executable, "-m", "expkit", "serve", str(run), "--port", str(port), *options],
                                stdout=out, stderr=subprocess.STDOUT, cwd=ROOT,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    client = Client(port, log)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                if client.call(model)[0] == 200:
                    break
            except (urllib.error.URLError, ConnectionError):
                pass
            assert proc.poll() is None, log.read_text()
            assert time.monotonic() < deadline, "the server did not answer within 120 s:\n" + log.read_text()
            time.sleep(0.3)
        yield client, proc
    finally:
        proc.terminate()
        proc.wait(timeout=30)


@pytest.fixture(scope="module")
def server(mnist_run, tmp_path_factory):
    with serving(mnist_run, tmp_path_factory.mktemp("serve") / "server.log", "digits",
                 "--max-body-bytes", str(MAX_BODY), "--max-instances", str(MAX_INSTANCES),
                 "--header-timeout", "3") as served:
        yield served


@pytest.fixture(scope="module")
def digits(mnist_run):
    from expkit.backend import import_keras
    images = np.frombuffer(gzip.open(ROOT / "expkit/data/mnist/t10k-images-idx3-ubyte.gz").read(), np.uint8,
                           offset=16).reshape(-1, 28, 28)[-8:]
    model = import_keras().saving.load_model(mnist_run / "model.keras", safe_mode=True)
    return images, model.predict(images.astype("float32"), verbose=0)  # the model scales and shapes raw pixels


def test_startup_line_says_where_and_how(server):
    client, _ = server
    text = client.log.read_text()
    assert f"{client.base}digits:predict" in text and "curl -d '{\"instances\"" in text


def test_status_and_metadata_in_tf_servings_shape(server):
    client, _ = server
    status, body = client.call("digits")
    assert status == 200
    assert body == {"model_version_status": [{"version": "1", "state": "AVAILABLE",
                                              "status": {"error_code": "OK", "error_message": ""}}]}
    status, body = client.call("digits/versions/1/metadata")
    assert status == 200 and body["model_spec"] == {"name": "digits", "signature_name": "", "version": "1"}
    signature = body["metadata"]["signature_def"]["signature_def"]["serving_default"]
    assert signature["method_name"] == "tensorflow/serving/predict"
    [(name, tensor)] = signature["inputs"].items()
    assert tensor["dtype"] == "DT_FLOAT" and tensor["tensor_shape"]["unknown_rank"] is False
    assert [d["size"] for d in tensor["tensor_shape"]["dim"]] == ["-1", "28", "28"]  # raw samples, as JSON int64
    assert [d["size"] for d in signature["outputs"]["output_0"]["tensor_shape"]["dim"]] == ["-1", "10"]
    assert body["expkit"]["model_input_shape"] == [28, 28, 1]


def test_row_and_columnar_requests_give_the_models_predictions(server, digits):
    client, _ = server
    images, expected = digits
    status, body = client.predict({"instances": images.tolist()})
    assert status == 200, body
    np.testing.assert_allclose(np.array(body["predictions"]), expected, rtol=1e-4, atol=1e-6)
    flat = json.dumps({"inputs": images.reshape(8, -1).tolist(), "signature_name": "serving_default"}).encode()
    status, body = client.call("digits/versions/1:predict", flat)
    assert status == 200, body
    np.testing.assert_allclose(np.array(body["outputs"]), expected, rtol=1e-4, atol=1e-6)


def test_named_inputs_as_tf_serving_clients_send_them(server, digits):
    client, _ = server
    images, expected = digits
    metadata = client.call("digits/metadata")[1]
    [name] = metadata["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
    status, body = client.predict({"instances": [{name: image} for image in images[:3].tolist()]})
    assert status == 200, body
    np.testing.assert_allclose(np.array(body["predictions"]), expected[:3], rtol=1e-4, atol=1e-6)
    status, body = client.predict({"inputs": {name: images[:3].tolist()}})
    assert status == 200, body
    np.testing.assert_allclose(np.array(body["outputs"]), expected[:3], rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("path, payload, method, code, message", [
    ("digits:predict", b"{\"instances\": [1, 2", "POST", 400, "JSON Parse error"),
    ("digits:predict", b"[1, 2, 3]", "POST", 400, 'exactly one of "instances"'),
    ("digits:predict", b'{"instances": "abc"}', "POST", 400, "must be a list of samples"),
    ("digits:predict", b'{"instances": [[1, 2, 3]]}', "POST", 400, "trained on raw samples of shape [28, 28]"),
    ("digits:predict", b'{"instances": [[["a"]]]}', "POST", 400, '"instances"[0][0][0] is "a", not a number'),
    ("digits:predict", b'{"instances": [[1e308]]}', "POST", 400, '"instances" holds 1e+308, beyond float32'),
    ("digits:predict", b'{"instances": [[1' + b"0" * 400 + b']]}', "POST", 400,
     '"instances"[0][0] is an integer of 401 digits, beyond float32'),
    ("digits:predict", b'{"instances": [[true, 1]]}', "POST", 400, '"instances"[0][0] is true, not a number'),
    ("digits:predict", b'{"instances": [[0, false]]}', "POST", 400, '"instances"[0][1] is false, not a number'),
    ("digits:predict", b'{"instances": [[0, null]]}', "POST", 400, '"instances"[0][1] is null, not a number'),
    ("digits:predict", b'{"instances": [[0, "7"]]}', "POST", 400, '"instances"[0][1] is "7", not a number'),
    ("digits:predict", b'{"instances": [[1, 2], [3]]}', "POST", 400, "not a rectangular array of numbers"),
    ("digits:predict", b'{"instances": []}', "POST", 400, "no samples"),
    ("digits:predict", json.dumps({"instances": [[float("nan")] * 784]}).encode(), "POST", 400, "NaN or infinite"),
    ("digits:predict", b"[" * 50_000 + b"]" * 50_000, "POST", 400, "JSON Parse error"),
    ("digits:predict", b"\xff\xfe{}", "POST", 400, "JSON Parse error"),
    ("digits:predict", b'{"instances": [[0]], "signature_name": "predict"}', "POST", 400,
     'signature name: "predict" not found'),
    ("digits:predict", b'{"inputs": {"pixels": [[0]]}}', "POST", 400, 'this model has one input'),
    ("digits:predict", json.dumps({"instances": [[0] * 783]}).encode(), "POST", 400, "784 values each"),
    ("digits:predict", json.dumps({"instances": [[0] * 784] * (MAX_INSTANCES + 1)}).encode(), "POST", 413,
     f"at most {MAX_INSTANCES}"),
    ("digits:predict", b" " * (MAX_BODY + 1), "POST", 413, f"over the limit of {MAX_BODY}"),
    ("other:predict", b'{"instances": []}', "POST", 404, "Servable not found"),
    ("digits/versions/2:predict", b'{"instances": []}', "POST", 404, "the only version is 1"),
    ("digits:predict", None, "GET", 405, "use POST"),
    ("digits", b"{}", "POST", 405, "use GET"),
    ("digits/metadata", None, "OPTIONS", 405, "use GET"),
    ("digits:classify", b"{}", "POST", 404, "unknown path"),
])
def test_bad_requests_get_a_4xx_with_a_clear_message(server, path, payload, method, code, message):
    client, _ = server
    status, body = client.call(path, payload, method)
    assert status == code, body
    assert message in body["error"], body


def test_the_server_still_answers_after_the_bad_requests(server, digits):
    client, proc = server
    images, expected = digits
    for _ in range(3):
        assert client.predict(b"not json")[0] == 400
        assert client.predict(b"x" * (MAX_BODY * 3))[0] == 413
    status, body = client.predict({"instances": images[:2].tolist()})
    assert status == 200 and np.argmax(body["predictions"], 1).tolist() == expected[:2].argmax(1).tolist()
    assert proc.poll() is None


def test_a_run_without_preprocessing_is_refused_before_listening(tmp_path):
    result = subprocess.run([sys.executable, "-m", "expkit", "serve", str(tmp_path), "--port", str(free_port())],
                            capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "preprocessing.json" in result.stderr and "Traceback" not in result.stderr


def start(args: list[str], log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        # SIGINT's default restored: a shell that ran the suite in the background made it ignored.
        return subprocess.Popen([sys.executable, "-m", "expkit", "serve", *map(str, args)], stdout=out,
                                stderr=subprocess.STDOUT, cwd=ROOT, env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
                                preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))


def test_a_taken_port_is_a_clear_error(server, mnist_run, tmp_path):
    client, _ = server
    port = client.base.split(":")[2].split("/")[0]
    proc = start([mnist_run, "--port", port], tmp_path / "log")
    try:
        assert proc.wait(timeout=120) == 2
    finally:
        proc.kill()
    text = (tmp_path / "log").read_text()
    assert f"cannot listen on 127.0.0.1:{port}" in text and "choose another --port" in text
    assert "Traceback" not in text


def test_ctrl_c_stops_the_server_like_train_130(mnist_run, tmp_path):
    proc = start([mnist_run, "--port", "0", "--name", "d2"], tmp_path / "log")
    try:
        deadline = time.monotonic() + 120
        printed = r"http://127\.0\.0\.1:(\d+)/v1/models/d2:predict"
        while not (found := re.search(printed, (tmp_path / "log").read_text())):
            assert proc.poll() is None and time.monotonic() < deadline, (tmp_path / "log").read_text()
            time.sleep(0.2)
        assert Client(int(found[1]), tmp_path / "log").call("d2")[0] == 200  # port 0: the port it printed
        proc.send_signal(signal.SIGINT)
        assert proc.wait(timeout=30) == 130  # as `expkit train` on Ctrl-C
    finally:
        proc.kill()
    text = (tmp_path / "log").read_text()
    assert text.rstrip().endswith("interrupted") and "Traceback" not in text


def test_without_the_serve_extra_it_says_what_to_install(mnist_run):
    code = ("import sys; sys.modules['uvicorn'] = None; from expkit.cli import main; "
            f"sys.exit(main(['serve', {str(mnist_run)!r}]))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=ROOT)
    assert result.returncode == 2 and "pip install 'expkit[serve]'" in result.stderr, result.stderr
    assert "Traceback" not in result.stderr


def test_half_open_connections_do_not_stop_a_normal_request(server, digits):
    """300 clients that send half a request head and wait: a normal request is still answered at once, and
    the server closes the 300 once --header-timeout (3 s here) has passed."""
    client, proc = server
    port = int(client.base.split(":")[2].split("/")[0])
    images, expected = digits
    sockets = []
    try:
        for _ in range(300):
            sock = socket.create_connection(("127.0.0.1", port), timeout=10)
            sock.sendall(b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: x\r\n")
            sockets.append(sock)
        started = time.monotonic()
        status, body = client.predict({"instances": images[:1].tolist()})
        assert status == 200 and np.argmax(body["predictions"], 1).tolist() == expected[:1].argmax(1).tolist()
        assert time.monotonic() - started < 10
        time.sleep(4)
        closed = 0
        for sock in sockets:
            sock.settimeout(5)
            try:
                closed += sock.recv(1) == b""
            except (socket.timeout, ConnectionError):
                pass
        assert closed == 300
    finally:
        for sock in sockets:
            sock.close()
    assert proc.poll() is None


def test_a_client_that_disconnects_mid_body_is_one_log_line(server):
    client, proc = server
    port = int(client.base.split(":")[2].split("/")[0])
    before = client.log.read_text()
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(b"POST /v1/models/digits:predict HTTP/1.1\r\nHost: x\r\nContent-Length: 5000\r\n\r\n{\"ins")
        time.sleep(0.5)
    deadline = time.monotonic() + 10
    while "disconnected" not in client.log.read_text()[len(before):] and time.monotonic() < deadline:
        time.sleep(0.2)
    new = client.log.read_text()[len(before):]
    assert re.fullmatch(r"client 127\.0\.0\.1:\d+ disconnected before its request was read\n", new), new
    assert proc.poll() is None


def test_requests_sent_together_each_get_their_own_rows(server, digits):
    """16 clients at once, each with its own 1-3 images: batched on the server, answered apart."""
    import threading
    client, _ = server
    images, expected = digits
    answers, errors = {}, []

    def ask(i: int):
        chosen = [(i + k) % len(images) for k in range(1 + i % 3)]
        for _ in range(5):
            status, body = client.predict({"instances": images[chosen].tolist()})
            if status != 200:
                errors.append(body)
                return
            answers.setdefault(i, []).append((chosen, np.array(body["predictions"])))

    threads = [threading.Thread(target=ask, args=(i,)) for i in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors[:3]
    for i, replies in answers.items():
        assert len(replies) == 5
        for chosen, predictions in replies:
            np.testing.assert_allclose(predictions, expected[chosen], rtol=1e-4, atol=1e-6)
