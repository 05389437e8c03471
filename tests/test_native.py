"""expkit's own layer and loss (model/native.py): PositionEmbedding and keras.io's contrastive loss,
by name in a config, checked arguments, and saved models that load in safe mode."""
from __future__ import annotations

import numpy as np
import pytest

from expkit.backend import import_keras
from expkit.errors import BuildError, ConfigError
from tests.helpers import load

keras = import_keras()

from expkit.model.builder import build_model  # noqa: E402
from expkit.model.native import ContrastiveLoss, PositionEmbedding  # noqa: E402
from expkit.model.saving import load_model_file  # noqa: E402

TOKENS = {"inputs": [{"name": "tokens", "shape": [6], "dtype": "int32"}]}


def positions_model(tmp_path, spelling="PositionEmbedding", **args):
    layers = [{"type": "Embedding", "input_dim": 50, "output_dim": 4, "name": "tokens_vec"},
              {"type": spelling, "name": "positions", **args},
              {"type": "Add", "inputs": ["tokens_vec", "positions"]},
              {"type": "GlobalAveragePooling1D"}, {"type": "Dense", "units": 1}]
    loaded = load(tmp_path, layers, model=TOKENS)
    return build_model(loaded.config, {}, locate=loaded.source.locate)


@pytest.mark.parametrize("spelling", ["PositionEmbedding", "position_embedding"])
def test_position_embedding_by_name_learns_one_vector_per_position(tmp_path, spelling):
    model = positions_model(tmp_path, spelling, sequence_length=8, initializer={"name": "random_normal", "seed": 3})
    layer = model.get_layer("positions")
    assert isinstance(layer, PositionEmbedding) and layer.count_params() == 8 * 4
    probe = keras.Model(model.inputs, layer.output)
    out = keras.ops.convert_to_numpy(probe({"tokens": np.zeros((2, 6), "int32")}))
    table = keras.ops.convert_to_numpy(layer.position_embeddings)
    np.testing.assert_allclose(out, np.broadcast_to(table[:6], (2, 6, 4)))  # the first 6 of 8 positions


def test_a_model_with_position_embedding_and_contrastive_loss_loads_in_safe_mode(tmp_path):
    model = positions_model(tmp_path, sequence_length=6)
    model.compile(loss=ContrastiveLoss(margin=0.5), optimizer="sgd")
    model.save(tmp_path / "model.keras")
    again = load_model_file(tmp_path / "model.keras")
    x = np.arange(12, dtype="int32").reshape(2, 6)
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert isinstance(again.loss, ContrastiveLoss) and again.loss.margin == 0.5


@pytest.mark.parametrize("args, message", [
    ({"sequence_lenght": 8}, "unknown key 'sequence_lenght' (did you mean 'sequence_length'?)"),
    ({}, "sequence_length: required key 'sequence_length' is missing"),
    ({"sequence_length": 0}, "sequence_length: must be greater than 0, got 0"),
    ({"sequence_length": 8, "initializer": "glorot_unifrom"}, "did you mean 'glorot_uniform'?"),
])
def test_position_embedding_arguments_are_checked(tmp_path, args, message):
    with pytest.raises(ConfigError) as exc:
        positions_model(tmp_path, **args)
    assert message in str(exc.value), str(exc.value)


def test_a_sequence_longer_than_sequence_length_is_a_located_build_error(tmp_path):
    with pytest.raises(BuildError, match=r"exp.yaml:\d+:\d+: model.layers\[1\] \(PositionEmbedding\): .*the input has 6 "
                                         r"positions but sequence_length is 4: set sequence_length to at least 6"):
        positions_model(tmp_path, sequence_length=4)


def keras_io_contrastive(y_true, y_pred, margin):
    """keras.io's siamese example, as written there (NumPy instead of keras.ops)."""
    square_pred = np.square(y_pred)
    margin_square = np.square(np.maximum(margin - y_pred, 0))
    return np.mean((1 - y_true) * square_pred + y_true * margin_square)


@pytest.mark.parametrize("margin", [1.0, 0.5])
def test_contrastive_loss_is_keras_io_formula(margin):
    y_true = np.array([[0.0], [1.0], [1.0], [0.0]], "float32")
    y_pred = np.array([[0.2], [0.3], [1.4], [0.9]], "float32")
    ours = float(ContrastiveLoss(margin=margin)(y_true, y_pred))
    assert ours == pytest.approx(keras_io_contrastive(y_true, y_pred, margin), rel=1e-6)
    by_hand = (0.04 + (margin - 0.3) ** 2 + 0.0 + 0.81) / 4  # the pair at 1.4 is already beyond the margin
    assert ours == pytest.approx(by_hand, rel=1e-6)


