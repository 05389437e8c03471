"""Bad input through the real CLI: `expkit train` must exit 2 with a located message and no traceback.

Each case writes a YAML file, runs `python -m expkit train` in a subprocess (the model-building cases,
past TensorFlow's import, run the CLI's `main` in this process) and checks:
the exit code is 2; stderr holds the expected fragments and `file:LINE:` of the offending key
(the line is found in the text the case wrote, never typed in by hand); there is no traceback;
the runs folder is absent or empty (no run was started, let alone completed).

Config errors must be found before TensorFlow is imported: those cases run with a `tensorflow`
and a `keras` package on PYTHONPATH that raise on import, so a config error that reached
TensorFlow fails the test instead of passing slowly.
"""
from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.conftest import expkit_in_process

ROOT = Path(__file__).resolve().parents[1]

# A valid config; every case below breaks it in one place (test_base_config_is_valid guards it).
VALID = """\
experiment:
  name: bad_input
  seed: 0
dataset:
  name: mnist
  validation_split: 0.1
model:
  layers:
    - type: Flatten
    - type: Dense
      units: 32
      activation: relu
    - type: Dropout
      rate: 0.2
    - type: Dense
      units: 10
      activation: softmax
compile:
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
  optimizer: adam
training:
  epochs: 1
  batch_size: 32
"""


def variant(*replacements: tuple[str, str], text: str = VALID) -> str:
    """VALID with each `old` (which must occur exactly once) replaced by `new`."""
    for old, new in replacements:
        assert text.count(old) == 1, f"{old!r} occurs {text.count(old)} times"
        text = text.replace(old, new)
    return text


def line_of(text: str, snippet: str) -> int:
    """1-based line where `snippet` (which must occur exactly once) starts."""
    assert text.count(snippet) == 1, f"{snippet!r} occurs {text.count(snippet)} times in the case's YAML"
    return text[:text.index(snippet)].count("\n") + 1


@dataclass
class Case:
    yaml: str | None  # None: the config file is not written at all
    expect: tuple[str, ...]  # fragments of stderr; "{L:snippet}" becomes the line of `snippet` in `yaml`
    at: tuple = ()  # snippets (or (file name, snippet)) whose `file:LINE:` must appear in stderr
    where: tuple[str, ...] = ()  # exact location prefixes that are not file lines (--set, file only)
    args: tuple[str, ...] = ()
    files: dict[str, str] = field(default_factory=dict)  # more files next to the config (extends)
    absent: tuple[str, ...] = ()  # fragments that must NOT be in stderr


def case(id_: str, yaml: str | None, *expect: str, **kw) -> pytest.param:
    return pytest.param(Case(yaml, expect, **kw), id=id_)


def lines(*snippets) -> tuple:
    return snippets


SGD_BETA = variant(("  optimizer: adam\n", "  optimizer:\n    name: sgd\n    momentum: 0.9\n    beta_1: 0.9\n"))
BAD_SCHEDULE = variant(("  optimizer: adam\n", """\
  optimizer:
    name: adam
    learning_rate:
      schedule: cosine_dacay
      initial_learning_rate: 0.01
"""))
PIECEWISE = variant(("  optimizer: adam\n", """\
  optimizer:
    name: sgd
    learning_rate:
      schedule: piecewise_constant
      boundaries: [100, 200]
      values: [0.1, 0.01]
"""))
INIT_MINVAL = variant(("model:\n", """\
model:
  initializer:
    name: random_normal
    stddev: 0.05
    minval: -1.0
"""))
PLATEAU_SCHEDULE = variant(
    ("  optimizer: adam\n", """\
  optimizer:
    name: adam
    learning_rate: {schedule: exponential_decay, initial_learning_rate: 0.01, decay_steps: 100, decay_rate: 0.9}
"""),
    ("  batch_size: 32\n", "  batch_size: 32\n  callbacks:\n    reduce_lr_on_plateau:\n      monitor: loss\n"))
EARLY_NO_VAL = variant(("  validation_split: 0.1\n", "  validation_split: 0\n"),
                       ("  batch_size: 32\n", "  batch_size: 32\n  callbacks:\n    early_stopping:\n"
                                              "      monitor: val_loss\n      patience: 2\n"))
