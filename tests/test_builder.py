"""The builder against the same models written by hand in Keras."""
from __future__ import annotations

import numpy as np
import pytest

from expkit.errors import BuildError
from expkit.backend import import_keras
from tests.helpers import load

keras = import_keras()

from expkit.model.builder import build_model  # noqa: E402


def build(loaded, shape):
    return build_model(loaded.config, {"input": shape}, steps_per_epoch=10, locate=loaded.source.locate)


def test_reference_convnet_matches_hand_written_keras(tmp_path):
    loaded = load(tmp_path, [
        {"type": "Conv2D", "filters": 32, "kernel_size": 3, "activation": "relu"},
        {"type": "max_pooling2d"},
        {"type": "conv2d", "filters": 64, "kernel_size": [3, 3], "activation": "relu"},
        {"type": "MaxPooling2D", "pool_size": 2},
        {"type": "Flatten"},
        {"type": "Dropout", "rate": 0.5},
        {"type": "Dense", "units": 10, "activation": "softmax"}])
    ours = build(loaded, (28, 28, 1))
    theirs = keras.Sequential([
        keras.Input((28, 28, 1)), keras.layers.Conv2D(32, 3, activation="relu"), keras.layers.MaxPooling2D(),
        keras.layers.Conv2D(64, 3, activation="relu"), keras.layers.MaxPooling2D(), keras.layers.Flatten(),
        keras.layers.Dropout(0.5), keras.layers.Dense(10, activation="softmax")])
    assert isinstance(ours, keras.Sequential)
    assert ours.count_params() == theirs.count_params() == 34826
    assert [l.name for l in ours.layers][:2] == ["layer_0_conv2d", "layer_1_max_pooling2d"]


def test_recurrent_stack_matches_hand_written_keras(tmp_path):
    loaded = load(tmp_path, [
        {"type": "Embedding", "input_dim": 100, "output_dim": 8},
        {"type": "Bidirectional", "layer": {"type": "lstm", "units": 16, "return_sequences": True}},
        {"type": "GRU", "units": 8},
        {"type": "Dense", "units": 1}])
    ours = build(loaded, (20,))
    theirs = keras.Sequential([
        keras.Input((20,)), keras.layers.Embedding(100, 8),
        keras.layers.Bidirectional(keras.layers.LSTM(16, return_sequences=True)),
        keras.layers.GRU(8), keras.layers.Dense(1)])
    assert ours.count_params() == theirs.count_params()


def test_time_distributed_and_simple_rnn(tmp_path):
    loaded = load(tmp_path, [{"type": "SimpleRNN", "units": 4, "return_sequences": True},
                             {"type": "TimeDistributed", "layer": {"type": "Dense", "units": 1}}])
    model = build(loaded, (10, 3))
    assert model.output_shape == (None, 10, 1)
    assert model.count_params() == (3 * 4 + 4 * 4 + 4) + (4 + 1)


@pytest.mark.parametrize("l1,l2,expected", [(0.0, 0.0, 0), (0.0, 0.01, 3), (0.01, 0.01, 3)])
def test_l1_l2_add_one_loss_per_weighted_layer(tmp_path, l1, l2, expected):
    loaded = load(tmp_path, [{"type": "Dense", "units": 8, "activation": "relu"},
                             {"type": "Dropout", "rate": 0.1},
                             {"type": "Dense", "units": 8, "activation": "relu"},
                             {"type": "Dense", "units": 1}],
                  model={"regularization": {"l1": l1, "l2": l2}})
    model = build(loaded, (2,))
    model(np.zeros((1, 2), "float32"))
    assert len(model.losses) == expected


def test_l2_penalty_value_is_the_keras_formula(tmp_path):
    loaded = load(tmp_path, [{"type": "Dense", "units": 3}], model={"regularization": {"l2": 0.5}})
    model = build(loaded, (2,))
    kernel = keras.ops.convert_to_numpy(model.layers[0].kernel)
    penalty = float(keras.ops.convert_to_numpy(model.losses[0]))
    assert penalty == pytest.approx(0.5 * np.sum(kernel ** 2), rel=1e-5)


