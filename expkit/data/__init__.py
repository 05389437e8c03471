"""The data layer: `dataset:` config in, prepared numpy splits and tf.data pipelines out.

Only `make_pipelines` (and the Keras built-ins other than MNIST, and image decoding without
Pillow) import TensorFlow.
"""
from expkit.data.describe import describe_input
from expkit.data.pipeline import make_pipelines
from expkit.data.prepare import DataSplits, Preprocessor, load_splits

__all__ = ["DataSplits", "Preprocessor", "describe_input", "load_splits", "make_pipelines"]
