"""The config layer on its own: loading, normalising, extends, --set, the resolved config, the schema.

No model is built here (the smoke test that builds every example config lives elsewhere), and
the CLI checks at the bottom make sure `validate` and `schema` never import TensorFlow.
"""
from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

from expkit.config import ExperimentConfig, load_config
from expkit.config.layers import LAYER_CLASSES
from expkit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "configs").glob("*.yaml"))

HEAD = """\
experiment:
  name: t
dataset:
  name: xor
compile:
  loss: mse
"""


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text))
    return path


def load_text(tmp_path: Path, text: str, overrides=(), name: str = "cfg.yaml"):
    return load_config(write(tmp_path / name, text), list(overrides))


def with_layers(*layers: str, extra: str = "") -> str:
    """HEAD plus `model.layers` written one flow mapping a line."""
    return HEAD + "model:\n  layers:\n" + "".join(f"    - {layer}\n" for layer in layers) + extra


def line_of(text: str, snippet: str) -> int:
    assert text.count(snippet) == 1, f"{snippet!r} occurs {text.count(snippet)} times"
    return text[:text.index(snippet)].count("\n") + 1


def problems(exc_info) -> list[tuple[str, int | None, str, str]]:
    """(file name, line, dotted path, message) of each problem of a ConfigError."""
    return [(Path(p.location.file).name if p.location else None, p.location.line if p.location else None,
             p.path, p.message) for p in exc_info.value.problems]


# --- every example --------------------------------------------------------------------------------

def test_there_are_example_configs():
    assert len(EXAMPLES) >= 5, EXAMPLES


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_every_example_config_loads(path: Path):
    loaded = load_config(path)
    assert isinstance(loaded.config, ExperimentConfig)
    if loaded.config.sweep is None:  # a sweep's runs are named <experiment>-<variant>: a short name reads better
        assert loaded.config.experiment.name == path.stem
    assert loaded.file == path
    command = "sweep" if loaded.config.sweep else "train"
    assert f"# Run: expkit {command} configs/{path.name}" in path.read_text()  # STYLE: says how it is run


# --- layer types ----------------------------------------------------------------------------------

@pytest.mark.parametrize("written, canonical, args", [
    pytest.param("dense", "Dense", "units: 4", id="dense"),
    pytest.param("conv2d", "Conv2D", "filters: 2, kernel_size: 3", id="conv2d"),
    pytest.param("conv1d", "Conv1D", "filters: 2, kernel_size: 3, padding: causal", id="conv1d"),
    pytest.param("max_pooling2d", "MaxPooling2D", "pool_size: 3", id="max_pooling2d"),
    pytest.param("maxpooling2d", "MaxPooling2D", "pool_size: 3", id="maxpooling2d-lower-case"),
    pytest.param("batch_normalization", "BatchNormalization", "momentum: 0.9", id="batch_normalization"),
    pytest.param("BATCHNORMALIZATION", "BatchNormalization", "momentum: 0.9", id="upper-case"),
    pytest.param("simple_rnn", "SimpleRNN", "units: 3", id="simple_rnn"),
    pytest.param("lstm", "LSTM", "units: 3", id="lstm"),
    pytest.param("gru", "GRU", "units: 3", id="gru"),
    pytest.param("global_average_pooling2d", "GlobalAveragePooling2D", "", id="global_average_pooling2d"),
    pytest.param("activation", "Activation", "activation: relu", id="activation"),
    pytest.param("time_distributed", "TimeDistributed", "layer: {type: dense, units: 2}", id="time_distributed"),
    pytest.param("Dense", "Dense", "units: 4", id="Dense-as-is"),
])
def test_layer_type_spellings_are_normalised(tmp_path, written, canonical, args):
    layer = load_text(tmp_path, with_layers(f"{{type: {written}, {args}}}")).config.model.layers[0]
    assert layer.type == canonical
    assert type(layer) is LAYER_CLASSES[canonical]