GRAPH_TYPO = variant(("  validation_split: 0.1\n", "  validation_split: 0.1\n  flatten: true\n"), ("""\
  layers:
    - type: Flatten
    - type: Dense
      units: 32
      activation: relu
""", """\
  inputs:
    - name: pixels
  layers:
    - {type: Dense, units: 32, activation: relu, name: left, inputs: pixels}
    - {type: Dense, units: 32, activation: relu, name: right, inputs: pixles}
    - {type: Concatenate, inputs: [left, right]}
"""))
SEVERAL = variant(("      units: 32\n", "      units: 0\n"), ("      rate: 0.2\n", "      rate: 1.5\n"),
                  ("  epochs: 1\n", "  epoch: 1\n"), ("  name: mnist\n", "  name: mnsit\n"))
EXTENDS_CHILD = "extends: b.yaml\nexperiment:\n  name: child\n"

CONFIG_CASES = [
    # --- the file itself ---
    case("yaml-bad-indentation", variant(("dataset:\n  name: mnist", " dataset:\n  name: mnist")),
         "invalid YAML", "while parsing a block mapping", "did not find expected key", at=lines(" dataset:")),
    case("yaml-unclosed-bracket", variant(("metrics: [accuracy]", "metrics: [accuracy")),
         "invalid YAML", "while parsing a flow sequence (started at line {L:[accuracy}",
         "expected ',' or ']'", at=lines("  optimizer: adam")),
    case("yaml-tab-indent", variant(("  seed: 0\n", "\tseed: 0\n")),
         "invalid YAML", "found a tab character that violates indentation", at=lines("\tseed")),
    case("empty-file", "", "the file is empty", "experiment, dataset, model and compile", at=lines(1)),
    case("only-a-comment", "# TODO: write the experiment\n", "the file is empty", at=lines(1)),
    case("top-level-list", "- experiment\n- dataset\n",
         "the top level must be a mapping of sections", "got list", at=lines(1)),
    case("python-apply-tag", variant(("  seed: 0\n", "  seed: 0\n  description: !!python/object/apply:os.system "
                                                  "['touch $TMP/pwned']\n")),
         "experiment.description: YAML tag 'tag:yaml.org,2002:python/object/apply:os.system' is not allowed",
         at=lines("!!python")),
    case("python-name-tag", variant(("  seed: 0\n", "  seed: !!python/name:os.system\n")),
         "invalid YAML: could not determine a constructor for the tag 'tag:yaml.org,2002:python/name:os.system'",
         at=lines("!!python")),
    case("duplicate-key", variant(("  batch_size: 32\n", "  batch_size: 32\n  epochs: 3\n")),
         "training.epochs: duplicate key 'epochs' (first written at line {L:epochs: 1}); keep one",
         at=lines("epochs: 3")),
    case("missing-config-file", None, "config file not found: $CFG"),
    # --- unknown names ---
    case("unknown-section-trainig", variant(("training:\n", "trainig:\n")),
         "trainig: unknown key 'trainig' (did you mean 'training'?)", at=lines("trainig:")),
    case("unknown-key-epoch", variant(("  epochs: 1\n", "  epoch: 1\n")),
         "training.epoch: unknown key 'epoch' (did you mean 'epochs'?)", at=lines("epoch:")),
    case("unknown-layer-key-unit", variant(("      units: 32\n", "      unit: 32\n")),
         "model.layers[1].unit: unknown key 'unit' (did you mean 'units'?)",
         "model.layers[1].units: required key 'units' is missing", at=lines("unit: 32", "    - type: Dense\n      unit: 32")),
    case("missing-section-compile", variant(("""\
compile:
  loss: sparse_categorical_crossentropy
  metrics: [accuracy]
  optimizer: adam
""", "")), "compile: required key 'compile' is missing", where=("$CFG: compile:",)),
    case("layer-type-Dens", variant(("    - type: Dense\n      units: 32", "    - type: Dens\n      units: 32")),
         "model.layers[1].type: unknown layer type 'Dens' (did you mean 'Dense'?)", at=lines("type: Dens\n")),
    case("layer-without-type", variant(("    - type: Flatten\n", "    - name: flat\n")),
         "model.layers[0]: each layer needs a 'type', e.g. type: Dense", at=lines("name: flat")),
    case("bidirectional-of-dense", variant(("    - type: Flatten\n", "    - type: Bidirectional\n"
                                            "      layer: {type: Dense, units: 4}\n")),
         "model.layers[0].layer.type: Bidirectional wraps a recurrent layer (ConvLSTM1D, ConvLSTM2D, ConvLSTM3D, GRU, LSTM, SimpleRNN), got 'Dense'",
         at=lines("layer: {type"), absent=("did you mean",)),
    case("activation-rleu", variant(("activation: relu", "activation: rleu")),
         "model.layers[1].activation: must be one of", "got 'rleu' (did you mean 'relu'?)",
         at=lines("activation: rleu")),
    case("optimizer-adm", variant(("optimizer: adam", "optimizer: adm")),
         "compile.optimizer: must be one of 'sgd', 'adam'", "got 'adm' (did you mean 'adam'?)",
         at=lines("optimizer: adm")),
    case("schedule-cosine_dacay", BAD_SCHEDULE,
         "compile.optimizer.learning_rate.schedule: unknown schedule 'cosine_dacay' (did you mean 'cosine_decay'?)",
         at=lines("schedule: cosine_dacay"), absent=("valid number",)),
    case("initializer-he_normall", variant(("      units: 32\n", "      units: 32\n      initializer: he_normall\n")),
         "model.layers[1].initializer: must be one of", "got 'he_normall' (did you mean 'he_normal'?)",
         at=lines("initializer: he_normall")),
    case("dataset-mnsit", variant(("  name: mnist\n", "  name: mnsit\n")),
         "dataset.name: unknown dataset 'mnsit' (did you mean 'mnist'?)", at=lines("mnsit")),
    # --- bad values: units like Keras' dense_test (zero, negative, float, string, None) ---
    case("units-0", variant(("units: 32", "units: 0")),
         "model.layers[1].units: must be greater than 0, got 0", at=lines("units: 0")),
    case("units-negative", variant(("units: 32", "units: -3")),
         "model.layers[1].units: must be greater than 0, got -3", at=lines("units: -3")),
    case("units-float", variant(("units: 32", "units: 2.5")),
         "model.layers[1].units: must be a whole number, got 2.5", at=lines("units: 2.5")),
    case("units-string", variant(("units: 32", "units: many")),
         "model.layers[1].units: must be a valid integer", "got 'many'", at=lines("units: many")),
    case("layers-empty", variant(("""  layers:
    - type: Flatten
    - type: Dense
      units: 32
      activation: relu
    - type: Dropout
      rate: 0.2
    - type: Dense
      units: 10
      activation: softmax
""", "  layers: []\n")),
         "model.layers: must have at least 1 item(s), got 0", at=lines("layers: []")),
    case("units-null", variant(("units: 32", "units: null")),
         "model.layers[1].units: a value is required here, got an empty value (null); expected a valid integer",
         at=lines("units: null")),
    case("dropout-rate-1.5", variant(("rate: 0.2", "rate: 1.5")),
         "model.layers[2].rate: must be less than 1, got 1.5", at=lines("rate: 1.5")),
    case("dropout-rate-negative", variant(("rate: 0.2", "rate: -0.1")),
         "model.layers[2].rate: must be greater than or equal to 0, got -0.1", at=lines("rate: -0.1")),
    case("epochs-0", variant(("epochs: 1", "epochs: 0")),
         "training.epochs: must be greater than 0, got 0", at=lines("epochs: 0")),
    case("batch-size-0", variant(("batch_size: 32", "batch_size: 0")),
         "training.batch_size: must be greater than 0, got 0", at=lines("batch_size: 0")),
    # --- arguments that do not belong ---
    case("sgd-with-beta_1", SGD_BETA,
         "compile.optimizer.beta_1: optimizer 'sgd' does not take beta_1; it takes learning_rate, momentum",
         at=lines("beta_1")),
    case("piecewise-values-count", PIECEWISE,
         "compile.optimizer.learning_rate.values: piecewise_constant needs one more value than boundaries, "
         "got 2 boundaries and 2 values", at=lines("values:"), absent=("valid number", "problems in the config")),
    case("random_normal-with-minval", INIT_MINVAL,
         "model.initializer.minval: initializer 'random_normal' does not take minval; it takes mean, seed, stddev",
         at=lines("minval")),
    case("file-dataset-without-path", variant(("  name: mnist\n", "  name: csv\n")),
         "dataset 'csv' reads a file: set dataset.path to it", at=lines("dataset:")),
    # --- settings that are each valid but do not work together ---
    case("categorical-loss-sparse-labels", variant(("loss: sparse_categorical_crossentropy",
                                                     "loss: categorical_crossentropy")),
         "compile.loss: categorical_crossentropy needs one-hot labels, but dataset.labels is sparse",
         at=lines("loss: categorical")),
    case("plateau-with-schedule", PLATEAU_SCHEDULE,
         "training.callbacks.reduce_lr_on_plateau: cannot change a learning-rate schedule",
         at=lines("reduce_lr_on_plateau")),
    case("early-stopping-without-validation", EARLY_NO_VAL,
         "training.callbacks.early_stopping.monitor: watches 'val_loss' but there is no validation split",
         at=lines("monitor: val_loss")),
    case("inputs-unknown-node", GRAPH_TYPO,
         "model.layers[1].inputs: no node named 'pixles' before this layer (did you mean 'pixels'?)",
         at=lines("inputs: pixles")),
    # --- extends ---
    case("extends-missing-file", variant(("experiment:\n", "extends: nowhere/base.yaml\nexperiment:\n")),
         "extends: base config 'nowhere/base.yaml' not found (looked for $TMP/nowhere/base.yaml)",
         at=lines("extends:")),
    case("extends-cycle", EXTENDS_CHILD, "extends: 'cfg.yaml' extends itself through cfg.yaml -> b.yaml",
         files={"b.yaml": "dataset:\n  name: mnist\nextends: cfg.yaml\n"}, at=lines(("b.yaml", "extends:"))),
    # --- --set ---
    case("set-list-index-out-of-range", VALID, "model.layers[9]: no item 9 in a list of 4 (items are numbered from 0)",
         args=("--set", "model.layers.9.rate=0.3"), where=("--set model.layers.9.rate=0.3: ",)),
    case("set-without-equals", VALID, "expected KEY.PATH=VALUE", args=("--set", "training.epochs"),
         where=("--set training.epochs: ",)),
    case("set-epochs-0", VALID, "training.epochs: must be greater than 0, got 0",
         args=("--set", "training.epochs=0"), where=("--set training.epochs=0: ",)),
    case("set-value-not-yaml", VALID, "training.epochs: the value is not valid YAML",
         args=("--set", "training.epochs=[1"), where=("--set training.epochs=[1: ",)),
    # --- sizes that would allocate absurd memory, refused before anything is allocated ---
    case("samples-1e15", variant(("  name: mnist\n", "  name: xor\n  samples: 1.0e+15\n")),
         "dataset.samples: 1,000,000,000,000,000 samples of 'xor' need about 96.0 PB, more than this machine's",
         "use fewer samples", at=lines("samples: 1.0e+15")),
    # --- all at once ---
    case("several-errors-at-once", SEVERAL, "4 problems in the config",
         "must be greater than 0, got 0", "must be less than 1, got 1.5", "did you mean 'epochs'?",
         "did you mean 'mnist'?", at=lines("units: 0", "rate: 1.5", "epoch: 1", "mnsit")),
]


