"""`expkit serve RUN`: TensorFlow Serving's REST API over a run's model (Starlette + uvicorn)."""
from __future__ import annotations

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
    parser.add_argument("--port", type=int, default=8501, help="port (default 8501, TF Serving's REST port)")
    parser.add_argument("--name", help="the model name in the URL (default: the run's experiment name)")
    parser.add_argument("--max-body-bytes", type=int, default=10 * 2**20,
                        help="larger request bodies get 413 (default 10 MiB)")
    parser.add_argument("--max-instances", type=int, default=1024,
                        help="more instances in one request get 413 (default 1024)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.serve import ModelService, check_serve_extra, create_app
    check_serve_extra()
    if not 0 <= args.port <= 65535:
        raise ExpkitError(f"--port {args.port}: expected 0..65535")
    if args.max_body_bytes < 1 or args.max_instances < 1:
        raise ExpkitError("--max-body-bytes and --max-instances must be at least 1")
    from expkit.predict import load_predictor
    predictor = load_predictor(args.run)
    name = args.name or predictor.name
    if "/" in name or ":" in name:
        raise ExpkitError(f"--name {name!r}: a model name cannot hold '/' or ':'")
    service = ModelService(predictor, name, args.max_body_bytes, args.max_instances)
    import uvicorn
    url = f"http://{args.host}:{args.port}/v1/models/{name}"
    example = ", ".join(["0"] * 3) + ", ..."
    print(f"serving {args.run} as '{name}' at {url}:predict\n"
          f"  curl -d '{{\"instances\": [[{example}]]}}' {url}:predict", flush=True)
    config = uvicorn.Config(create_app(service), host=args.host, port=args.port, log_level="warning",
                            access_log=False)
    server = uvicorn.Server(config)
    try:
        server.run()
    except OSError as error:  # the port is taken, or the address is not this machine's
        raise ExpkitError(f"cannot listen on {args.host}:{args.port}: {error}") from None
    if not server.started:
        raise ExpkitError(f"cannot listen on {args.host}:{args.port}: see the message above; "
                          "choose another --port")
    return 0
