"""`expkit serve`: a run's model behind TensorFlow Serving's REST API, so TF Serving clients work unchanged.

    POST /v1/models/<name>[/versions/1]:predict   {"instances": [...]} -> {"predictions": [...]}
                                                  {"inputs": [...]}    -> {"outputs": [...]}
    GET  /v1/models/<name>[/versions/1]           the model's status (state AVAILABLE)
    GET  /v1/models/<name>[/versions/1]/metadata  the signature: input and output shapes, DT_FLOAT

Instances are RAW samples as the dataset holds them (MNIST: 28x28 pixels 0..255, or the 784 values
flattened); the server applies the run's preprocessing.json, as `expkit predict` does. So a client of
TF Serving on `expkit export --format savedmodel` (which takes prepared inputs) must send raw samples
here instead. TF Serving's named forms work too: [{"<input>": sample}, ...] and {"<input>": [...]},
with the input's name from the metadata. A model with named inputs (serving/named.py) takes only those:
rows [{"a": sample, "b": sample}, ...] answer rows of {output: value}, columns {"a": [...], "b": [...]}
answer {output: [...]}; its requests are not batched together. Errors answer with TF Serving's body, {"error": "..."}: 400
for malformed JSON, a wrong shape or a non-number, 404 for another model name or version, 405 for a
wrong method, 413 for a body or a batch over the limits, 500 if the model itself fails. The server
keeps serving after any of them.

The HTTP side is Starlette on uvicorn (pip install 'expkit[serve]'), imported only by `create_app`;
`ModelService` answers in plain Python (dicts, or a RequestError with the status).
"""
from __future__ import annotations

import json
import logging
import re
import threading
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from expkit.errors import DataError, ExpkitError
from expkit.serving.named import NamedPredictor, named_metadata
from expkit.serving.predict import Predictor, prepare_batch

VERSION = "1"
DRAIN_FACTOR = 16  # an oversized body is read (and dropped) up to this many times the limit
PATH = re.compile(r"^(?P<name>[^/:]+)(?:/versions/(?P<version>[^/:]+))?(?P<rest>:predict|/metadata)?$")


class RequestError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status = status