def test_bidirectional_lstm(tmp_path):
    layer = load_text(tmp_path, with_layers(
        "{type: Bidirectional, layer: {type: lstm, units: 6, return_sequences: true}}")).config.model.layers[0]
    assert layer.type == "Bidirectional" and layer.merge_mode == "concat"
    assert type(layer.layer) is LAYER_CLASSES["LSTM"]
    assert (layer.layer.type, layer.layer.units, layer.layer.return_sequences) == ("LSTM", 6, True)


def test_bidirectional_merge_mode_null_reaches_keras(tmp_path):
    """Keras' merge_mode=None (return both directions) must not fall back to the default 'concat'."""
    layer = load_text(tmp_path, with_layers(
        "{type: Bidirectional, layer: {type: gru, units: 2}, merge_mode: null}")).config.model.layers[0]
    assert layer.merge_mode is None
    assert layer.keras_kwargs() == {"merge_mode": None}


def test_bidirectional_refuses_a_dense_layer(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, with_layers("{type: Bidirectional, layer: {type: Dense, units: 2}}"))
    assert problems(exc) == [("cfg.yaml", 9, "model.layers[0].layer.type",
                              "Bidirectional wraps a recurrent layer (ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, GRU, LSTM, "
                              "SimpleRNN), got 'Dense'")]


def test_time_distributed_dense(tmp_path):
    layer = load_text(tmp_path, with_layers(
        "{type: TimeDistributed, layer: {type: dense, units: 5, activation: relu}}")).config.model.layers[0]
    assert type(layer.layer) is LAYER_CLASSES["Dense"]
    assert (layer.layer.units, layer.layer.activation) == (5, "relu")


def test_keras_escape_hatch(tmp_path):
    layer = load_text(tmp_path, with_layers(
        "{type: keras, class_name: Cropping1D, config: {cropping: [1, 2]}}")).config.model.layers[0]
    assert layer.type == "Keras"
    assert layer.class_name == "Cropping1D"
    assert layer.config == {"cropping": [1, 2]}


def test_keras_escape_hatch_takes_no_import_path(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, with_layers("{type: keras, class_name: os.system}"))
    (found,) = problems(exc)
    assert found[:3] == ("cfg.yaml", 9, "model.layers[0].class_name")
    assert "got 'os.system'" in found[3]


# --- initializers, optimizers, schedules ---------------------------------------------------------

def test_initializer_default_is_glorot_uniform(tmp_path):
    init = load_text(tmp_path, with_layers("{type: Dense, units: 1}")).config.model.initializer
    assert (init.name, init.keras_class(), init.keras_kwargs()) == ("glorot_uniform", "GlorotUniform", {})


def test_initializer_as_a_string(tmp_path):
    cfg = load_text(tmp_path, with_layers("{type: Dense, units: 1, initializer: he_normal}",
                                          extra="  initializer: lecun_uniform\n")).config
    assert cfg.model.initializer.name == "lecun_uniform"
    assert cfg.model.layers[0].initializer.name == "he_normal"
    assert cfg.model.layers[0].initializer.keras_class() == "HeNormal"


def test_initializer_as_a_mapping(tmp_path):
    init = load_text(tmp_path, with_layers("{type: Dense, units: 1}", extra=(
        "  initializer: {name: random_normal, mean: 0.1, stddev: 0.05, seed: 7}\n"))).config.model.initializer
    assert init.keras_class() == "RandomNormal"
    assert init.keras_kwargs() == {"mean": 0.1, "stddev": 0.05, "seed": 7}


@pytest.mark.parametrize("alias, keras_class", [("xavier_uniform", "GlorotUniform"),
                                                ("xavier_normal", "GlorotNormal")])
def test_xavier_aliases(tmp_path, alias, keras_class):
    init = load_text(tmp_path, with_layers("{type: Dense, units: 1}", extra=f"  initializer: {alias}\n"))
    assert init.config.model.initializer.name == alias
    assert init.config.model.initializer.keras_class() == keras_class