@pytest.fixture(scope="module")
def no_tensorflow(tmp_path_factory) -> dict[str, str]:
    """Environment in which importing tensorflow or keras raises: config errors must not need them."""
    stubs = tmp_path_factory.mktemp("stubs")
    for package in ("tensorflow", "keras"):
        (stubs / package).mkdir()
        (stubs / package / "__init__.py").write_text(
            f"raise ImportError('{package} was imported while checking a config')\n")
    return {"PYTHONPATH": os.pathsep.join(filter(None, [str(stubs), os.environ.get("PYTHONPATH")]))}


def expkit(*args, env: dict | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "expkit", *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, cwd=ROOT, env={**os.environ, **(env or {})})


def assert_no_run(runs: Path) -> None:
    """No run folder: bad input is found before the run folder is made."""
    if runs.exists():
        completed = [p for p in runs.rglob("run.json") if json.loads(p.read_text()).get("status") == "completed"]
        assert not completed, f"a run claims success: {completed}"
        assert not any(runs.iterdir()), f"bad input left files behind: {list(runs.iterdir())}"


def check_bad_input(result, cfg: Path, text: str | None, expect, at=(), where=(), absent=(), tmp: Path = None,
                    tensorflow: bool = False):
    err = result.stderr
    assert result.returncode == 2, f"exit {result.returncode}, stderr:\n{err}"
    assert "Traceback" not in err, err
    if tensorflow:
        # TensorFlow 2.21 prints start-up lines (oneDNN, CUDA) that TF_CPP_MIN_LOG_LEVEL does not
        # silence; the error must still be the last thing printed.
        assert err.rstrip().splitlines()[-1].startswith("error: "), err
    else:
        assert err.startswith("error: "), err
    subst = {"$CFG": str(cfg), "$TMP": str(tmp)}

    def fill(fragment: str) -> str:
        for key, value in subst.items():
            fragment = fragment.replace(key, value)
        return re.sub(r"\{L:(.+?)\}", lambda m: str(line_of(text, m.group(1))), fragment)

    for fragment in expect:
        assert fill(fragment) in err, f"{fill(fragment)!r} not in stderr:\n{err}"
    for fragment in absent:
        assert fragment not in err, f"{fragment!r} should not be in stderr:\n{err}"
    for spot in at:
        if isinstance(spot, int):
            file, line = cfg, spot
        elif isinstance(spot, tuple):
            file = cfg.parent / spot[0]
            line = line_of(file.read_text(), spot[1])
        else:
            file, line = cfg, line_of(text, spot)
        assert f"{file}:{line}:" in err, f"{file}:{line}: not in stderr:\n{err}"
    for prefix in where:
        assert fill(prefix) in err, f"{fill(prefix)!r} not in stderr:\n{err}"