@dataclass
class ModelService:
    """What the endpoints answer for one run; thread-safe (Keras models are not re-entrant)."""

    predictor: Predictor | NamedPredictor
    name: str
    max_body_bytes: int = 10 * 2**20
    max_instances: int = 1024
    lock: threading.Lock = field(default_factory=threading.Lock)

    def route(self, method: str, path: str) -> str:
        """'status' | 'metadata' | 'predict' for a path under /v1/models/, or a RequestError."""
        match = PATH.match(path)
        if not match:
            raise RequestError(404, f"unknown path /v1/models/{path}; expected /v1/models/{self.name}:predict, "
                                    f"/v1/models/{self.name} or /v1/models/{self.name}/metadata")
        if match["name"] != self.name:
            raise RequestError(404, f"Servable not found for request: Latest({match['name']}); "
                                    f"this server serves the model '{self.name}'")
        if match["version"] not in (None, VERSION):
            raise RequestError(404, f"Servable not found for request: Specific({self.name}, {match['version']}); "
                                    f"the only version is {VERSION}")
        action = {":predict": "predict", "/metadata": "metadata", None: "status"}[match["rest"]]
        wanted = "POST" if action == "predict" else "GET"
        if method != wanted and not (method == "HEAD" and wanted == "GET"):
            raise RequestError(405, f"{method} is not allowed here; use {wanted}")
        return action

    def status(self) -> dict:
        return {"model_version_status": [{"version": VERSION, "state": "AVAILABLE",
                                          "status": {"error_code": "OK", "error_message": ""}}]}

    def metadata(self) -> dict:
        """TF Serving's GetModelMetadataResponse. The input is the RAW sample, which the server prepares."""
        if self.named:
            return named_metadata(self.predictor, self.name, VERSION)
        pre, model = self.predictor.pre, self.predictor.model
        name = self.predictor.input_name
        signature = {"inputs": {name: tensor_info(f"serving_default_{name}:0", [None, *pre.raw_shape])},
                     "outputs": {"output_0": tensor_info("StatefulPartitionedCall:0", [None, *model.output_shape[1:]])},
                     "method_name": "tensorflow/serving/predict"}
        return {"model_spec": {"name": self.name, "signature_name": "", "version": VERSION},
                "metadata": {"signature_def": {"signature_def": {"serving_default": signature}}},
                "expkit": {"task": pre.task, "class_names": pre.class_names, "feature_names": pre.feature_names,
                           "raw_shape": list(pre.raw_shape), "model_input_shape": list(pre.shape),
                           "preprocessing": f"the server scales ({pre.scale}) and shapes raw samples as "
                                            "training did"}}

    def parse(self, body: bytes) -> tuple[np.ndarray, str]:
        """The request body -> (raw samples, 'predictions' | 'outputs'), or a RequestError."""
        try:
            payload = json.loads(body)
        except (ValueError, RecursionError) as error:  # UnicodeDecodeError is a ValueError
            raise RequestError(400, f"JSON Parse error: {error}; the body must be a JSON object like "
                                    '{"instances": [...]}') from None
        if not isinstance(payload, dict) or ("instances" in payload) == ("inputs" in payload):
            raise RequestError(400, 'the body must be a JSON object with exactly one of "instances" (row format) '
                                    'or "inputs" (columnar format)')
        signature = payload.get("signature_name", "serving_default")
        if signature not in ("serving_default", ""):
            raise RequestError(400, f"Serving signature name: \"{signature}\" not found in signature def; "
                                    'the only one is "serving_default"')
        key = "instances" if "instances" in payload else "inputs"
        if self.named:
            return self.parse_named(payload[key], key, body), "predictions" if key == "instances" else "outputs"
        samples = self.unnamed(payload[key], key)
        if len(samples) > self.max_instances:
            raise RequestError(413, f"{len(samples)} instances in one request; at most {self.max_instances} "
                                    "(split the batch, or start the server with a larger --max-instances)")
        check_numbers(samples, key, walk=re.search(rb"\btrue\b|\bfalse\b", body) is not None)
        try:
            x = prepare_batch(samples, self.predictor.pre, f'"{key}"')
        except DataError as error:
            raise RequestError(400, str(error)) from None
        return x, "predictions" if key == "instances" else "outputs"

    def unnamed(self, samples: Any, key: str) -> list:
        """The samples as a list, from TF Serving's plain or named forms: [sample, ...],
        [{"<input>": sample}, ...] (row) or {"<input>": [sample, ...]} (columnar)."""
        name = self.predictor.input_name

        def value(named: dict) -> Any:
            if set(named) != {name}:
                raise RequestError(400, f'"{key}" names the input(s) {", ".join(map(json.dumps, named))}; this '
                                        f'model has one input, "{name}" (or give the samples without a name)')
            return named[name]

        if key == "inputs" and isinstance(samples, dict):
            samples = value(samples)
        elif isinstance(samples, list) and samples and all(isinstance(s, dict) for s in samples):
            samples = [value(s) for s in samples]
        if not isinstance(samples, list):
            raise RequestError(400, f'"{key}" must be a list of samples, got {type(samples).__name__}')
        return samples

    @property
    def named(self) -> bool:
        """A model with named inputs (several, text, token ids): TF Serving's named forms only."""
        return isinstance(self.predictor, NamedPredictor)

    def parse_named(self, samples: Any, key: str, body: bytes) -> dict[str, np.ndarray]:
        """TF Serving's named forms -> {input: samples}: rows [{"a": sample, "b": sample}, ...] or
        columns {"a": [samples], "b": [samples]}; a 400 for a missing or unknown input name."""
        if isinstance(samples, list) and samples and all(isinstance(s, dict) for s in samples):
            names = list(dict.fromkeys(k for s in samples for k in s))
            incomplete = next((i for i, s in enumerate(samples) if set(s) != set(names)), None)
            if incomplete is not None:
                raise RequestError(400, f'"{key}"[{incomplete}] names {", ".join(map(json.dumps, samples[incomplete]))}'
                                        f' but other instances name {", ".join(map(json.dumps, names))}; each '
                                        "instance needs every input")
            samples = {n: [s[n] for s in samples] for n in names}
        if not isinstance(samples, dict) or not samples:
            inputs = ", ".join(json.dumps(n) for n in self.predictor.input_names)
            raise RequestError(400, f'"{key}": this model has named inputs ({inputs}); send {{"instances": '
                                    '[{<input>: sample, ...}, ...]} (row format) or {"inputs": {<input>: [samples], ...}} '
                                    "(columnar format)")
        for name, value in samples.items():
            if not isinstance(value, list):
                raise RequestError(400, f'"{key}"."{name}" must be a list of samples, got {type(value).__name__}')
            if len(value) > self.max_instances:
                raise RequestError(413, f"{len(value)} instances in one request; at most {self.max_instances} "
                                        "(split the batch, or start the server with a larger --max-instances)")
            text = next((i.dtype == "string" for i in self.predictor.inputs if i.name == name), False)
            if not text:
                check_numbers(value, f"{key}.{name}", walk=re.search(rb"\btrue\b|\bfalse\b", body) is not None)
        try:
            return self.predictor.check(samples, f'"{key}"')
        except DataError as error:
            raise RequestError(400, str(error)) from None

    def predict(self, body: bytes) -> dict:
        x, key = self.parse(body)
        return self.answer(self.run(x), key)

    def answer(self, out, key: str) -> dict:
        """TF Serving's reply: a list per sample; for several named outputs, rows of {output: value}
        ("predictions") or a mapping of columns ("outputs")."""
        if not isinstance(out, dict):
            return {key: out.tolist()}
        if len(out) == 1:
            return {key: next(iter(out.values())).tolist()}
        if key == "outputs":
            return {key: {k: v.tolist() for k, v in out.items()}}
        n = len(next(iter(out.values())))
        return {key: [{k: v[i].tolist() for k, v in out.items()} for i in range(n)]}

    def run(self, x):
        """Prepared samples -> outputs as float64 (a dict of them for named outputs), one model call at a time."""
        with self.lock:
            out = self.predictor(x)
        if isinstance(out, dict):
            return {k: np.asarray(v, dtype=np.float64) for k, v in out.items()}
        return np.asarray(out, dtype=np.float64)