def test_per_layer_regularization_overrides_the_model_default(tmp_path):
    loaded = load(tmp_path, [{"type": "Dense", "units": 8, "regularization": {"l2": 0.0}},
                             {"type": "Dense", "units": 1}],
                  model={"regularization": {"l2": 0.1}})
    model = build(loaded, (2,))
    assert model.layers[0].kernel_regularizer is None
    assert model.layers[1].kernel_regularizer is not None


def test_batch_norm_and_dropout_are_inserted_where_documented(tmp_path):
    loaded = load(tmp_path, [
        {"type": "Conv2D", "filters": 4, "kernel_size": 3, "activation": "relu"},
        {"type": "MaxPooling2D"},
        {"type": "Flatten"},
        {"type": "Dense", "units": 8, "activation": "relu"},
        {"type": "Dense", "units": 2, "activation": "softmax"}],
        model={"regularization": {"dropout": 0.25, "batch_norm": True}})
    model = build(loaded, (8, 8, 1))
    names = [l.name for l in model.layers]
    assert names == ["layer_0_conv2d", "layer_0_conv2d_batch_norm", "layer_0_conv2d_activation",
                     "layer_1_max_pooling2d", "layer_1_max_pooling2d_dropout", "layer_2_flatten",
                     "layer_3_dense", "layer_3_dense_batch_norm", "layer_3_dense_activation",
                     "layer_3_dense_dropout", "layer_4_dense"]
    assert model.layers[0].activation.__name__ == "linear"
    assert model.layers[-1].activation.__name__ == "softmax"
    assert model.get_layer("layer_3_dense_dropout").rate == 0.25


def test_no_dropout_is_added_before_an_explicit_dropout(tmp_path):
    loaded = load(tmp_path, [{"type": "Dense", "units": 8}, {"type": "Dropout", "rate": 0.5},
                             {"type": "Dense", "units": 1}], model={"regularization": {"dropout": 0.2}})
    model = build(loaded, (2,))
    assert [type(l).__name__ for l in model.layers] == ["Dense", "Dropout", "Dense"]


@pytest.mark.parametrize("initializer,check", [
    ({"name": "constant", "value": 0.25}, lambda w: np.allclose(w, 0.25)),
    ({"name": "zeros"}, lambda w: np.allclose(w, 0.0)),
    ({"name": "random_normal", "stddev": 2.0}, lambda w: 1.8 < w.std() < 2.2),
    ({"name": "random_uniform", "minval": 5.0, "maxval": 6.0}, lambda w: w.min() >= 5 and w.max() <= 6),
    ("he_normal", lambda w: 0.8 * np.sqrt(2 / 64) < w.std() < 1.2 * np.sqrt(2 / 64)),
    ("xavier_uniform", lambda w: np.abs(w).max() <= np.sqrt(6 / (64 + 256))),
])
def test_the_chosen_initializer_is_really_used(tmp_path, initializer, check):
    loaded = load(tmp_path, [{"type": "Dense", "units": 256}, {"type": "Dense", "units": 1}],
                  model={"initializer": initializer})
    model = build(loaded, (64,))
    assert check(keras.ops.convert_to_numpy(model.layers[0].kernel))


def test_layer_initializer_overrides_the_model_default(tmp_path):
    loaded = load(tmp_path, [{"type": "Dense", "units": 4, "initializer": "ones"}, {"type": "Dense", "units": 1}],
                  model={"initializer": "zeros"})
    model = build(loaded, (3,))
    assert np.allclose(keras.ops.convert_to_numpy(model.layers[0].kernel), 1.0)
    assert np.allclose(keras.ops.convert_to_numpy(model.layers[1].kernel), 0.0)