def test_initializer_argument_error_points_at_the_argument(tmp_path):
    text = with_layers("{type: Dense, units: 1}", extra=(
        "  initializer:\n    name: random_uniform\n    minval: 0.5\n    maxval: 0.1\n"))
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, text)
    assert problems(exc) == [("cfg.yaml", line_of(text, "maxval"), "model.initializer.maxval",
                              "random_uniform needs minval < maxval, got 0.5 >= 0.1")]


def test_optimizer_as_a_string(tmp_path):
    opt = load_text(tmp_path, with_layers("{type: Dense, units: 1}").replace(
        "  loss: mse\n", "  loss: mse\n  optimizer: rmsprop\n")).config.compile.optimizer
    assert (opt.name, opt.learning_rate, opt.keras_kwargs()) == ("rmsprop", None, {})


def test_optimizer_default_is_adam(tmp_path):
    assert load_text(tmp_path, with_layers("{type: Dense, units: 1}")).config.compile.optimizer.name == "adam"


def test_optimizer_as_a_mapping(tmp_path):
    opt = load_text(tmp_path, with_layers("{type: Dense, units: 1}").replace("  loss: mse\n", (
        "  loss: mse\n  optimizer: {name: sgd, learning_rate: 0.05, momentum: 0.9, nesterov: true, clipnorm: 1}\n"
    ))).config.compile.optimizer
    assert opt.learning_rate == 0.05
    assert opt.keras_kwargs() == {"momentum": 0.9, "nesterov": True, "clipnorm": 1.0}


def test_optimizer_two_clipping_arguments_point_at_the_second(tmp_path):
    text = with_layers("{type: Dense, units: 1}").replace("  loss: mse\n", (
        "  loss: mse\n  optimizer:\n    name: adam\n    clipnorm: 1.0\n    clipvalue: 0.5\n"))
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, text)
    assert problems(exc) == [("cfg.yaml", line_of(text, "clipvalue"), "compile.optimizer.clipvalue",
                              "set only one of clipnorm, clipvalue and global_clipnorm")]


SCHEDULES = [
    pytest.param("{schedule: exponential_decay, initial_learning_rate: 0.1, decay_steps: 100, decay_rate: 0.5}",
                 "ExponentialDecay", {"staircase": False}, id="exponential_decay"),
    pytest.param("{schedule: cosine_decay, initial_learning_rate: 0.1, warmup_target: 0.5, warmup_steps: 10}",
                 "CosineDecay", {"decay_steps": "auto", "alpha": 0.0}, id="cosine_decay"),
    pytest.param("{schedule: piecewise_constant, boundaries: [10, 20], values: [0.1, 0.01, 0.001]}",
                 "PiecewiseConstant", {"boundaries": [10, 20], "values": [0.1, 0.01, 0.001]}, id="piecewise_constant"),
    pytest.param("{schedule: linear_warmup, learning_rate: 0.01, warmup_steps: 50}",
                 "LinearWarmup", {"warmup_steps": 50}, id="linear_warmup"),
    pytest.param("{schedule: one_cycle, max_learning_rate: 0.02}",
                 "OneCycle", {"total_steps": "auto", "pct_start": 0.3, "div_factor": 25.0}, id="one_cycle"),
]


@pytest.mark.parametrize("written, kind, fields", SCHEDULES)
def test_every_schedule_kind_parses(tmp_path, written, kind, fields):
    text = with_layers("{type: Dense, units: 1}").replace(
        "  loss: mse\n", f"  loss: mse\n  optimizer:\n    name: adam\n    learning_rate: {written}\n")
    lr = load_text(tmp_path, text).config.compile.optimizer.learning_rate
    assert type(lr).__name__ == kind
    for key, value in fields.items():
        assert getattr(lr, key) == value, key


def test_learning_rate_number(tmp_path):
    text = with_layers("{type: Dense, units: 1}").replace(
        "  loss: mse\n", "  loss: mse\n  optimizer: {name: adam, learning_rate: 3e-4}\n")
    lr = load_text(tmp_path, text).config.compile.optimizer.learning_rate
    assert lr == pytest.approx(3e-4) and isinstance(lr, float)