FLOAT32_MAX = float(np.finfo(np.float32).max)


def check_numbers(samples: list, key: str, walk: bool = False) -> None:
    """A 400 for what is not a number the model can take: text, true/false, null, or a value beyond
    float32 (1e308, a 400-digit integer), which numpy would turn into inf or fail on. numpy reads true
    as 1, so a body that may hold one (`walk`) is checked value by value."""
    try:
        array = np.asarray(samples, dtype=object if walk else None)
    except (ValueError, OverflowError, TypeError):  # ragged, or an integer beyond 64 bits
        array = np.asarray(samples, dtype=object)
    if array.dtype.kind not in "iufO":  # text somewhere: numpy made every value text, 0 included
        array = np.asarray(samples, dtype=object)
    if array.dtype.kind in "iuf":
        if array.size and float(np.max(np.abs(array), initial=0)) > FLOAT32_MAX:
            raise RequestError(400, f'"{key}" holds {float(np.max(np.abs(array))):g}, beyond float32 '
                                    f"(largest {FLOAT32_MAX:g}); the model takes float32 values")
        return
    for index, value in np.ndenumerate(array):
        where = f'"{key}"' + "".join(f"[{i}]" for i in index)
        if isinstance(value, list):
            continue  # ragged: prepare_batch says which shape it expected
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise RequestError(400, f"{where} is {json.dumps(value)[:40]}, not a number; every value of a sample "
                                    "must be a number")
        if abs(value) > FLOAT32_MAX:
            shown = f"an integer of {len(str(abs(value)))} digits" if isinstance(value, int) else f"{value:g}"
            raise RequestError(400, f"{where} is {shown}, beyond float32 (largest {FLOAT32_MAX:g}); the model "
                                    "takes float32 values")