def test_base_config_is_valid(tmp_path, no_tensorflow):
    """Every case breaks VALID in one place, so VALID itself must pass."""
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(VALID)
    result = expkit("validate", cfg, env=no_tensorflow)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == f"{cfg}: valid"


def test_tensorflow_stub_is_effective(tmp_path, no_tensorflow):
    """The stubs really shadow TensorFlow: a command that builds a model fails with the stub's message."""
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(VALID)
    result = expkit("summary", cfg, env=no_tensorflow)
    assert result.returncode != 0
    assert "was imported while checking a config" in result.stderr


@pytest.mark.parametrize("bad", CONFIG_CASES)
def test_bad_config_exits_2_with_located_message(bad: Case, tmp_path, no_tensorflow):
    cfg, runs = tmp_path / "cfg.yaml", tmp_path / "runs"
    text = None if bad.yaml is None else bad.yaml.replace("$TMP", str(tmp_path))
    if text is not None:
        cfg.write_text(text)
    for name, content in bad.files.items():
        (tmp_path / name).write_text(content)
    result = expkit("train", cfg, "--runs-dir", runs, *bad.args, env=no_tensorflow)
    check_bad_input(result, cfg, text, bad.expect, bad.at, bad.where, bad.absent, tmp_path)
    assert_no_run(runs)
    assert not (tmp_path / "pwned").exists(), "a YAML tag ran a shell command"


