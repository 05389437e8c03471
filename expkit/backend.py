"""Import TensorFlow and Keras quietly, only in the commands that build or train.

A top-level module, not part of model/: data (Keras' bundled sets) and model both need it, and they are
independent of each other. expkit's schedules register themselves when model/ imports them."""
from __future__ import annotations

import contextlib
import os
import re
import sys
import tempfile

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


def import_keras():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    if "tensorflow" not in sys.modules:
        with quiet_native_stderr():
            import tensorflow as tf
            tf.config.list_physical_devices("GPU")  # the CUDA probe logs here once
    import keras
    return keras