def test_learning_rate_must_be_positive(tmp_path):
    text = with_layers("{type: Dense, units: 1}").replace(
        "  loss: mse\n", "  loss: mse\n  optimizer:\n    name: adam\n    learning_rate: -0.1\n")
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, text)
    (found,) = problems(exc)
    assert found[:3] == ("cfg.yaml", line_of(text, "learning_rate"), "compile.optimizer.learning_rate")
    assert "greater than 0" in found[3] and "-0.1" in found[3]


# --- extends --------------------------------------------------------------------------------------

BASE = """\
experiment:
  name: base
  tags: [base, shared]
dataset:
  name: xor
  samples: 500
model:
  layers:
    - {type: Dense, units: 8, activation: tanh}
    - {type: Dense, units: 1, activation: sigmoid}
compile:
  loss: binary_crossentropy
  optimizer: {name: adam, learning_rate: 0.01}
training:
  epochs: 30
  batch_size: 64
"""


def test_extends_deep_merges_sections(tmp_path):
    write(tmp_path / "base.yaml", BASE)
    cfg = load_text(tmp_path, "extends: base.yaml\nexperiment:\n  name: child\ntraining:\n  epochs: 3\n",
                    name="child.yaml").config
    assert (cfg.training.epochs, cfg.training.batch_size) == (3, 64)
    assert cfg.experiment.name == "child"
    assert cfg.experiment.tags == ["base", "shared"]  # kept from the base: the child did not write tags
    assert (cfg.dataset.name, cfg.dataset.samples) == ("xor", 500)
    assert cfg.compile.optimizer.learning_rate == 0.01


def test_extends_replaces_lists_whole(tmp_path):
    write(tmp_path / "base.yaml", BASE)
    cfg = load_text(tmp_path, "extends: base.yaml\nexperiment:\n  tags: [child]\nmodel:\n  layers:\n"
                              "    - {type: Dense, units: 1}\n", name="child.yaml").config
    assert cfg.experiment.tags == ["child"]
    assert [(layer.type, layer.units, layer.activation) for layer in cfg.model.layers] == [("Dense", 1, None)]
    assert cfg.experiment.name == "base"  # the base's name, not the child file's stem


def test_extends_errors_point_into_the_file_that_wrote_them(tmp_path):
    base_text = BASE.replace("units: 8", "units: 0").replace("batch_size: 64", "batch_size: 0")
    write(tmp_path / "base.yaml", base_text)
    child_text = "extends: base.yaml\ntraining:\n  epochs: -1\n"
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, child_text, name="child.yaml")
    assert sorted(problems(exc)) == sorted([
        ("base.yaml", line_of(base_text, "units: 0"), "model.layers[0].units", "must be greater than 0, got 0"),
        ("base.yaml", line_of(base_text, "batch_size"), "training.batch_size", "must be greater than 0, got 0"),
        ("child.yaml", line_of(child_text, "epochs"), "training.epochs", "must be greater than 0, got -1"),
    ])


def test_extends_child_value_fixes_a_base_value(tmp_path):
    write(tmp_path / "base.yaml", BASE.replace("epochs: 30", "epochs: 0"))
    assert load_text(tmp_path, "extends: base.yaml\ntraining: {epochs: 2}\n",
                     name="child.yaml").config.training.epochs == 2


def test_extends_is_relative_to_the_file_not_the_working_folder(tmp_path, monkeypatch):
    write(tmp_path / "shared" / "base.yaml", BASE.replace("  name: xor\n  samples: 500\n",
                                                          "  name: csv\n  path: data/table.csv\n"))
    child = write(tmp_path / "experiments" / "one" / "child.yaml", "extends: ../../shared/base.yaml\n")
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    cfg = load_config(Path("..") / "experiments" / "one" / "child.yaml").config
    assert cfg.model.layers[0].units == 8
    # A relative data path is relative to the file that wrote it, too.
    assert cfg.dataset.path == str((tmp_path / "shared" / "data" / "table.csv").resolve())
    assert child.is_file()