def test_python_tag_case_would_notice_execution(tmp_path):
    """The marker the python-apply-tag case looks for is the one os.system would create."""
    text = next(p.values[0].yaml for p in CONFIG_CASES if p.id == "python-apply-tag")
    command = re.search(r"\['(.+)'\]", text).group(1).replace("$TMP", str(tmp_path))
    os.system(command)
    assert (tmp_path / "pwned").exists()


def test_case_count():
    assert len(CONFIG_CASES) + len(BUILD_CASES) + 1 >= 30
    ids = [p.id for p in CONFIG_CASES + BUILD_CASES]
    assert len(ids) == len(set(ids))


# --- Cases that need TensorFlow: the config is valid, the model or the data is not. ---

SHRUNK = variant(("""\
    - type: Flatten
    - type: Dense
      units: 32
      activation: relu
    - type: Dropout
      rate: 0.2
""", """\
    - {type: Conv2D, filters: 4, kernel_size: 3}
    - {type: MaxPooling2D, pool_size: 2}
    - {type: Conv2D, filters: 4, kernel_size: 3}
    - {type: MaxPooling2D, pool_size: 2}
    - {type: MaxPooling2D, pool_size: 2}
    - {type: Conv2D, filters: 4, kernel_size: 5}
    - {type: Flatten}
"""), ("  validation_split: 0.1\n", "  validation_split: 0.1\n  limit: 200\n"))
FIVE_CLASSES = variant(("      units: 10\n", "      units: 5\n"), ("  validation_split: 0.1\n",
                                                                 "  validation_split: 0.1\n  limit: 200\n"))

BUILD_CASES = [
    # 28 -conv3-> 26 -pool-> 13 -conv3-> 11 -pool-> 5 -pool-> 2: a 5x5 kernel does not fit a 2x2 image.
    case("conv-kernel-larger-than-image", SHRUNK,
         "model.layers[5] (Conv2D): cannot build this layer", at=lines("kernel_size: 5")),
    case("last-dense-5-units-for-10-classes", FIVE_CLASSES,
         "model.layers[3] outputs 5 values per sample", "needs 10 (the dataset has 10 classes)", "set units: 10",
         at=lines("    - type: Dense\n      units: 5")),
]


