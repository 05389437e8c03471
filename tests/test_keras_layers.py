"""Every keras.layers class by name with all its arguments: the catalogue, the derived specs, the defaults."""
from __future__ import annotations

import numpy as np
import pytest

from expkit.backend import import_keras
from expkit.config.catalog import CATALOG, LAYERS
from expkit.config.layers import LAYER_CLASSES
from expkit.errors import BuildError, ConfigError
from tests.helpers import load

keras = import_keras()

from expkit.model.builder import build_model  # noqa: E402
from expkit.model.keras_catalog import SKIPPED, build_catalog, render  # noqa: E402


def build(loaded, shape, **shapes):
    return build_model(loaded.config, shapes or {"input": shape}, steps_per_epoch=10, locate=loaded.source.locate)


def test_the_catalogue_file_matches_the_installed_keras():
    from expkit.model.keras_catalog import CATALOG_FILE
    assert CATALOG_FILE.read_text(encoding="utf-8") == render(build_catalog()), (
        "expkit/config/keras_layers.json is stale: run `make docs` (python -m expkit.model.keras_catalog)")


def test_every_public_keras_layer_has_a_spec():
    classes = {n for n in dir(keras.layers) if n[:1].isupper() and isinstance(getattr(keras.layers, n), type)
               and issubclass(getattr(keras.layers, n), keras.layers.Layer)}
    aliases = {a for e in LAYERS.values() for a in e["aliases"]}
    missing = {n for n in classes - set(LAYER_CLASSES) - aliases - SKIPPED if not n.endswith("Cell")}
    assert not missing
    assert len(LAYER_CLASSES) > 120 and CATALOG["keras_version"] == keras.__version__


@pytest.mark.parametrize("layer, theirs", [
    ({"type": "Conv2DTranspose", "filters": 4, "kernel_size": 3, "strides": 2, "padding": "same"},
     lambda: keras.layers.Conv2DTranspose(4, 3, strides=2, padding="same")),
    ({"type": "separable_conv2d", "filters": 6, "kernel_size": 3, "depth_multiplier": 2},
     lambda: keras.layers.SeparableConv2D(6, 3, depth_multiplier=2)),
    ({"type": "UpSampling2D", "size": 2}, lambda: keras.layers.UpSampling2D(2)),
    ({"type": "LeakyReLU", "negative_slope": 0.2}, lambda: keras.layers.LeakyReLU(0.2)),
    ({"type": "Cropping2D", "cropping": [[1, 1], [2, 2]]}, lambda: keras.layers.Cropping2D(((1, 1), (2, 2)))),
    ({"type": "Permute", "dims": [2, 1, 3]}, lambda: keras.layers.Permute((2, 1, 3))),
    ({"type": "Resizing", "height": 4, "width": 4}, lambda: keras.layers.Resizing(4, 4)),
    ({"type": "RandomFlip", "mode": "horizontal", "seed": 1}, lambda: keras.layers.RandomFlip("horizontal", seed=1)),
    ({"type": "DepthwiseConv2D", "kernel_size": 3}, lambda: keras.layers.DepthwiseConv2D(3)),
    ({"type": "AvgPool2D"}, lambda: keras.layers.AveragePooling2D(2)),
])
def test_layers_without_a_hand_written_spec_build_like_keras(tmp_path, layer, theirs):
    model = build(load(tmp_path, [layer, {"type": "Flatten"}, {"type": "Dense", "units": 2}]), (8, 8, 3))
    ref = keras.Sequential([keras.Input((8, 8, 3)), theirs(), keras.layers.Flatten(), keras.layers.Dense(2)])
    assert [l.count_params() for l in model.layers] == [l.count_params() for l in ref.layers]
    assert model.layers[0].output.shape == ref.layers[0].output.shape