def test_functional_graph_with_two_inputs_and_a_merge(tmp_path):
    loaded = load(tmp_path, [
        {"type": "Embedding", "name": "word_vec", "inputs": "word", "input_dim": 50, "output_dim": 8},
        {"type": "Embedding", "name": "context_vec", "inputs": "context", "input_dim": 50, "output_dim": 8},
        {"type": "Dot", "name": "similarity", "inputs": ["word_vec", "context_vec"], "axes": 2},
        {"type": "Flatten"},
        {"type": "Dense", "units": 1, "activation": "sigmoid"}],
        model={"inputs": [{"name": "word", "shape": [1], "dtype": "int32"},
                          {"name": "context", "shape": [1], "dtype": "int32"}]})
    model = build_model(loaded.config, {}, locate=loaded.source.locate)
    assert not isinstance(model, keras.Sequential)
    assert [i.name for i in model.inputs] == ["word", "context"]
    assert model.count_params() == 50 * 8 * 2 + 2
    out = model.predict([np.array([[1], [2]]), np.array([[3], [4]])], verbose=0)
    assert out.shape == (2, 1)


def test_functional_graph_with_two_outputs(tmp_path):
    loaded = load(tmp_path, [
        {"type": "Dense", "units": 8, "activation": "relu"},
        {"type": "Dense", "name": "a", "units": 1, "inputs": "layer_0_dense"},
        {"type": "Dense", "name": "b", "units": 3, "inputs": "layer_0_dense"},
        {"type": "Concatenate", "name": "both", "inputs": ["a", "b"]}],
        model={"outputs": ["a", "b", "both"]})
    model = build_model(loaded.config, {"input": (2,)}, compile=False)
    assert [tuple(o.shape) for o in model.outputs] == [(None, 1), (None, 3), (None, 4)]


def test_get_config_from_config_round_trip(tmp_path):
    loaded = load(tmp_path, [{"type": "Dense", "units": 8, "activation": "relu"}, {"type": "Dense", "units": 1}],
                  model={"regularization": {"l2": 0.01, "dropout": 0.1}})
    model = build(loaded, (3,))
    clone = keras.Sequential.from_config(model.get_config())
    assert clone.count_params() == model.count_params()
    assert [l.name for l in clone.layers] == [l.name for l in model.layers]


def test_keras_escape_hatch_builds_any_builtin_layer(tmp_path):
    loaded = load(tmp_path, [{"type": "keras", "class_name": "Cropping2D", "config": {"cropping": 2}},
                             {"type": "Flatten"}, {"type": "Dense", "units": 1}])
    model = build(loaded, (8, 8, 1))
    assert model.layers[0].__class__.__name__ == "Cropping2D"
    assert model.layers[0].output.shape == (None, 4, 4, 1)


def test_keras_escape_hatch_unknown_class_points_at_the_line(tmp_path):
    """The escape hatch's class is checked against the catalogue when the config loads."""
    from expkit.errors import ConfigError
    with pytest.raises(ConfigError, match=r"exp\.yaml:\d+:\d+: model\.layers\[1\]\.class_name: 'Croping2D' is not a "
                                          r"layer a config can name \(did you mean 'Cropping2D'\?\)"):
        load(tmp_path, [{"type": "Dense", "units": 2}, {"type": "keras", "class_name": "Croping2D", "config": {}}])


def test_shape_error_names_the_yaml_layer(tmp_path):
    loaded = load(tmp_path, [{"type": "Conv2D", "filters": 4, "kernel_size": 3},
                             {"type": "Conv2D", "filters": 4, "kernel_size": 5}])
    with pytest.raises(BuildError, match=r"model\.layers\[1\] \(Conv2D\): cannot build this layer"):
        build(loaded, (6, 6, 1))