def test_extends_list_of_bases_later_wins(tmp_path):
    write(tmp_path / "base.yaml", BASE)
    write(tmp_path / "fast.yaml", "training:\n  epochs: 1\n")
    cfg = load_text(tmp_path, "extends: [base.yaml, fast.yaml]\n", name="child.yaml").config
    assert (cfg.training.epochs, cfg.training.batch_size) == (1, 64)


def test_missing_top_level_section_names_the_file(tmp_path):
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, "experiment: {name: t}\ndataset: {name: xor}\n")
    assert problems(exc) == [("cfg.yaml", None, "model", "required key 'model' is missing"),
                             ("cfg.yaml", None, "compile", "required key 'compile' is missing")]
    assert str(exc.value).splitlines()[1] == f"{tmp_path / 'cfg.yaml'}: model: required key 'model' is missing"


# --- --set ----------------------------------------------------------------------------------------

MNIST_CNN = ROOT / "configs" / "mnist_cnn.yaml"


def test_set_nested_key_parsed_as_yaml():
    cfg = load_config(MNIST_CNN, ["training.epochs=3", "experiment.tags=[a, b]", "dataset.flatten=yes"]).config
    assert cfg.training.epochs == 3
    assert cfg.experiment.tags == ["a", "b"]
    assert cfg.dataset.flatten is True


def test_set_list_item():
    before = load_config(MNIST_CNN).config.model.layers[5]
    assert (before.type, before.rate) == ("Dropout", 0.5)
    assert load_config(MNIST_CNN, ["model.layers.5.rate=0.3"]).config.model.layers[5].rate == 0.3


def test_set_whole_mapping():
    reg = load_config(MNIST_CNN, ["model.regularization={l2: 0.01}"]).config.model.regularization
    assert (reg.l1, reg.l2, reg.dropout, reg.batch_norm) == (0.0, 0.01, 0.0, False)


def test_set_creates_a_section_the_file_left_out(tmp_path):
    text = with_layers("{type: Dense, units: 1}")
    assert "training" not in text
    cfg = load_text(tmp_path, text, ["training.epochs=3", "training.callbacks.early_stopping={patience: 1}"]).config
    assert (cfg.training.epochs, cfg.training.batch_size) == (3, 32)
    assert cfg.training.callbacks.early_stopping.patience == 1


def test_set_is_applied_after_extends(tmp_path):
    write(tmp_path / "base.yaml", BASE)
    cfg = load_text(tmp_path, "extends: base.yaml\ntraining: {epochs: 5}\n", ["training.epochs=7"],
                    name="child.yaml").config
    assert (cfg.training.epochs, cfg.training.batch_size) == (7, 64)


def test_set_error_is_located_at_the_override():
    with pytest.raises(ConfigError) as exc:
        load_config(MNIST_CNN, ["training.epochs=0"])
    (problem,) = exc.value.problems
    assert str(problem.location) == "--set training.epochs=0"
    assert (problem.path, problem.message) == ("training.epochs", "must be greater than 0, got 0")


def test_set_unknown_key_suggests_the_nearest():
    with pytest.raises(ConfigError) as exc:
        load_config(MNIST_CNN, ["training.epoch=3"])
    (problem,) = exc.value.problems
    assert str(problem.location) == "--set training.epoch=3"
    assert problem.message == "unknown key 'epoch' (did you mean 'epochs'?)"


# --- the resolved config --------------------------------------------------------------------------

GRAPH = HEAD.replace("  name: xor\n", "  name: xor\n  validation_split: 0.2\n") + """\
model:
  inputs:
    - {name: left_in, shape: [2]}
    - {name: right_in, shape: [null, 2]}
  layers:
    - {type: Dense, units: 4, activation: relu, name: left, inputs: left_in}
    - {type: Flatten, inputs: right_in}
    - {type: Dense, units: 4, activation: relu, name: right}
    - {type: Concatenate, inputs: [left, right], name: both}
    - {type: Dense, units: 1, activation: sigmoid, name: score}
    - {type: Bidirectional, layer: {type: lstm, units: 2}, merge_mode: null, inputs: right_in, name: seq}
  outputs: [score, seq]
"""
RICH = GRAPH.replace("  loss: mse\n", """\
  loss: mse
  optimizer:
    name: adamw
    learning_rate: {schedule: cosine_decay, initial_learning_rate: 0.001, warmup_target: 0.01, warmup_steps: 5}
    clipnorm: 1.0
""") + """\
training:
  epochs: 4
  callbacks:
    early_stopping: {patience: 2}
    checkpoint: {monitor: val_loss}
"""


