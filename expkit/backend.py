"""Import TensorFlow and Keras quietly, only in the commands that build or train.

A top-level module, not part of model/: data (Keras' bundled sets) and model both need it, and they are
independent of each other. expkit's schedules register themselves when model/ imports them."""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

from expkit.errors import ExpkitError

# TensorFlow's C++ start-up chatter, printed straight to file descriptor 2 before Python's logging
# exists: it hides the lines users need. TF_CPP_MIN_LOG_LEVEL only works when set before Python
# starts (TF 2.21 reads it once at load), so the lines are filtered instead.
_NOISE = re.compile(r"^(WARNING: All log messages before absl::InitializeLog|[IWE]\d{4} .*"
                    r"(port\.cc|cudart_stub|cuda_platform|cpu_feature_guard|cuda_dnn|cuda_fft|cuda_blas|"
                    r"computation_placer)|To enable the following instructions|.*rebuild TensorFlow with)")


@contextlib.contextmanager
def quiet_native_stderr():
    """Capture what native code writes to fd 2 and pass on only the lines that are not start-up noise."""
    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile(mode="w+b") as capture:
        os.dup2(capture.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            capture.seek(0)
            for line in capture.read().decode(errors="replace").splitlines():
                if line.strip() and not _NOISE.match(line):
                    print(line, file=sys.stderr)


def import_keras(backend: str | None = None, env: dict[str, str] | None = None):
    """Keras on `backend` (default: KERAS_BACKEND, else tensorflow). Keras reads KERAS_BACKEND once, at
    import, so `env` (e.g. JAX's memory and platform variables) is set first; when Keras is already
    loaded on another backend in this process, that is an error saying how to start afresh."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if "keras" in sys.modules and backend:
        active = sys.modules["keras"].backend.backend()
        if active != backend:
            raise ExpkitError(
                f"training.backend is {backend}, but Keras is already loaded on {active} in this process, and "
                "Keras chooses its backend once, at import: run `expkit train` from a shell (it reads the config "
                f"before importing Keras), or set KERAS_BACKEND={backend} before Python imports Keras "
                "(e.g. restart the notebook's kernel)")
    for key, value in (env or {}).items():
        os.environ.setdefault(key, value)
    if backend:
        os.environ["KERAS_BACKEND"] = backend
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:  # tf.data feeds every backend, so TensorFlow is always loaded
        with quiet_native_stderr():
            import tensorflow as tf
            tf.config.list_physical_devices("GPU")  # the CUDA probe logs here once
    if "keras" not in sys.modules and os.environ["KERAS_BACKEND"] == "jax":
        try:
            import jax  # noqa: F401
        except ImportError:
            raise ExpkitError("training.backend is jax, but JAX is not installed: pip install -e '.[jax]'") from None
    import keras
    return keras
