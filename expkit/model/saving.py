"""Loading a saved model file: Keras' safe mode, with expkit's schedules registered by name."""
from __future__ import annotations

from pathlib import Path

from expkit.backend import import_keras
from expkit.errors import ExpkitError


def load_model_file(model_file: Path):
    """A `.keras` file loaded in Keras' safe mode (no code from the file is run)."""
    keras = import_keras()
    import expkit.model.schedules  # noqa: F401  (a saved optimizer may name expkit>OneCycle)
    import expkit.model.native  # noqa: F401  (expkit>PositionEmbedding, expkit>EuclideanDistance, expkit>ContrastiveLoss)
    from expkit.model.plugin_models import load_needed_plugins
    load_needed_plugins(model_file)  # a plugin's classes, named in the file, registered before loading
    try:
        return keras.saving.load_model(model_file, safe_mode=True)
    except Exception as exc:  # a corrupt or foreign file: say so instead of a traceback
        raise ExpkitError(f"{model_file}: cannot load the model: {exc}") from None