@pytest.mark.parametrize("source", [*EXAMPLES, "graph"], ids=[*(p.stem for p in EXAMPLES), "graph"])
def test_resolved_config_round_trips(tmp_path, source):
    path = source if source != "graph" else write(tmp_path / "graph.yaml", RICH)
    loaded = load_config(path)
    again = load_config(write(tmp_path / "resolved.yaml", loaded.to_yaml()))
    assert again.config == loaded.config.model_copy(update={"sweep": None})  # a run holds one point
    assert again.to_yaml() == loaded.to_yaml()


def test_resolved_config_has_defaults_filled(tmp_path):
    resolved = yaml.safe_load(load_config(MNIST_CNN).to_yaml())
    assert resolved["training"]["shuffle"] is True
    assert resolved["training"]["steps_per_execution"] == 1
    assert resolved["training"]["callbacks"]["tensorboard"]["update_freq"] == "epoch"
    assert resolved["dataset"]["scale"] == "auto"
    assert resolved["model"]["initializer"] == {"name": "glorot_uniform"}
    assert resolved["model"]["regularization"] == {"l1": 0.0, "l2": 0.0, "dropout": 0.0, "batch_norm": False}
    assert resolved["compile"]["optimizer"] == {"name": "adam"}
    assert resolved["model"]["layers"][0]["padding"] == "valid"
    assert "validation_size" not in resolved["dataset"]  # None defaults are left out, not written as null


def test_resolved_config_keeps_an_explicit_null(tmp_path):
    resolved = yaml.safe_load(load_config(write(tmp_path / "g.yaml", GRAPH)).to_yaml())
    assert resolved["model"]["layers"][5]["merge_mode"] is None
    assert resolved["model"]["inputs"][1]["shape"] == [None, 2]


def test_config_is_frozen():
    cfg = load_config(MNIST_CNN).config
    with pytest.raises(ValidationError, match="frozen"):
        cfg.training.epochs = 5
    with pytest.raises(ValidationError, match="frozen"):
        cfg.model.layers[0].filters = 3
    with pytest.raises(ValidationError, match="frozen"):
        cfg.experiment = None
    assert cfg.training.epochs == 12 and cfg.model.layers[0].filters == 32


# --- graph form -----------------------------------------------------------------------------------

def test_graph_form_validates(tmp_path):
    model = load_config(write(tmp_path / "g.yaml", GRAPH)).config.model
    assert model.is_sequential is False
    assert [i.name for i in model.inputs] == ["left_in", "right_in"]
    assert model.node_names() == ["left", "layer_1_flatten", "right", "both", "score", "seq"]
    assert model.layers[3].type == "Concatenate" and model.layers[3].inputs == ["left", "right"]
    assert model.layers[0].inputs == ["left_in"]  # a single name is a list of one
    assert model.outputs == ["score", "seq"]
    assert model.wiring_problems() == []


def test_plain_stack_is_sequential(tmp_path):
    model = load_text(tmp_path, with_layers("{type: Dense, units: 4}", "{type: Dense, units: 1}")).config.model
    assert model.is_sequential is True
    assert model.node_names() == ["layer_0_dense", "layer_1_dense"]


def test_outputs_alone_make_a_graph(tmp_path):
    model = load_text(tmp_path, with_layers("{type: Dense, units: 4, name: h}", "{type: Dense, units: 1}",
                                            extra="  outputs: [h]\n")).config.model
    assert model.is_sequential is False


