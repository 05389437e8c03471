"""A warm sweep worker (`python -m expkit.cli.worker`, started by `expkit sweep --reuse-workers`; not a
user command): it imports TensorFlow once, then runs `expkit train` point after point in this same
process, so a small point no longer pays a new interpreter and a 4-5 s TensorFlow import.

Protocol, one JSON line each way: the sweep writes {"argv": [...], "env": {...}, "log": PATH} on stdin;
the worker trains with its stdout and stderr (file descriptors 1 and 2, so TensorFlow's own C++ lines
too) in PATH and answers {"code": EXIT_CODE} on the original stdout. Between points Keras' global state
is cleared (keras.backend.clear_session) and `train` seeds everything again from the point's config, so
a point's run is the same as in a fresh process (tests/test_workers.py compares metrics.csv).
End of input, or SIGTERM while idle, ends the worker."""
from __future__ import annotations

import gc
import json
import os
import signal
import sys


# What `train` imports lazily on its first point: imported while warming up, so the first point pays no
# more than the others (and these modules end up in the frozen, never re-scanned part of the heap).
WARM_IMPORTS = ("expkit.training", "expkit.training.callbacks", "expkit.training.state", "expkit.cli.train",
                "expkit.data", "expkit.data.multi", "expkit.data.pipeline", "expkit.model.builder",
                "expkit.model.budget", "expkit.model.adapt", "expkit.tracking.tensorboard",
                "expkit.tracking.hparams", "tensorboard.plugins.hparams.api")


def _warm_up():
    import importlib
    from expkit.backend import import_keras
    keras = import_keras()
    for name in WARM_IMPORTS:
        try:
            importlib.import_module(name)
        except ImportError:  # an optional piece: the point that needs it reports it, as in a fresh process
            pass
    # TensorFlow and Keras leave ~500,000 objects on the heap: a full collection walks them all (0.6 s here),
    # and clear_session runs one after every point. Frozen, they are never scanned again; what a point
    # allocates is still collected.
    gc.collect()
    gc.freeze()
    return keras


def _serve(replies) -> int:
    keras = _warm_up()
    from expkit.cli.app import main
    quiet = os.open(os.devnull, os.O_WRONLY)
    saved_err = os.dup(2)
    for line in sys.stdin:
        job = json.loads(line)
        before = dict(os.environ)
        os.environ.update(job.get("env") or {})
        sys.argv = ["expkit", *job["argv"]]
        log = os.open(job["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)  # a resumed run's log goes on
        os.dup2(log, 1)
        os.dup2(log, 2)
        os.close(log)
        try:
            code = main(job["argv"]) if _same_backend(job["argv"], keras) else _fresh(job["argv"])
        except SystemExit as exc:  # argparse's own exits
            code = exc.code if isinstance(exc.code, int) else 2
        except BaseException as exc:  # noqa: BLE001  (anything else is this point's failure, not the worker's)
            print(f"error: {type(exc).__name__}: {exc}", file=sys.stderr)
            code = 1
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(quiet, 1)
            os.dup2(saved_err, 2)
            os.environ.clear()
            os.environ.update(before)
            keras.backend.clear_session()  # and a gc.collect
        signal.signal(signal.SIGTERM, _stop)  # `train` set its own for the point; idle, we just end
        replies.write(json.dumps({"code": code}) + "\n")
        replies.flush()
        if code == 130:  # stopped (SIGTERM): the sweep is stopping, so is this worker
            return 130
    return 0


def _same_backend(argv: list[str], keras) -> bool:
    """Keras picks its backend once per process: a point on another backend (training.backend: jax)
    trains in a fresh process instead."""
    from expkit.cli.app import build_parser
    from expkit.config import load_config
    from expkit.runstore import RunFolder
    try:
        args = build_parser().parse_args(argv)
        if args.command == "resume":  # a run continued in its folder, with the config it started with
            loaded = load_config(RunFolder(args.run_dir).config_yaml)
        else:
            loaded = load_config(args.config, args.overrides)
        return loaded.config.training.backend == keras.backend.backend()
    except (Exception, SystemExit):  # noqa: BLE001
        return True  # `train` or `resume` itself reports the problem, as it would in a fresh process


def _fresh(argv: list[str]) -> int:
    import subprocess
    sys.stdout.flush()
    child = subprocess.Popen([sys.executable, "-m", "expkit", *argv])  # its output: this point's log
    try:
        return child.wait()
    except KeyboardInterrupt:  # stopped: pass it on, so the run records itself as interrupted
        child.terminate()
        return child.wait()


def _stop(signum, frame):
    raise KeyboardInterrupt


def run() -> int:
    replies = os.fdopen(os.dup(1), "w")  # answers go on the real stdout; fd 1 becomes each point's log
    signal.signal(signal.SIGTERM, _stop)
    try:
        return _serve(replies)
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(run())