@pytest.mark.parametrize("schedule", [
    {"schedule": "exponential_decay", "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5},
    {"schedule": "cosine_decay", "initial_learning_rate": 0.0, "warmup_target": 0.1, "warmup_steps": 5},
    {"schedule": "piecewise_constant", "boundaries": [5], "values": [0.1, 0.01]},
    {"schedule": "linear_warmup", "learning_rate": 0.1, "warmup_steps": 5},
    {"schedule": "one_cycle", "max_learning_rate": 0.1},
])
def test_every_schedule_builds_and_saves(tmp_path, schedule):
    loaded = load(tmp_path, [{"type": "Dense", "units": 1}],
                  compile={"loss": "mse", "optimizer": {"name": "sgd", "learning_rate": schedule, "momentum": 0.9,
                                                        "clipnorm": 1.0}})
    model = build(loaded, (2,))
    model.fit(np.ones((8, 2)), np.ones((8, 1)), epochs=1, verbose=0)
    model.save(tmp_path / "m.keras")
    again = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    assert type(again.optimizer.learning_rate).__name__ != "float"


def test_one_cycle_starts_low_peaks_and_ends_lower():
    from expkit.model.schedules import OneCycle
    sched = OneCycle(0.01, total_steps=100, pct_start=0.3)
    lr = [float(keras.ops.convert_to_numpy(sched(s))) for s in range(100)]
    assert lr[0] == pytest.approx(0.01 / 25, rel=1e-4)
    assert max(lr) == pytest.approx(0.01, rel=1e-3)
    assert int(np.argmax(lr)) in range(28, 31)
    assert lr[-1] == pytest.approx(0.01 / 25 / 1e4, rel=1e-2)


def test_optimizer_arguments_reach_keras(tmp_path):
    loaded = load(tmp_path, [{"type": "Dense", "units": 1}],
                  compile={"loss": "mse", "optimizer": {"name": "sgd", "learning_rate": 0.05, "momentum": 0.9,
                                                        "nesterov": True}})
    opt = build(loaded, (2,)).optimizer
    assert type(opt).__name__ == "SGD" and opt.nesterov and opt.momentum == 0.9
    assert float(keras.ops.convert_to_numpy(opt.learning_rate)) == pytest.approx(0.05)


# --- several tensors by name, shared layers ---------------------------------------------------------

def graph(tmp_path, inputs, layers, outputs=None):
    model = {"inputs": inputs, "layers": layers}
    if outputs:
        model["outputs"] = outputs
    return load(tmp_path, layers, model=model)


def test_multi_head_attention_reads_query_and_value_by_name(tmp_path):
    loaded = graph(tmp_path, [{"name": "q", "shape": [5, 8]}, {"name": "v", "shape": [7, 8]}], [
        {"type": "MultiHeadAttention", "num_heads": 2, "key_dim": 4, "inputs": {"query": "q", "value": "v"},
         "call": {"use_causal_mask": False}, "name": "mha"},
        {"type": "GlobalAveragePooling1D"}, {"type": "Dense", "units": 1}])
    model = build_model(loaded.config, {}, steps_per_epoch=1)
    q, v = keras.Input((5, 8)), keras.Input((7, 8))
    x = keras.layers.MultiHeadAttention(2, 4)(q, v)
    ref = keras.Model([q, v], keras.layers.Dense(1)(keras.layers.GlobalAveragePooling1D()(x)))
    assert model.get_layer("mha").count_params() == ref.layers[2].count_params() == 288
    assert model.count_params() == ref.count_params()


@pytest.mark.parametrize("inputs", [["q", "v"], {"value": "v", "query": "q"}])
def test_attention_takes_a_list_or_its_slots_by_name(tmp_path, inputs):
    loaded = graph(tmp_path, [{"name": "q", "shape": [5, 4]}, {"name": "v", "shape": [6, 4]}], [
        {"type": "Attention", "inputs": inputs, "name": "att"}, {"type": "Flatten"}])
    model = build_model(loaded.config, {}, steps_per_epoch=1)
    assert model.output_shape == (None, 20)  # the query's 5 steps: the order was kept


@pytest.mark.parametrize("layer, message", [
    ({"type": "MultiHeadAttention", "num_heads": 1, "key_dim": 2, "inputs": {"querry": "q", "value": "v"}},
     "model.layers[0].inputs.querry: MultiHeadAttention has no call argument 'querry' (did you mean 'query'?)"),
    ({"type": "Dense", "units": 1, "inputs": ["q", "v"]},
     "model.layers[0].inputs: Dense reads one node, got 2; merge them first with Concatenate or Add"),
    ({"type": "Add", "inputs": {"a": "q", "b": "v"}},
     "model.layers[0].inputs: Add merges a list of nodes: write inputs: [a, b], not a mapping"),
    ({"type": "MultiHeadAttention", "num_heads": 1, "key_dim": 2, "inputs": ["q", "v"], "call": {"causal": True}},
     "model.layers[0].call.causal: MultiHeadAttention has no call argument 'causal'"),
    ({"share": "nothing", "inputs": "q"}, "model.layers[0].share: no layer named 'nothing' above this one to share"),
])
def test_wiring_errors_say_what_keras_call_takes(tmp_path, layer, message):
    from expkit.errors import ConfigError
    with pytest.raises(ConfigError) as exc:
        graph(tmp_path, [{"name": "q", "shape": [3, 2]}, {"name": "v", "shape": [3, 2]}], [layer])
    assert message in str(exc.value)


def test_a_shared_tower_has_one_set_of_weights(tmp_path):
    """Siamese towers: the second branch re-applies the first one's layers (a list of names)."""
    loaded = graph(tmp_path, [{"name": "a", "shape": [6]}, {"name": "b", "shape": [6]}], [
        {"type": "Dense", "units": 16, "activation": "relu", "inputs": "a", "name": "t1"},
        {"type": "Dense", "units": 8, "name": "t2"},
        {"share": ["t1", "t2"], "inputs": "b", "name": "tb"},
        {"type": "Subtract", "inputs": ["t2", "tb"]},
        {"type": "Dense", "units": 1, "activation": "sigmoid"}])
    model = build_model(loaded.config, {}, steps_per_epoch=1)
    a, b = keras.Input((6,)), keras.Input((6,))
    d1, d2 = keras.layers.Dense(16, activation="relu"), keras.layers.Dense(8)
    out = keras.layers.Dense(1, activation="sigmoid")(keras.layers.Subtract()([d2(d1(a)), d2(d1(b))]))
    ref = keras.Model([a, b], out)
    assert model.count_params() == ref.count_params() == 16 * 7 + 8 * 17 + 9
    x = np.ones((2, 6), "float32")
    same = model.predict([x, x], verbose=0)  # equal towers on equal inputs: the difference is zero
    bias = model.layers[-1].get_weights()[1]
    assert np.allclose(same, 1 / (1 + np.exp(-bias)), atol=1e-6)


def test_a_shared_embedding_counts_once(tmp_path):
    loaded = graph(tmp_path, [{"name": "x1", "shape": [4], "dtype": "int32"}, {"name": "x2", "shape": [4], "dtype": "int32"}], [
        {"type": "Embedding", "input_dim": 50, "output_dim": 3, "inputs": "x1", "name": "emb"},
        {"share": "emb", "inputs": "x2"},
        {"type": "Concatenate", "inputs": ["emb", "layer_1_shared"], "axis": 1},
        {"type": "Flatten"}, {"type": "Dense", "units": 1}])
    model = build_model(loaded.config, {}, steps_per_epoch=1)
    assert model.count_params() == 50 * 3 + 24 + 1


# --- losses and metrics with arguments, several outputs ---------------------------------------------

def test_huber_delta_and_metrics_with_arguments_reach_keras(tmp_path):
    loaded = load(tmp_path, [{"type": "Dense", "units": 1, "activation": "sigmoid"}], compile={
        "loss": {"name": "huber", "delta": 0.5},
        "metrics": ["accuracy", {"name": "AUC", "curve": "PR"}, {"name": "precision", "thresholds": 0.7},
                    "true_positives", "rmse"]})
    model = build(loaded, (2,))
    assert isinstance(model.loss, keras.losses.Huber)
    assert float(model.loss(np.array([[2.0]]), np.array([[0.0]]))) == pytest.approx(0.5 * (2 - 0.25))  # delta 0.5
    model.fit(np.zeros((4, 2)), np.ones((4, 1)), verbose=0)
    names = [m.name for m in model.metrics[1].metrics] if hasattr(model.metrics[1], "metrics") else []
    assert {"auc", "precision", "true_positives", "rmse"} <= set(names)
    auc = next(m for m in model.metrics[1].metrics if m.name == "auc")
    assert auc.curve.name == "PR"


@pytest.mark.parametrize("compile, message", [
    ({"loss": {"name": "huber", "delta": 1, "deltta": 2}}, "unknown key 'deltta' for loss 'huber' (did you mean 'delta'?)"),
    ({"loss": "mse", "metrics": [{"name": "auc", "curv": "PR"}]}, "unknown key 'curv' for metric 'auc' (did you mean 'curve'?)"),
    ({"loss": {"out": "mse"}}, "compile.loss.out: a per-output setting needs a model with several outputs"),
])
def test_loss_and_metric_arguments_are_checked(tmp_path, compile, message):
    from expkit.errors import ConfigError
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, [{"type": "Dense", "units": 1}], compile=compile)
    assert message in str(exc.value)