def test_contrastive_by_name_in_compile(tmp_path):
    from expkit.model.compiling import make_loss
    loaded = load(tmp_path, [{"type": "Dense", "units": 1}], compile={"loss": {"name": "contrastive", "margin": 2.0}})
    loss = make_loss(keras, loaded.config)
    assert isinstance(loss, ContrastiveLoss) and loss.margin == 2.0
    assert isinstance(make_loss(keras, load(tmp_path, [{"type": "Dense", "units": 1}],
                                            compile={"loss": "contrastive"}).config), ContrastiveLoss)


@pytest.mark.parametrize("loss, message", [
    ({"name": "contrastive", "margn": 1.0}, "unknown key 'margn' for loss 'contrastive' (did you mean 'margin'?)"),
    ({"name": "contrastive", "margin": -1}, "contrastive's margin must be a number > 0, got -1"),
    ({"name": "contrastive", "margin": "wide"}, "contrastive's margin must be a number > 0, got 'wide'"),
    ({"name": "contrastiv"}, "did you mean 'contrastive'?"),
])
def test_contrastive_arguments_are_checked(tmp_path, loss, message):
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, [{"type": "Dense", "units": 1}], compile={"loss": loss})
    assert message in str(exc.value), str(exc.value)


# ---- EuclideanDistance: keras.io's siamese distance as a merge layer -----------------------------

def distance_model(tmp_path, inputs=("a", "b"), b_units=4, **args):
    layers = [{"type": "Dense", "units": 4, "inputs": "left", "name": "a"},
              {"type": "Dense", "units": b_units, "inputs": "right", "name": "b"},
              {"type": "EuclideanDistance", "inputs": list(inputs), "name": "distance", **args}]
    model = {"inputs": [{"name": "left", "shape": [3]}, {"name": "right", "shape": [3]}], "outputs": ["distance"]}
    loaded = load(tmp_path, layers, model=model)
    return build_model(loaded.config, {}, locate=loaded.source.locate)


def test_euclidean_distance_by_name_is_keras_io_lambda_and_loads_in_safe_mode(tmp_path):
    import importlib.util
    from pathlib import Path
    from expkit.model.native import EuclideanDistance
    twin = Path(__file__).parents[1] / "examples" / "keras_reference" / "siamese_contrastive.py"
    spec = importlib.util.spec_from_file_location("siamese_twin", twin)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    a = np.array([[0.0, 3.0], [1.0, 1.0], [2.0, -1.0]], "float32")
    b = np.array([[4.0, 0.0], [1.0, 1.0], [0.0, 0.0]], "float32")
    ours = keras.ops.convert_to_numpy(EuclideanDistance()([a, b]))
    np.testing.assert_allclose(ours, keras.ops.convert_to_numpy(module.euclidean_distance([a, b])), rtol=1e-6)
    np.testing.assert_allclose(ours, [[5.0], [np.sqrt(1e-7)], [np.sqrt(5.0)]], rtol=1e-5)  # equal pair: the floor
    model = distance_model(tmp_path, epsilon=1e-4)
    assert isinstance(model.get_layer("distance"), EuclideanDistance) and model.output_shape == (None, 1)
    model.save(tmp_path / "model.keras")
    again = load_model_file(tmp_path / "model.keras")
    x = {"left": np.ones((2, 3), "float32"), "right": np.zeros((2, 3), "float32")}
    np.testing.assert_allclose(again.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert again.get_layer("distance").epsilon == 1e-4


@pytest.mark.parametrize("inputs, args, message", [
    (("a", "b", "a"), {}, "model.layers[2].inputs: EuclideanDistance measures between 2 nodes, got 3: write inputs: [a, b]"),
    (("a",), {}, "EuclideanDistance measures between 2 nodes, got 1"),
    (("a", "b"), {"epsilon": 0}, "epsilon: must be greater than 0, got 0"),
    (("a", "b"), {"epsilon": 1e-7, "axis": 1}, "unknown key 'axis'"),
])
def test_euclidean_distance_arguments_are_checked(tmp_path, inputs, args, message):
    with pytest.raises(ConfigError) as exc:
        distance_model(tmp_path, inputs, **args)
    assert message in str(exc.value), str(exc.value)


def test_euclidean_distance_between_different_shapes_is_a_located_build_error(tmp_path):
    with pytest.raises(BuildError, match=r"exp.yaml:\d+:\d+: model.layers\[2\] \(EuclideanDistance\): .*needs two "
                                         r"tensors of the same shape, got \(None, 4\) and \(None, 5\)"):
        distance_model(tmp_path, b_units=5)