def test_recurrent_and_bias_arguments_reach_keras(tmp_path):
    model = build(load(tmp_path, [
        {"type": "LSTM", "units": 4, "recurrent_initializer": {"name": "random_normal", "stddev": 0.5},
         "bias_regularizer": {"l2": 0.01}, "recurrent_regularizer": "l1", "kernel_constraint": {"name": "MaxNorm",
                                                                                                 "max_value": 2},
         "activity_regularizer": {"l1": 0.001}, "unit_forget_bias": False},
        {"type": "Dense", "units": 1, "bias_initializer": "ones", "kernel_initializer": "HeNormal"}]), (5, 3))
    lstm, dense = model.layers
    assert isinstance(lstm.cell.recurrent_initializer, keras.initializers.RandomNormal)
    assert lstm.cell.recurrent_initializer.stddev == 0.5
    assert isinstance(lstm.cell.kernel_constraint, keras.constraints.MaxNorm)
    assert lstm.cell.recurrent_regularizer.l1 == pytest.approx(0.01)  # Keras' own default factor
    assert lstm.activity_regularizer.l1 == pytest.approx(0.001)
    assert float(dense.bias.numpy()[0]) == 1.0
    assert isinstance(dense.kernel_initializer, keras.initializers.HeNormal)


def test_model_wide_defaults_reach_every_layer_with_a_kernel(tmp_path):
    """l2 and the initializer go to generated layers too (Conv2DTranspose, SeparableConv2D's two kernels),
    but not where the layer sets its own."""
    loaded = load(tmp_path, [
        {"type": "Conv2DTranspose", "filters": 2, "kernel_size": 3},
        {"type": "SeparableConv2D", "filters": 2, "kernel_size": 3},
        {"type": "Conv2D", "filters": 2, "kernel_size": 3, "kernel_regularizer": {"l1": 0.5}},
        {"type": "Flatten"}, {"type": "Dense", "units": 1}],
        model={"regularization": {"l2": 0.001}, "initializer": "he_uniform"})
    model = build(loaded, (6, 6, 1))
    transpose, separable, conv = model.layers[:3]
    assert isinstance(transpose.kernel_initializer, keras.initializers.HeUniform)
    assert isinstance(separable.depthwise_initializer, keras.initializers.HeUniform)
    assert isinstance(separable.pointwise_initializer, keras.initializers.HeUniform)
    assert separable.depthwise_regularizer.l2 == pytest.approx(0.001)
    assert conv.kernel_regularizer.l1 == pytest.approx(0.5) and conv.kernel_regularizer.l2 == 0
    assert len(model.losses) == 5  # transpose, separable x2, conv, dense


def test_initializer_and_kernel_initializer_together_is_an_error(tmp_path):
    with pytest.raises(ConfigError, match="set either initializer or kernel_initializer"):
        load(tmp_path, [{"type": "Dense", "units": 1, "initializer": "zeros", "kernel_initializer": "ones"}])


@pytest.mark.parametrize("layer, wrong, right", [
    ({"type": "LSTM", "units": 2, "recurrent_initialiser": "zeros"}, "recurrent_initialiser", "recurrent_initializer"),
    ({"type": "Dense", "units": 2, "bias_regulariser": "l2"}, "bias_regulariser", "bias_regularizer"),
    ({"type": "MultiHeadAttention", "num_heads": 2, "key_dims": 4}, "key_dims", "key_dim"),
    ({"type": "Conv2DTranspose", "filters": 2, "kernel_size": 2, "stride": 2}, "stride", "strides"),
])
def test_unknown_keys_suggest_the_keras_argument(tmp_path, layer, wrong, right):
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, [layer])
    assert f"unknown key '{wrong}' (did you mean '{right}'?)" in str(exc.value)


def test_a_required_keras_argument_is_required(tmp_path):
    with pytest.raises(ConfigError, match="required key 'num_heads' is missing"):
        load(tmp_path, [{"type": "MultiHeadAttention", "key_dim": 4}])


@pytest.mark.parametrize("inner", [
    {"type": "lstm", "units": 3}, {"type": "Gru", "units": 3}, {"type": "simple_rnn", "units": 3},
    {"type": "LSTM", "units": 3, "recurrent_dropout": 0.1, "recurrent_initializer": "glorot_uniform"},
])
def test_bidirectional_takes_any_recurrent_layer_spelled_any_way(tmp_path, inner):
    model = build(load(tmp_path, [{"type": "bidirectional", "layer": inner}, {"type": "Dense", "units": 1}]), (5, 2))
    assert model.layers[0].output.shape == (None, 6)