@pytest.mark.parametrize("bad", BUILD_CASES)
def test_unbuildable_model_exits_2_naming_the_layer_line(bad: Case, tmp_path):
    cfg, runs = tmp_path / "cfg.yaml", tmp_path / "runs"
    cfg.write_text(bad.yaml)
    result = expkit_in_process("train", cfg, "--runs-dir", runs)
    check_bad_input(result, cfg, bad.yaml, bad.expect, bad.at, tmp=tmp_path, tensorflow=True)
    assert_no_run(runs)


def test_missing_keras_dataset_offline_says_which_file_to_put_where(tmp_path):
    if Path("/usr/share/datasets/cifar10").exists():
        pytest.skip("this machine has a system-wide copy of cifar10")
    keras_home = tmp_path / "keras_home"
    keras_home.mkdir()
    cfg, runs = tmp_path / "cfg.yaml", tmp_path / "runs"
    cfg.write_text(variant(("  name: mnist\n", "  name: cifar10\n")))
    result = expkit("train", cfg, "--runs-dir", runs, env={"KERAS_HOME": str(keras_home), "EXPKIT_OFFLINE": "1"},
                    timeout=300)
    check_bad_input(result, cfg, None, (
        "dataset 'cifar10': not on this machine, and EXPKIT_OFFLINE=1 forbids downloading",
        "Download https://www.cs.toronto.edu/~kriz/cifar-10-python.tar.gz",
        f"save it as {keras_home / 'datasets' / 'cifar-10-batches-py-target_archive'}",
    ), tensorflow=True)
    assert_no_run(runs)
    assert not (keras_home / "datasets" / "cifar-10-batches-py-target_archive").exists()


# --- Sizes that would allocate absurd memory; folders that cannot hold runs. ---

@pytest.mark.slow
def test_units_1e12_is_refused_before_a_weight_is_allocated(tmp_path):
    """Dense(10^12) would ask TensorFlow for 8 TB; the model is first built without memory and measured."""
    cfg, runs = tmp_path / "cfg.yaml", tmp_path / "runs"
    text = variant(("units: 32", "units: 1.0e+12"), ("  validation_split: 0.1\n", "  validation_split: 0.1\n  limit: 200\n"))
    cfg.write_text(text)
    result = expkit("train", cfg, "--runs-dir", runs, timeout=300)
    check_bad_input(result, cfg, text, (
        "model.layers[1] (Dense) has 785,000,000,000,000 weights and 1,000,000,000,000 outputs per sample",
        "more than this machine's", "make the layer smaller"), at=lines("    - type: Dense\n      units: 1.0e"),
        tensorflow=True)
    assert_no_run(runs)


def test_model_size_check_uses_the_declared_memory_and_leaves_no_variable_behind(tmp_path, monkeypatch):
    """The same check in-process: a small model against 1 MB of declared memory, then against the real
    memory; the real build afterwards initializes its variables as usual."""
    from keras.src.backend.common import global_state

    from expkit.errors import BuildError
    from expkit.model.budget import check_model_size
    from expkit.model.builder import build_model
    from tests.helpers import load

    loaded = load(tmp_path, [{"type": "Dense", "units": 512}, {"type": "Dense", "units": 1}])
    cfg = loaded.config
    build = lambda: build_model(cfg, {"input": (100,)}, compile=False)  # noqa: E731
    monkeypatch.setenv("EXPKIT_MEMORY_BYTES", "1000000")
    with pytest.raises(BuildError, match=r"model.layers\[0\] \(Dense\) has 51,712 weights and 512 outputs per "
                                         r"sample; training the model needs about 1.3 MB .* more than this "
                                         r"machine's 1.0 MB of memory"):
        check_model_size(build, cfg, 32, loaded.source.locate)
    assert not global_state.get_global_attribute("uninitialized_variables")
    monkeypatch.delenv("EXPKIT_MEMORY_BYTES")
    import keras
    keras.utils.set_random_seed(3)
    plain = [w.numpy() for w in build().weights]
    keras.utils.set_random_seed(3)
    check_model_size(build, cfg, 32, loaded.source.locate)
    measured = [w.numpy() for w in build().weights]  # the measuring build drew no seed the real one needs
    assert float(abs(measured[0]).sum()) > 0 and all((p == m).all() for p, m in zip(plain, measured))