def tensor_info(name: str, shape: list) -> dict:
    """A TensorInfo as TF Serving writes it in JSON: sizes as strings, -1 for the batch."""
    dims = [{"size": str(-1 if d is None else int(d)), "name": ""} for d in shape]
    return {"dtype": "DT_FLOAT", "tensor_shape": {"dim": dims, "unknown_rank": False}, "name": name}


def check_serve_extra() -> None:
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise ExpkitError("expkit serve needs Starlette and uvicorn, which are not installed: "
                          "pip install 'expkit[serve]'") from None


def create_app(service: ModelService, max_batch: int = 256) -> Any:
    """The Starlette app: every /v1/models/... request goes through `service`; predictions arriving
    together are batched (max_batch 0: one model call per request)."""
    from starlette.applications import Starlette
    from starlette.concurrency import run_in_threadpool
    from starlette.requests import ClientDisconnect
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from expkit.serving.batching import Batcher
    # Batching stacks single arrays; a model with named inputs takes each request in its own call.
    batcher = Batcher(service.run, max_batch) if max_batch > 0 and not service.named else None
    log = logging.getLogger("expkit.serving.server")

    async def predict(request):
        body = await read_limited(request, service.max_body_bytes)
        x, key = await run_in_threadpool(service.parse, body)
        out = await batcher(x) if batcher else await run_in_threadpool(service.run, x)
        return JSONResponse(service.answer(out, key))

    async def models(request):
        try:
            action = service.route(request.method, request.path_params["path"])
            if action == "status":
                return JSONResponse(service.status())
            if action == "metadata":
                return JSONResponse(service.metadata())
            if batcher:
                batcher.active += 1
            try:
                return await predict(request)
            finally:
                if batcher:
                    batcher.active -= 1
        except RequestError as error:
            return JSONResponse({"error": str(error)}, status_code=error.status)
        except ClientDisconnect:  # the client went away while sending: nothing to answer, nothing broke
            client = request.client
            log.warning("client %s disconnected before its request was read", f"{client.host}:{client.port}"
                        if client else "?")
            return Response(status_code=499)
        except Exception as error:  # a bug or a model failure: say so in TF Serving's shape, keep serving
            log.exception("%s %s failed", request.method, request.url.path)
            return JSONResponse({"error": f"internal error: {type(error).__name__}: {error}"}, status_code=500)

    async def unknown(request):
        return JSONResponse({"error": f"unknown path {request.url.path}; the API is under /v1/models/"
                                      f"{service.name}"}, status_code=404)

    methods = ["GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]
    return Starlette(routes=[Route("/v1/models/{path:path}", models, methods=methods),
                             Route("/{path:path}", unknown, methods=methods)])


async def read_limited(request, limit: int) -> bytes:
    """The body, or a 413 once it is known to be over `limit` (by its Content-Length or while streaming).

    The rest of an oversized body is read and dropped (up to DRAIN_FACTOR x the limit, holding none of
    it) before answering, so that the client, still sending, gets the 413 instead of a reset connection.
    """
    declared = request.headers.get("content-length")
    too_big = declared is not None and declared.isdigit() and int(declared) > limit
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            too_big = True
        if too_big:
            chunks = []
            if size > DRAIN_FACTOR * limit:
                break
        else:
            chunks.append(chunk)
    if too_big:
        raise RequestError(413, f"the request body is {int(declared) if declared and declared.isdigit() else size}"
                                f" bytes, over the limit of {limit} (split the batch, or start the server "
                                "with a larger --max-body-bytes)")
    return b"".join(chunks)