def test_mixed_precision_keeps_a_float32_softmax_without_an_extra_layer(tmp_path):
    loaded = load(tmp_path, [{"type": "Dense", "units": 8, "activation": "relu"},
                             {"type": "Dense", "units": 3, "activation": "softmax", "dtype": "float32"}])
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build(loaded, (4,))
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert [l.name for l in model.layers] == ["layer_0_dense", "layer_1_dense"]
    assert model.layers[0].compute_dtype == "float16" and model.layers[1].compute_dtype == "float32"


def test_a_bad_value_keras_rejects_points_at_the_layer(tmp_path):
    with pytest.raises(BuildError, match=r"model.layers\[0\] \(Conv2DTranspose\): cannot build this layer"):
        build(load(tmp_path, [{"type": "Conv2DTranspose", "filters": 2, "kernel_size": 3, "padding": "sometimes"}]),
              (6, 6, 1))


# --- keras.applications backbones --------------------------------------------------------------------

def backbone(tmp_path, **app):
    layers = [{"type": "Application", "model": "MobileNetV2", "alpha": 0.35, "pooling": "avg", **app},
              {"type": "Dense", "units": 3, "activation": "softmax"}]
    return load(tmp_path, layers, model={"input_shape": [32, 32, 3], "layers": layers})


def test_a_mobilenet_backbone_with_a_new_head_matches_keras(tmp_path):
    model = build(backbone(tmp_path, weights=None), (32, 32, 3))
    ref = keras.Sequential([keras.Input((32, 32, 3)), keras.applications.MobileNetV2(
        input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None, pooling="avg"),
        keras.layers.Dense(3, activation="softmax")])
    assert [l.count_params() for l in model.layers] == [l.count_params() for l in ref.layers]


def test_unfreeze_top_trains_only_the_last_layers_and_keeps_batch_norm_frozen(tmp_path):
    model = build(backbone(tmp_path, unfreeze_top=5), (32, 32, 3))
    net = model.layers[0]
    trainable = [l for l in net.layers if l.trainable]
    assert trainable and all(l in net.layers[-5:] for l in trainable)
    assert not any(isinstance(l, keras.layers.BatchNormalization) for l in trainable)
    frozen = build(backbone(tmp_path, trainable=False), (32, 32, 3))
    assert len(frozen.trainable_weights) == 2  # only the head's kernel and bias


def test_imagenet_weights_that_would_need_a_download_are_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "empty-keras-home"))
    with pytest.raises(BuildError, match="weights: imagenet would download MobileNetV2's weights"):
        build(backbone(tmp_path, weights="imagenet"), (32, 32, 3))
    with pytest.raises(BuildError, match="weights file 'nowhere.h5' does not exist"):
        build(backbone(tmp_path, weights="nowhere.h5"), (32, 32, 3))


def test_a_local_weights_file_is_loaded(tmp_path):
    source = keras.applications.MobileNetV2(input_shape=(32, 32, 3), alpha=0.35, include_top=False, weights=None)
    source.save_weights(tmp_path / "mobilenet.weights.h5")
    model = build(backbone(tmp_path, weights=str(tmp_path / "mobilenet.weights.h5")), (32, 32, 3))
    assert np.allclose(model.layers[0].get_weights()[0], source.get_weights()[0])


def test_an_unknown_application_argument_suggests_one(tmp_path):
    with pytest.raises(ConfigError, match="unknown key 'alpah' for MobileNetV2 \\(did you mean 'alpha'\\?\\)"):
        backbone(tmp_path, alpah=0.5)


def test_the_escape_hatch_takes_the_model_wide_initializer_and_l2_unless_its_config_sets_them(tmp_path):
    loaded = load(tmp_path, [
        {"type": "keras", "class_name": "Conv2DTranspose", "config": {"filters": 2, "kernel_size": 3}},
        {"type": "keras", "class_name": "Conv2D", "config": {"filters": 2, "kernel_size": 3,
                                                             "kernel_initializer": "zeros"}},
        {"type": "Flatten"}, {"type": "Dense", "units": 1}],
        model={"regularization": {"l2": 0.001}, "initializer": "he_uniform"})
    model = build(loaded, (6, 6, 1))
    transpose, conv = model.layers[:2]
    assert isinstance(transpose.kernel_initializer, keras.initializers.HeUniform)
    assert transpose.kernel_regularizer.l2 == pytest.approx(0.001)
    assert isinstance(conv.kernel_initializer, keras.initializers.Zeros)
    assert len(model.losses) == 3