def two_outputs(tmp_path, compile):
    layers = [{"type": "Dense", "units": 4, "name": "h", "inputs": "x"},
              {"type": "Dense", "units": 1, "name": "priority", "inputs": "h", "activation": "sigmoid"},
              {"type": "Dense", "units": 3, "name": "department", "inputs": "h", "activation": "softmax"}]
    return load(tmp_path, layers, compile=compile, model={
        "inputs": [{"name": "x", "shape": [5]}], "layers": layers, "outputs": ["priority", "department"]})


def test_several_outputs_take_their_own_loss_weight_and_metrics(tmp_path):
    loaded = two_outputs(tmp_path, {"loss": {"priority": "binary_crossentropy",
                                             "department": "sparse_categorical_crossentropy"},
                                    "loss_weights": {"priority": 1.0, "department": 0.2},
                                    "metrics": {"department": ["accuracy"], "priority": [{"name": "auc"}]}})
    model = build_model(loaded.config, {}, steps_per_epoch=1)
    x = np.random.default_rng(0).normal(size=(8, 5)).astype("float32")
    y = {"priority": np.ones((8, 1)), "department": np.zeros((8,), "int32")}
    history = model.fit(x, y, epochs=1, verbose=0).history
    assert {"priority_loss", "department_loss", "department_accuracy", "priority_auc"} <= set(history)
    from expkit.model.compiling import logged_metric_names
    from expkit.config.loader import resolved_data
    assert set(logged_metric_names(resolved_data(loaded.config)["compile"])) <= set(history)


