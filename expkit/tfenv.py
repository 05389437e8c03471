"""Import TensorFlow and Keras quietly, only in the commands that build or train."""
from __future__ import annotations

import os


def import_keras():
    # TensorFlow's C++ start-up chatter (oneDNN, CUDA probes) hides the lines users need.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("KERAS_BACKEND", "tensorflow")
    import keras
    import tensorflow  # noqa: F401  (registers the backend before any Keras call)

    import expkit.model.schedules  # noqa: F401  (registers expkit's schedules for saving and loading)
    return keras