def write_npy_header(path: Path, shape: tuple, data: bytes = b"\0" * 64) -> None:
    import io

    import numpy as np
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {"descr": "<f8", "fortran_order": False, "shape": shape})
    path.write_bytes(buffer.getvalue() + data)


def test_npy_header_larger_than_the_file_is_refused_before_numpy_allocates(tmp_path):
    from expkit.data.files import check_npy_file, check_npz_file
    from expkit.errors import DataError

    bomb = tmp_path / "bomb.npy"
    write_npy_header(bomb, (10**6, 10**6))
    assert bomb.stat().st_size == 192
    with pytest.raises(DataError) as info:
        check_npy_file(bomb)
    assert str(info.value) == (f"{bomb}: its header declares an array of shape (1000000, 1000000) and dtype float64 "
                               "(8.0 TB), but the file holds 64 bytes of data: it is truncated or not what it claims; "
                               "write it again with numpy.save")
    archive = tmp_path / "bomb.npz"
    import zipfile
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("x.npy", bomb.read_bytes())
    with pytest.raises(DataError, match=r"bomb.npz: x: its header declares an array of shape \(1000000, 1000000\)"):
        check_npz_file(archive)
    fits = tmp_path / "fits.npy"
    write_npy_header(fits, (4, 2))
    check_npy_file(fits)  # 64 bytes for 8 float64 values: fine


def test_npy_within_the_file_but_beyond_memory_is_refused(tmp_path, monkeypatch):
    from expkit.data.files import check_npy_file
    from expkit.errors import DataError

    file = tmp_path / "big.npy"
    write_npy_header(file, (1000, 1000), b"\0" * 8_000_000)
    monkeypatch.setenv("EXPKIT_MEMORY_BYTES", "1000000")
    with pytest.raises(DataError, match=r"\(8.0 MB\), more than this machine's 1.0 MB of memory"):
        check_npy_file(file)


@pytest.mark.slow
def test_predict_on_a_200_byte_npy_declaring_a_trillion_values(mnist_run, tmp_path, no_tensorflow):
    """Refused from the header alone: before TensorFlow is imported (the environment forbids it)."""
    bomb = tmp_path / "bomb.npy"
    write_npy_header(bomb, (10**6, 10**6))
    result = expkit("predict", mnist_run, bomb, env=no_tensorflow, timeout=300)
    assert result.returncode == 2 and "Traceback" not in result.stderr, result.stderr
    assert result.stderr.rstrip().splitlines()[-1] == (
        f"error: {bomb}: its header declares an array of shape (1000000, 1000000) and dtype float64 (8.0 TB), but "
        "the file holds 64 bytes of data: it is truncated or not what it claims; write it again with numpy.save")


@pytest.mark.parametrize("where", ["file", "below-a-file"])
def test_runs_dir_that_is_a_file(tmp_path, no_tensorflow, where):
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(VALID)
    (tmp_path / "afile").write_text("not a folder")
    runs = tmp_path / "afile" if where == "file" else tmp_path / "afile" / "runs"
    result = expkit("train", cfg, "--runs-dir", runs, env=no_tensorflow)
    check_bad_input(result, cfg, VALID, (f"--runs-dir {runs}: it (or a folder above it) is a file, not a folder; "
                                         "name a folder (it is created when missing)",))