def test_a_per_output_key_must_name_an_output(tmp_path):
    from expkit.errors import ConfigError
    with pytest.raises(ConfigError) as exc:
        two_outputs(tmp_path, {"loss": {"priority": "mse", "departmnt": "mse"}})
    assert "compile.loss.departmnt: no model output named 'departmnt' (did you mean 'department'?)" in str(exc.value)
    assert "no loss for output department" in str(exc.value)


@pytest.mark.parametrize("loss", [["mse", "mae"], 3])
def test_a_loss_in_another_form_says_which_forms_there_are(tmp_path, loss):
    from expkit.errors import ConfigError
    with pytest.raises(ConfigError) as exc:
        load(tmp_path, [{"type": "Dense", "units": 1}], compile={"loss": loss})
    assert f"compile.loss: must be a loss name (mse), a loss with its arguments" in str(exc.value)
    assert f"got {loss!r}" in str(exc.value)


def test_mixed_precision_outputs_keep_their_names_and_compute_in_float32(tmp_path):
    loaded = two_outputs(tmp_path, {"loss": {"priority": "mse", "department": "sparse_categorical_crossentropy"}})
    keras.mixed_precision.set_global_policy("mixed_float16")
    try:
        model = build_model(loaded.config, {}, steps_per_epoch=1)
    finally:
        keras.mixed_precision.set_global_policy("float32")
    assert model.output_names == ["priority", "department"]
    assert [str(o.dtype) for o in model.outputs] == ["float32", "float32"]
    assert model.get_layer("h").compute_dtype == "float16"
