"""How many single-instance requests per second `expkit serve` answers, from 1 and from 16 concurrent
clients, with batching off (--max-batch 0: one model call per request) and on (the default), beside
the model call alone (Predictor.forward on one prepared sample) and Keras' model.predict on one sample.

The model: a small MNIST convnet trained for one epoch on 2,000 images (made once in a temporary folder).
Clients keep their HTTP connection open (as TF Serving clients do) and send one 28x28 image per request.

    python benchmarks/serve_speed.py                  # 400 requests per setting
    python benchmarks/serve_speed.py --requests 1000
"""
from __future__ import annotations

import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
ENV = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "PYTHONPATH": str(ROOT)}
CONFIG = {
    "experiment": {"name": "digits"},
    "dataset": {"name": "mnist", "limit": 2000, "test_limit": 200},
    "model": {"layers": [{"type": "Conv2D", "filters": 8, "kernel_size": 3, "activation": "relu"},
                         {"type": "MaxPooling2D", "pool_size": 2}, {"type": "Flatten"},
                         {"type": "Dense", "units": 10, "activation": "softmax"}]},
    "compile": {"loss": "sparse_categorical_crossentropy", "metrics": ["accuracy"], "optimizer": "adam"},
    "training": {"epochs": 1, "batch_size": 64},
}


def train(tmp: Path) -> Path:
    cfg = tmp / "digits.yaml"
    cfg.write_text(yaml.safe_dump(CONFIG))
    done = subprocess.run([sys.executable, "-m", "expkit", "train", str(cfg), "--runs-dir", str(tmp / "runs")],
                          capture_output=True, text=True, env=ENV, check=True)
    return Path(done.stdout.strip().splitlines()[-1])


def model_call_alone(run: Path, image: list, repeats: int = 200) -> tuple[float, float]:
    """(seconds per Predictor.forward on one prepared sample, seconds per model.predict on it)."""
    import numpy as np

    from expkit.serving.predict import load_predictor
    predictor = load_predictor(run)
    x = predictor.pre(np.asarray([image], dtype=np.float64))
    predictor.forward(x)  # trace once
    start = time.perf_counter()
    for _ in range(repeats):
        predictor.forward(x)
    forward = (time.perf_counter() - start) / repeats
    predictor.model.predict(x, verbose=0)
    start = time.perf_counter()
    for _ in range(20):
        predictor.model.predict(x, verbose=0)
    return forward, (time.perf_counter() - start) / 20


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(run: Path, max_batch: int) -> tuple[subprocess.Popen, int]:
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "expkit", "serve", str(run), "--port", str(port),
                             "--max-batch", str(max_batch)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, env=ENV)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        try:
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
            connection.request("GET", "/v1/models/digits")
            if connection.getresponse().status == 200:
                return proc, port
        except OSError:
            time.sleep(0.3)
    proc.terminate()
    raise SystemExit("the server did not start within 120 s")


def connect(port: int) -> http.client.HTTPConnection:
    """A kept-alive connection without Nagle's delay (else each request waits ~40 ms for a delayed ACK)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.connect()
    connection.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return connection


def requests_per_second(port: int, body: bytes, clients: int, total: int) -> float:
    per_client = total // clients
    errors: list[str] = []

    def client():
        connection = connect(port)
        for _ in range(per_client):
            connection.request("POST", "/v1/models/digits:predict", body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                errors.append(str(response.status))

    for _ in range(2):  # warm-up: the first requests trace the model
        client_connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        client_connection.request("POST", "/v1/models/digits:predict", body)
        client_connection.getresponse().read()
    threads = [threading.Thread(target=client) for _ in range(clients)]
    start = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - start
    if errors:
        raise SystemExit(f"{len(errors)} requests failed: {errors[:5]}")
    return per_client * clients / elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=400, help="requests per setting (default 400)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        run = train(Path(tmp))
        image = [[(x * 7 + y * 3) % 256 for x in range(28)] for y in range(28)]
        body = json.dumps({"instances": [image]}).encode()
        forward, predict = model_call_alone(run, image)
        print(f"model call alone (Predictor.forward, 1 sample): {forward * 1000:.2f} ms = {1 / forward:,.0f} calls/s; "
              f"Keras model.predict on 1 sample: {predict * 1000:.1f} ms = {1 / predict:,.1f} calls/s")
        for label, max_batch in (("batching off (--max-batch 0)", 0), ("batching on (--max-batch 256)", 256)):
            proc, port = start_server(run, max_batch)
            try:
                figures = [f"{clients} client{'s' * (clients > 1)}: "
                           f"{requests_per_second(port, body, clients, args.requests):,.0f} requests/s"
                           for clients in (1, 16)]
            finally:
                proc.terminate()
                proc.wait(timeout=30)
            print(f"serve, {label}: " + "; ".join(figures))


if __name__ == "__main__":
    main()
