"""`expkit serve RUN`: TensorFlow Serving's REST API over a run's model (Starlette + uvicorn)."""
from __future__ import annotations

import json
from pathlib import Path

from expkit.errors import ExpkitError


def add_parser(sub) -> None:
    parser = sub.add_parser("serve", help="serve a run's model over HTTP with TensorFlow Serving's REST API",
                            description="POST /v1/models/NAME:predict with {\"instances\": [...]} of raw samples; "
                                        "the server preprocesses them as training did. Needs "
                                        "pip install 'expkit[serve]'.")
    parser.add_argument("run", type=Path, help="a completed run folder")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 for every interface)")
    parser.add_argument("--port", type=int, default=8501,
                        help="port (default 8501, TF Serving's REST port; 0: any free port, printed at start)")
    parser.add_argument("--name", help="the model name in the URL (default: the run's experiment name)")
    parser.add_argument("--max-body-bytes", type=int, default=10 * 2**20,
                        help="larger request bodies get 413 (default 10 MiB)")
    parser.add_argument("--max-instances", type=int, default=1024,
                        help="more instances in one request get 413 (default 1024)")
    parser.add_argument("--max-batch", type=int, default=256,
                        help="requests arriving together are sent to the model as one batch of up to this many "
                             "samples (default 256; 0: one model call per request)")
    parser.add_argument("--header-timeout", type=float, default=10.0,
                        help="seconds a connection has to send its request head, else it is closed (default 10)")
    parser.add_argument("--max-connections", type=int, default=1000,
                        help="open connections at once; more get 503 (default 1000)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.serving.server import ModelService, check_serve_extra, create_app
    check_serve_extra()
    if not 0 <= args.port <= 65535:
        raise ExpkitError(f"--port {args.port}: expected 0..65535 (0: any free port)")
    if args.max_body_bytes < 1 or args.max_instances < 1 or args.max_connections < 1:
        raise ExpkitError("--max-body-bytes, --max-instances and --max-connections must be at least 1")
    if args.max_batch < 0 or not args.header_timeout > 0:
        raise ExpkitError("--max-batch must be 0 or more and --header-timeout more than 0")
    # Here, not in uvicorn: a taken port is an error with exit code 2; and before the model's load (seconds
    # of TensorFlow), which cannot make the port free.
    sock = _listen(args.host, args.port)
    try:
        from expkit.serving.predict import load_predictor
        predictor = load_predictor(args.run)
        name = args.name or predictor.name
        if not name or "/" in name or ":" in name:
            raise ExpkitError(f"--name {name!r}: a model name must be non-empty, without '/' or ':'")
        service = ModelService(predictor, name, args.max_body_bytes, args.max_instances)
    except BaseException:
        sock.close()
        raise
    import uvicorn

    from expkit.serving.transport import uvicorn_config
    config = uvicorn_config(create_app(service, args.max_batch), args.header_timeout, args.max_connections)
    print(_startup_line(args.run, name, args.host, sock.getsockname()[1], predictor), flush=True)
    uvicorn.Server(config).run(sockets=[sock])  # Ctrl-C: uvicorn stops, re-raises it; the CLI exits 130
    return 0


def _listen(host: str, port: int):
    import socket
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM,
                                                      flags=socket.AI_PASSIVE)[0]
        sock = socket.create_server(address, family=family)
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise ExpkitError(f"cannot listen on {host}:{port}: {error}; choose another --port "
                          "(or --host)") from None
    return sock


def _startup_line(run_dir, name: str, host: str, port: int, predictor) -> str:
    url = f"http://{f'[{host}]' if ':' in host else host}:{port}/v1/models/{name}"
    pre = getattr(predictor, "pre", None)
    if pre is None:  # named inputs: TF Serving's row format, a value per input name
        sample = "{" + ", ".join(f'"{n}": <sample>' for n in predictor.input_names) + "}"
    else:
        size = 1
        for d in pre.raw_shape:
            size *= d
        # A runnable example for a few features; a placeholder for a whole image.
        sample = json.dumps([0] * size) if size <= 16 else f"<{'x'.join(map(str, pre.raw_shape))} raw values>"
    return (f"serving {run_dir} as '{name}' at {url}:predict (Ctrl-C stops) - try: "
            f"curl -d '{{\"instances\": [{sample}]}}' {url}:predict")