def test_read_only_runs_dir(tmp_path, no_tensorflow):
    """A read-only file system (root ignores permission bits, so a read-only mount in a private mount namespace)."""
    import shutil
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1) to mount a read-only file system")
    cfg, mount = tmp_path / "cfg.yaml", tmp_path / "ro"
    cfg.write_text(VALID)
    mount.mkdir()
    probe = subprocess.run(["unshare", "--mount", "sh", "-c", f"mount -t tmpfs -o ro tmpfs {mount}"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip(f"cannot mount a read-only file system here: {probe.stderr.strip()}")
    command = (f"mount -t tmpfs -o ro tmpfs {mount} && exec {sys.executable} -m expkit train {cfg} "
               f"--runs-dir {mount}/runs")
    result = subprocess.run(["unshare", "--mount", "sh", "-c", command], capture_output=True, text=True,
                            timeout=120, cwd=ROOT, env={**os.environ, **no_tensorflow})
    check_bad_input(result, cfg, VALID, (f"--runs-dir {mount}/runs: cannot create a folder there (Read-only file "
                                         "system); name a folder you can write to",))


# --- Corrupt run folders: compare, diff and plot report one line naming the file, never a traceback. ---

GOOD_RUN = ROOT / "tests" / "fixtures" / "runs" / "20261204-181656-format1-xor-91b8"  # written by a real train


def _set(file: str, key: str, value):
    def edit(run: Path):
        data = json.loads((run / file).read_text())
        section, _, leaf = key.rpartition(".")
        (data[section] if section else data)[leaf] = value
        (run / file).write_text(json.dumps(data))
    return edit


def _write(file: str, content: str | bytes):
    def edit(run: Path):
        target = run / file
        if isinstance(content, bytes):
            target.write_bytes(target.read_bytes() + content)
        else:
            target.write_text(content.replace("$OLD", target.read_text()[:40]))
    return edit


CORRUPT_RUNS = {
    "start-time-int": (_set("run.json", "start_time", 5), "run.json: start_time must be text, got 5"),
    "id-list": (_set("run.json", "id", [1]), "run.json: id must be text, got [1]"),
    "status-list": (_set("run.json", "status", ["done"]), "run.json: status must be text"),
    "epochs-run-text": (_set("run.json", "epochs_run", "many"), "run.json: epochs_run must be a whole number"),
    "run-json-list": (_write("run.json", "[1, 2]"), "run.json does not hold a JSON object"),
    "run-json-truncated": (_write("run.json", "$OLD"), "run.json is unreadable"),
    "run-json-nested-100000": (_write("run.json", '{"a": ' + "[" * 100_000 + "]" * 100_000 + "}"),
                               "run.json is unreadable"),
    "config-experiment-list": (_set("config.json", "experiment", [1]), "config: experiment must be a mapping"),
    "config-seed-text": (_set("config.json", "experiment.seed", "abc"), "config: experiment.seed must be a whole"),
    "results-test-list": (_set("results.json", "test", [1, 2]), "results.json: test must be a mapping"),
    "results-metric-text": (_set("results.json", "test", {"accuracy": "high"}),
                            "results.json: test.accuracy must be a number, got 'high'"),
    "results-epochs-infinite": (_write("results.json", '{"test": {"accuracy": NaN}, "epochs_run": 1e999}'),
                                "results.json: epochs_run must be a whole number, got inf"),
    "results-truncated": (_write("results.json", "$OLD"), "results.json is unreadable"),
    "metrics-not-utf8": (_write("metrics.csv", b"\xff\xfe,\x80\n"), "metrics.csv is unreadable ('utf-8' codec"),
    "metrics-extra-values": (_write("metrics.csv", "epoch,loss\n1,0.5,0.7,9\n"),
                             "metrics.csv has a row with more values than its header names"),
}
METRICS_ONLY = {"metrics-not-utf8", "metrics-extra-values"}  # only plot and --metric best read it


@pytest.fixture(scope="module")
def corrupt_runs(tmp_path_factory) -> dict[str, Path]:
    import shutil
    base = tmp_path_factory.mktemp("corrupt")
    good = shutil.copytree(GOOD_RUN, base / "good", ignore=shutil.ignore_patterns("tb", "model.keras"))
    out = {"good": good}
    for name, (edit, _) in CORRUPT_RUNS.items():
        out[name] = shutil.copytree(good, base / name)
        edit(out[name])
    return out


@pytest.mark.parametrize("command", ["compare", "compare-best", "diff", "plot"])
@pytest.mark.parametrize("kind", list(CORRUPT_RUNS))
def test_corrupt_run_is_one_line_naming_the_file(corrupt_runs, kind, command, capsys, tmp_path):
    from expkit.cli import main
    bad, good = corrupt_runs[kind], corrupt_runs["good"]
    argv = {"compare": ["compare", str(bad), str(good)],
            "compare-best": ["compare", str(bad), str(good), "--metric", "best"],
            "diff": ["diff", str(good), str(bad)],
            "plot": ["plot", str(bad), str(good), "--out", str(tmp_path / "p.png")]}[command]
    code = main(argv)  # any exception other than a reported error fails the test with its traceback
    err = capsys.readouterr().err
    reads_metrics = command in ("compare-best", "plot")
    if kind in METRICS_ONLY and not reads_metrics:
        assert code == 0, err
        return
    expected = f"{bad}: {CORRUPT_RUNS[kind][1]}"
    assert expected in err, err
    line = next(line for line in err.splitlines() if expected in line)
    assert line.startswith(("error: ", "skipped ", "note: ")), err
    assert code in (0, 2), err
