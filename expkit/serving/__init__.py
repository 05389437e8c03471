"""A trained run put to use: predictions with its own preprocessing (predict), exports for other
runtimes (export), TensorFlow Serving's REST API (server) and embedding neighbours (neighbours).
Imported lazily by the commands: each of these loads TensorFlow when first called."""
from expkit.serving.export import export_run, load_run_model
from expkit.serving.predict import Predictor, load_predictor

__all__ = ["Predictor", "export_run", "load_predictor", "load_run_model"]