def test_graph_reading_a_later_layer_is_an_error(tmp_path):
    text = with_layers("{type: Dense, units: 4, inputs: later}", "{type: Dense, units: 1, name: later}")
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, text)
    assert problems(exc) == [("cfg.yaml", line_of(text, "inputs: later"), "model.layers[0].inputs",
                              "no node named 'later' before this layer (layers can only read nodes defined above "
                              "them)")]


def test_merge_layer_needs_two_inputs(tmp_path):
    text = with_layers("{type: Dense, units: 4, name: a}", "{type: Add, inputs: [a]}")
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, text)
    assert problems(exc) == [("cfg.yaml", line_of(text, "inputs: [a]"), "model.layers[1].inputs",
                              "Add merges two or more nodes, got 1")]


# --- all errors of a file at once, in file order ----------------------------------------------------

def test_all_errors_reported_together_in_line_order(tmp_path):
    text = with_layers("{type: Dense, units: 0}", "{type: Dropout, rate: 2}", "{type: Dens, units: 1}",
                       extra="training:\n  epoch: 3\n  batch_size: -1\n").replace("name: xor", "name: xro")
    with pytest.raises(ConfigError) as exc:
        load_text(tmp_path, text)
    found = problems(exc)
    assert [(line, path) for _, line, path, _ in found] == [
        (line_of(text, "xro"), "dataset.name"),
        (line_of(text, "units: 0"), "model.layers[0].units"),
        (line_of(text, "rate: 2"), "model.layers[1].rate"),
        (line_of(text, "Dens,"), "model.layers[2].type"),
        (line_of(text, "epoch:"), "training.epoch"),
        (line_of(text, "batch_size"), "training.batch_size"),
    ]
    assert str(exc.value).startswith("6 problems in the config:\n")
    assert "did you mean 'xor'?" in found[0][3] and "did you mean 'Dense'?" in found[3][3]


# --- the CLI without TensorFlow ---------------------------------------------------------------------

def run(*args, **kw) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=ROOT, timeout=120, **kw)


def test_schema_is_json_with_a_description_on_every_field():
    result = run("-m", "expkit", "schema")
    assert result.returncode == 0, result.stderr
    schema = json.loads(result.stdout)
    assert set(schema["properties"]) == {"experiment", "dataset", "model", "compile", "training", "sweep", "tracking"}
    assert set(schema["required"]) == {"experiment", "dataset", "model", "compile"}
    assert schema["$defs"]["Dense"]["properties"]["units"]["description"] == "Number of output units."
    undocumented, seen = [], []

    def walk(node, where):
        if isinstance(node, dict):
            for name, prop in (node.get("properties") or {}).items():
                seen.append(f"{where}.{name}")
                if not str(prop.get("description", "")).strip():
                    undocumented.append(f"{where}.{name}")
            for key, value in node.items():
                walk(value, f"{where}/{key}")
        elif isinstance(node, list):
            for i, value in enumerate(node):
                walk(value, f"{where}[{i}]")

    walk(schema, "#")
    assert len(seen) > 200, len(seen)  # the walk really reached every section and layer
    assert "#/$defs/Dense.units" in seen and "#/$defs/TrainingConfig.epochs" in seen
    assert undocumented == []


def test_help_exits_0():
    result = run("-m", "expkit", "--help")
    assert result.returncode == 0, result.stderr
    for command in ("train", "validate", "summary", "schema"):
        assert command in result.stdout
    assert result.stdout.startswith("usage: expkit")


def test_validate_and_schema_do_not_import_tensorflow():
    code = textwrap.dedent("""
        import contextlib, io, json, sys
        from expkit.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            codes = [main(["validate", "configs/mnist_cnn.yaml"]), main(["schema"])]
        print(json.dumps({"codes": codes, "valid": "configs/mnist_cnn.yaml: valid" in out.getvalue(),
                          "tensorflow": "tensorflow" in sys.modules, "keras": "keras" in sys.modules}))
    """)
    result = run("-c", code)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"codes": [0, 0], "valid": True, "tensorflow": False, "keras": False}
