"""examples/keras_reference/: each config builds the same model as its plain-Keras twin (<name>.py),
layer by layer, and trains one epoch on a small generated set."""
from __future__ import annotations

import functools
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from expkit.config import load_config

FOLDER = Path(__file__).resolve().parent.parent / "examples" / "keras_reference"
CONFIGS = sorted(FOLDER.glob("*.yaml"))


def test_there_are_at_least_20_reference_models_each_with_its_keras_twin():
    assert len(CONFIGS) >= 20
    assert all(c.with_suffix(".py").is_file() for c in CONFIGS)


@functools.cache
def built(config: Path):
    """(loaded config, compiled expkit model), built once per session: the build test and the training
    test share it (a build costs up to a few seconds, MobileNetV2's ~7 s on a loaded machine)."""
    from expkit.training.run import prepare
    loaded = load_config(config)
    return loaded, prepare(loaded, load_data=False).model


def expkit_model(config: Path):
    return built(config)[1]


def keras_model(config: Path):
    spec = importlib.util.spec_from_file_location(f"keras_reference_{config.stem}", config.with_suffix(".py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.build()


def parameter_counts(model) -> list[tuple[str, int, int]]:
    """(Keras class, parameters, trainable parameters) of every layer that has weights, largest first."""
    rows = []
    for layer in model.layers:
        if layer.weights:
            trainable = sum(int(np.prod(w.shape)) for w in layer.trainable_weights)
            rows.append((type(layer).__name__, layer.count_params(), trainable))
    return sorted(rows, key=lambda r: (-r[1], r[0]))


@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_the_config_builds_the_same_model_as_plain_keras(config):
    ours = expkit_model(config)
    import keras
    keras.mixed_precision.set_global_policy("float32")  # mixed_precision.yaml set it for its own build
    theirs = keras_model(config)
    assert parameter_counts(ours) == parameter_counts(theirs)
    assert ours.count_params() == theirs.count_params() > 0
    assert [tuple(t.shape) for t in ours.outputs] == [tuple(t.shape) for t in theirs.outputs]


def generated_inputs(model, n: int, rng):
    arrays = []
    for tensor in model.inputs:
        shape = tuple(8 if d is None else d for d in tensor.shape[1:])
        if "string" in str(tensor.dtype):
            words = np.array(["good", "bad", "film", "plot"])
            import tensorflow as tf  # Keras takes text as string tensors, not NumPy unicode arrays
            arrays.append(tf.constant([" ".join(rng.choice(words, 5)) for _ in range(n)]))
        elif "int" in str(tensor.dtype):
            arrays.append(rng.integers(0, 2, (n, *shape)).astype("int32"))
        else:
            arrays.append(rng.random((n, *shape)).astype("float32"))
    return arrays


def generated_targets(model, loaded, n: int, rng):
    losses = loaded.config.compile.loss
    names = loaded.config.model.outputs or [None]
    targets = {}
    for name, tensor in zip(names, model.outputs):
        loss = (losses[name] if isinstance(losses, dict) else losses).name
        shape = tuple(tensor.shape[1:])
        if loss.startswith("sparse"):
            targets[name] = rng.integers(0, shape[-1], (n, *shape[:-1]))
        elif "binary" in loss or loss == "contrastive":
            targets[name] = rng.integers(0, 2, (n, *shape)).astype("float32")
        else:
            targets[name] = rng.random((n, *shape)).astype("float32")
    return targets if len(targets) > 1 else next(iter(targets.values()))


# fit() first traces the train step into a graph: 2-6 s per model on this 2-core machine under load, 50-127 s
# for MobileNetV2, for one step that then runs in well under a second. Eagerly, the same forward pass, loss,
# gradients and optimizer update take about 1 s (MobileNetV2 ~10 s), so the models train eagerly here; the
# traced path `expkit train` takes is covered by the end-to-end training tests. The exception: recurrent
# layers over long sequences loop in Python when eager (imdb_bilstm, 200 steps: 46 s eager, 21 s traced).
TRACED = {"imdb_bilstm"}


@pytest.mark.slow
@pytest.mark.parametrize("config", CONFIGS, ids=[c.stem for c in CONFIGS])
def test_the_config_trains_one_epoch_on_generated_data(config):
    from expkit.model.adapt import adapt_layers
    loaded, model = built(config)
    rng = np.random.default_rng(0)
    x = generated_inputs(model, 8, rng)
    x = x[0] if len(x) == 1 else {t.name.split(":")[0]: a for t, a in zip(model.inputs, x)}
    adapt_layers(model, loaded.config, SimpleNamespace(x_train=x))
    model.run_eagerly = config.stem not in TRACED
    before = [np.array(w) for w in model.trainable_weights]
    history = model.fit(x, generated_targets(model, loaded, 8, rng), batch_size=4, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][-1])
    assert any(not np.array_equal(a, np.array(w)) for a, w in zip(before, model.trainable_weights))  # it learned
