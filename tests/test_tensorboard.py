"""TensorBoard HParams: domains from the schema, what each run logs, and a real TensorBoard serving
real run folders (`tensorboard --logdir runs` and `--logdir runs/<sweep>`) through its HTTP API."""
from __future__ import annotations

import contextlib
import csv
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

from expkit.config import load_config
from expkit.config.components import ACTIVATIONS, INITIALIZER_CLASSES
from expkit.config.loader import resolved_data
from expkit.config.optim import OPTIMIZERS
from expkit.tracking.hparams import (DEFAULT_KEYS, LR_KEY, SCHEDULE_KEY, SWEEP_ENV, domain_for, has_hparams, hparam_value,
                            hparams_for_run, keras_default_learning_rate, log_run_hparams, metrics_for,
                            sweep_hparams_from_env, write_hparams)
from tests.conftest import expkit_in_process
from tests.helpers import config_dict, write_config

ROOT = Path(__file__).resolve().parents[1]
DENSE = [{"type": "Dense", "units": 8, "activation": "tanh"}, {"type": "Dense", "units": 1, "activation": "sigmoid"}]


def resolved(**sections) -> dict:
    """A resolved config (what config.json holds) from the test helpers' small XOR config."""
    from expkit.config.experiment import ExperimentConfig
    return resolved_data(ExperimentConfig.model_validate(config_dict(DENSE, **sections)))


# ---- domain_for ---------------------------------------------------------------------------------

def test_literal_gives_every_allowed_value():
    assert domain_for("compile.optimizer.name", ["adam"]) == {"values": sorted(OPTIMIZERS)}
    assert domain_for("model.initializer.name", []) == {"values": sorted(INITIALIZER_CLASSES)}


def test_bool_gives_both_values():
    assert domain_for("model.regularization.batch_norm", [True]) == {"values": [False, True]}


def test_literal_mixed_with_bool_or_int_gives_text():
    # One type per hparam: TensorBoard would turn a mixed column into text anyway.
    assert domain_for("training.jit_compile", ["auto"]) == {"values": ["auto", "false", "true"]}
    assert domain_for("training.verbose", [2]) == {"values": ["0", "1", "2", "auto"]}
    assert hparam_value(False, {"values": ["auto", "false", "true"]}) == "false"


def test_bounded_float_gives_the_schema_interval():
    assert domain_for("model.regularization.dropout", [0.2]) == {"min": 0.0, "max": 1.0}
    assert domain_for("compile.optimizer.learning_rate.alpha", [0.1]) == {"min": 0.0, "max": 1.0}


@pytest.mark.parametrize("key, values, expected", [
    ("model.regularization.l2", [0.01, 0.001], {"min": 0.0, "max": 0.01}),   # ge=0, no upper bound
    (LR_KEY, [0.1, 0.003], {"min": 0.0, "max": 0.1}),                       # PositiveFloat | Schedule | None
    ("training.batch_size", [16, 64], {"min": 1, "max": 64}),                # PositiveInt: gt=0 -> 1
    ("experiment.seed", [3], {"min": 0, "max": 3}),
    ("model.num_layers", [3], {"min": 1, "max": 3}),                         # layers: min_length=1
])
def test_open_upper_bound_takes_the_largest_value_seen(key, values, expected):
    domain = domain_for(key, values)
    assert domain == expected
    assert type(domain["min"]) is type(expected["min"])  # IntInterval vs RealInterval


def test_open_bound_without_values_has_no_domain():
    assert domain_for("model.regularization.l2", []) is None


def test_layer_fields_go_through_the_list_and_the_layer_union():
    config = resolved()
    assert domain_for("model.layers.1.units", [1], config=config) == {"min": 1, "max": 1}
    assert domain_for("model.layers.0.activation", ["tanh"], config=config) == {"values": sorted(ACTIVATIONS)}
    # Without a config, every layer type that has the field counts: ZeroPadding2D's padding is a
    # number, so padding has no closed set of values; the config's layer type gives it one.
    assert domain_for("model.layers.0.padding", ["same"]) is None
    dropout = resolved(model={"layers": [{"type": "Dense", "units": 2}, {"type": "Dense", "units": 1},
                                         {"type": "Dropout", "rate": 0.5}]})
    assert domain_for("model.layers.2.rate", [0.5], config=dropout) == {"min": 0.0, "max": 1.0}


def test_the_config_picks_the_layer_type():
    config = resolved(model={"layers": [{"type": "Conv2D", "filters": 4, "kernel_size": 3, "padding": "same"},
                                        {"type": "Flatten"}, {"type": "Dense", "units": 1}]})
    assert domain_for("model.layers.0.padding", ["same"], config=config) == {"values": ["same", "valid"]}


def test_the_config_picks_the_schedule():
    config = resolved(compile={"optimizer": {"name": "adam", "learning_rate": {
        "schedule": "exponential_decay", "initial_learning_rate": 0.1, "decay_steps": 10, "decay_rate": 0.5}}})
    key = "compile.optimizer.learning_rate.decay_steps"
    assert domain_for(key, [10], config=config) == {"min": 1, "max": 10}  # exponential_decay: PositiveInt
    assert domain_for(key, [10]) is None  # cosine_decay's is PositiveInt | 'auto': no single type


@pytest.mark.parametrize("key", ["dataset.name", "experiment.name", "model.layers.0.config", "model.nope",
                                 "training.callbacks.tensorboard.update_freq"])
def test_free_text_mappings_mixed_unions_and_unknown_keys_have_no_domain(key):
    assert domain_for(key, ["x"]) is None


def test_sweep_values_override_the_schema():
    assert domain_for(LR_KEY, [0.1], sweep={"values": [0.1, 0.01, 0.001]}) == {"values": [0.001, 0.01, 0.1]}
    assert domain_for("compile.optimizer.name", ["sgd"], sweep={"values": ["sgd", "adam"]}) == {
        "values": ["adam", "sgd"]}
    assert domain_for("model.regularization.dropout", [0.0], sweep={"values": [0, 0.5]}) == {"values": [0.0, 0.5]}
    assert domain_for(LR_KEY, [0.01], sweep={"min": 1e-4, "max": 0.1}) == {"min": 1e-4, "max": 0.1}
    ints = domain_for("training.batch_size", [32], sweep={"min": 16, "max": 128})
    assert ints == {"min": 16, "max": 128} and isinstance(ints["min"], int)


def test_schedule_kind_domain_lists_constant_and_every_schedule():
    assert domain_for(SCHEDULE_KEY, ["constant"], config=resolved()) == {"values": [
        "constant", "cosine_decay", "exponential_decay", "linear_warmup", "one_cycle", "piecewise_constant"]}


# ---- hparams_for_run, metrics_for, the sweep environment -----------------------------------------

def test_a_single_run_logs_the_default_keys():
    config = resolved(compile={"loss": "binary_crossentropy", "optimizer": "sgd"},
                      model={"regularization": {"dropout": 0.25}})
    values, domains = hparams_for_run(config)
    assert list(values) == list(DEFAULT_KEYS)
    assert values["compile.optimizer.name"] == "sgd"
    assert values[LR_KEY] == 0.01 and values[SCHEDULE_KEY] == "constant"  # Keras' SGD default
    assert values["model.num_layers"] == 2 and values["model.regularization.dropout"] == 0.25
    assert values["dataset.name"] == "xor" and "dataset.name" not in domains
    assert domains["compile.optimizer.name"] == {"values": sorted(OPTIMIZERS)}
    assert domains[LR_KEY] == {"min": 0.0, "max": 0.01}
    assert all(type(v) in (bool, int, float, str) for v in values.values())


def test_a_schedule_logs_its_peak_rate_and_its_kind():
    config = resolved(compile={"optimizer": {"name": "adam", "learning_rate": {
        "schedule": "one_cycle", "max_learning_rate": 0.3}}})
    values, domains = hparams_for_run(config)
    assert values[LR_KEY] == 0.3 and values[SCHEDULE_KEY] == "one_cycle"
    assert domains[LR_KEY] == {"min": 0.0, "max": 0.3}
    assert "one_cycle" in domains[SCHEDULE_KEY]["values"]


def test_a_sweep_run_logs_the_default_keys_then_the_sweep_keys():
    config = resolved(compile={"optimizer": {"name": "adam", "learning_rate": 0.05}},
                      model={"layers": [{"type": "Dense", "units": 16}, {"type": "Dense", "units": 1}]})
    keys = [LR_KEY, "model.layers.0.units", "model.input_shape", "experiment.seed"]
    values, domains = hparams_for_run(config, keys, {LR_KEY: {"values": [0.05, 0.5]}})
    # every run of a logdir fills the same columns; unset input_shape is left out
    assert list(values) == [*DEFAULT_KEYS, "model.layers.0.units"]
    assert values[LR_KEY] == 0.05 and values["model.layers.0.units"] == 16 and values["experiment.seed"] == 1
    assert domains[LR_KEY] == {"values": [0.05, 0.5]}  # the sweep's grid
    assert domains["model.layers.0.units"] == {"min": 1, "max": 16} and domains["experiment.seed"] == {"min": 0, "max": 1}


def test_lists_and_mappings_are_logged_as_text():
    config = resolved(model={"input_shape": [2], "layers": DENSE})
    values, _ = hparams_for_run(config, ["model.input_shape", "model.initializer"])
    assert {k: values[k] for k in ("model.input_shape", "model.initializer")} == {
        "model.input_shape": "[2]", "model.initializer": '{"name": "glorot_uniform"}'}


@pytest.mark.parametrize("file", sorted((ROOT / "configs").glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_config_has_every_default_key(file):
    values, domains = hparams_for_run(resolved_data(load_config(file).config))
    assert list(values) == list(DEFAULT_KEYS)
    assert set(DEFAULT_KEYS) - set(domains) == {"dataset.name"}
    for key, domain in domains.items():
        if "values" in domain:
            assert values[key] in domain["values"], key
        else:
            assert domain["min"] <= values[key] <= domain["max"], key


def test_metrics_are_the_tags_keras_writes():
    config = resolved(compile={"loss": "mse", "metrics": ["mae", "root_mean_squared_error", "rmse"]})
    assert metrics_for(config) == [(f"epoch_{name}", group) for name in ("loss", "mae", "rmse")
                                   for group in ("train", "validation", "test")]


def test_sweep_keys_and_domains_come_from_the_environment():
    env = {SWEEP_ENV: json.dumps({"keys": [LR_KEY], "domains": {LR_KEY: {"values": [0.1, 0.01]}}})}
    assert sweep_hparams_from_env(env) == ([LR_KEY], {LR_KEY: {"values": [0.1, 0.01]}})
    assert sweep_hparams_from_env({}) == (None, None)
    with pytest.raises(ValueError, match=f"{SWEEP_ENV} must hold JSON"):
        sweep_hparams_from_env({SWEEP_ENV: "{not json"})


def test_importing_the_module_imports_no_tensorflow():
    code = ("import sys, expkit.tracking.hparams; "
            "print(sorted(m for m in ('tensorflow', 'tensorboard', 'keras') if m in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# ---- real runs, a real TensorBoard -------------------------------------------------------------

SWEEP_LRS = [0.05, 0.2]
ONE_CYCLE_PEAK = 0.1  # the second single run's schedule: its rate changes at every step
SWEEP_ENV_VALUE = json.dumps({"keys": [LR_KEY], "domains": {LR_KEY: {"values": SWEEP_LRS}}})
STATUSES = ["STATUS_UNKNOWN", "STATUS_SUCCESS", "STATUS_FAILURE", "STATUS_RUNNING"]


def train_config(**changes) -> dict:
    data = config_dict(DENSE, experiment={"name": "hp", "seed": 1}, dataset={"name": "xor", "samples": 200},
                       compile={"loss": "binary_crossentropy", "metrics": ["accuracy"],
                                "optimizer": {"name": "adam", "learning_rate": 0.01}},
                       training={"epochs": 2, "batch_size": 32, "verbose": 2})
    for section, values in changes.items():
        data[section] = {**data[section], **values}
    return data


@pytest.fixture(scope="module")
def runs(tmp_path_factory) -> dict:
    """runs/ with two single runs (other optimizer, metrics, dropout, batch size) and runs/sw/ with a
    two-point learning-rate sweep, each trained for real by `expkit train`, then given its hparams."""
    tmp = tmp_path_factory.mktemp("hparams")
    root, sweep = tmp / "runs", tmp / "runs" / "sw"
    a = write_config(tmp, train_config(), "a.yaml")
    one_cycle = {"schedule": "one_cycle", "max_learning_rate": ONE_CYCLE_PEAK}
    b = write_config(tmp, train_config(compile={"optimizer": {"name": "sgd", "learning_rate": one_cycle},
                                                "metrics": ["accuracy", "mse"]},
                                       model={"regularization": {"dropout": 0.1}}, training={"batch_size": 16}),
                     "b.yaml")
    jobs = [(a, root, [], None), (b, root, [], None)]
    jobs += [(a, sweep, ["--set", f"{LR_KEY}={lr}"], SWEEP_ENV_VALUE) for lr in SWEEP_LRS]
    folders = []
    for config, runs_dir, extra, sweep_env in jobs:  # in this process: TensorFlow's import is paid once
        env = {k: v for k, v in os.environ.items() if k != SWEEP_ENV}
        with pytest.MonkeyPatch.context() as patch:
            patch.delenv(SWEEP_ENV, raising=False)
            if sweep_env:
                env[SWEEP_ENV] = sweep_env  # as `expkit sweep` sets it for each point
                patch.setenv(SWEEP_ENV, sweep_env)
            result = expkit_in_process("train", config, "--runs-dir", runs_dir, *extra)
        assert result.returncode == 0, result.stderr[-3000:]
        run_dir = Path(result.stdout.strip().splitlines()[-1])
        # Once the trainer logs its own hparams this finds them and writes nothing: the test still holds.
        log_run_hparams(run_dir, *sweep_hparams_from_env(env))
        folders.append(run_dir)
    return {"root": root, "sweep": sweep, "single": folders[:2], "swept": folders[2:]}


LOCAL = urllib.request.build_opener(urllib.request.ProxyHandler({}))  # no proxy: 127.0.0.1 only


class TensorBoard:
    """A running `tensorboard` process and its HTTP data API."""

    def __init__(self, port: int, proc: subprocess.Popen, log: Path):
        self.base, self.proc, self.log = f"http://127.0.0.1:{port}", proc, log

    def get(self, path: str, body: dict | None = None):
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.base + path, data=data, headers={"Content-Type": "application/json"})
        with LOCAL.open(request, timeout=20) as response:
            return json.loads(response.read())

    def experiment(self) -> dict:
        return self.get("/data/plugin/hparams/experiment", {"experimentName": ""})

    def session_groups(self) -> list[dict]:
        # The request the dashboard sends (tf-hparams-query-pane.ts): every status, no filter, first page.
        request = {"experimentName": "", "allowedStatuses": STATUSES, "colParams": [], "startIndex": 0,
                   "sliceSize": 100}
        return self.get("/data/plugin/hparams/session_groups", request).get("sessionGroups", [])


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def tensorboard(logdir: Path, load_fast: str, log: Path):
    """A real TensorBoard on 127.0.0.1, yielded once it answers; always stopped."""
    port = free_port()
    cmd = [sys.executable, "-m", "tensorboard.main", "--logdir", str(logdir), "--host", "127.0.0.1",
           "--port", str(port), "--reload_interval", "1", "--load_fast", load_fast]
    with log.open("w") as out:
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT,
                                env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"})
    try:
        board = TensorBoard(port, proc, log)
        eventually(lambda: board.get("/data/runs"), board)
        yield board
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def eventually(check, board: TensorBoard, timeout: float = 90):
    """Retry `check` until it passes: TensorBoard loads the event files in the background."""
    deadline = time.monotonic() + timeout
    while True:
        code = board.proc.poll()
        assert code is None, f"tensorboard exited with {code}:\n{board.log.read_text()[-3000:]}"
        try:
            return check()
        except (AssertionError, OSError, KeyError, ValueError):
            if time.monotonic() > deadline:
                print(board.log.read_text()[-3000:])  # shown by pytest with the failure
                raise
        time.sleep(0.5)


def last_row(run_dir: Path) -> dict:
    with (run_dir / "metrics.csv").open(newline="") as f:
        return {k: float(v) for k, v in list(csv.DictReader(f))[-1].items()}


def same(served, logged) -> bool:
    if isinstance(logged, (bool, str)):
        return served == logged and type(served) is type(logged)
    return served == pytest.approx(logged, rel=1e-9)


def check_sessions(board: TensorBoard, logdir: Path, expected: dict[Path, tuple]):
    """One session group per run, named after the run, with its hparam values and its last metrics.
    `expected` maps each run folder to the (sweep_keys, sweep_domains) it was logged with."""
    groups = {g["name"]: g for g in board.session_groups()}
    assert sorted(groups) == sorted(r.name for r in expected)
    for run_dir, (sweep_keys, sweep_domains) in expected.items():
        group = groups[run_dir.name]
        assert [s["name"] for s in group["sessions"]] == [f"{run_dir.relative_to(logdir).as_posix()}/tb"]
        config = json.loads((run_dir / "config.json").read_text())
        values, _ = hparams_for_run(config, sweep_keys, sweep_domains)
        assert group["hparams"].keys() == values.keys()
        assert all(same(group["hparams"][k], v) for k, v in values.items()), (group["hparams"], values)
        metrics = {(m["name"]["group"], m["name"]["tag"]): m["value"] for m in group["metricValues"]}
        row, test = last_row(run_dir), json.loads((run_dir / "results.json").read_text())["test"]
        for tag, split in metrics_for(config):
            column = tag.removeprefix("epoch_")
            expected = test[column] if split == "test" else row[column if split == "train" else f"val_{column}"]
            assert metrics[(split, tag)] == pytest.approx(expected, rel=1e-5), (run_dir.name, split, tag)


def metric_names(experiment: dict) -> set:
    return {(m["name"]["tag"], m["name"]["group"]) for m in experiment["metricInfos"]}


LOADERS = ["true", "false"]  # the Rust data server (what --load_fast=auto picks here) and the Python loader


@pytest.mark.slow
@pytest.mark.parametrize("load_fast", LOADERS)
def test_tensorboard_on_the_runs_folder_shows_every_run(runs, load_fast, tmp_path):
    if load_fast == "true":
        pytest.importorskip("tensorboard_data_server")
    root, all_runs = runs["root"], runs["single"] + runs["swept"]

    def check():
        names, tags = set(board.get("/data/runs")), board.get("/data/plugin/scalars/tags")
        for run_dir in all_runs:
            rel = run_dir.relative_to(root).as_posix()
            assert {f"{rel}/tb", f"{rel}/tb/train", f"{rel}/tb/validation"} <= names
            for split in ("train", "validation"):
                assert {"epoch_loss", "epoch_accuracy"} <= set(tags[f"{rel}/tb/{split}"])
        experiment = board.experiment()
        infos = {h["name"]: h for h in experiment["hparamInfos"]}
        # Single runs log DEFAULT_KEYS, the sweep's runs only the swept learning rate: the union shows,
        # with domains from the values seen.
        assert set(infos) == set(DEFAULT_KEYS)
        assert sorted(infos["compile.optimizer.name"]["domainDiscrete"]) == ["adam", "sgd"]  # either loader's order
        assert infos[LR_KEY]["type"] == "DATA_TYPE_FLOAT64"
        assert infos[LR_KEY]["domainInterval"] == {"minValue": 0.01, "maxValue": max(SWEEP_LRS)}
        assert infos["model.regularization.batch_norm"]["domainDiscrete"] == [False]
        for run_dir in all_runs:
            assert set(metrics_for(json.loads((run_dir / "config.json").read_text()))) <= metric_names(experiment)
        assert ("epoch_mse", "validation") in metric_names(experiment)  # the second single run's only
        check_sessions(board, root, {**{r: (None, None) for r in runs["single"]},
                                     **{r: ([LR_KEY], None) for r in runs["swept"]}})

    log = tmp_path / "tensorboard.log"
    with tensorboard(root, load_fast, log) as board:
        eventually(check, board)


@pytest.mark.slow
@pytest.mark.parametrize("load_fast", LOADERS)
def test_tensorboard_on_a_sweep_folder_shows_the_sweep(runs, load_fast, tmp_path):
    if load_fast == "true":
        pytest.importorskip("tensorboard_data_server")

    def check():
        infos = {h["name"]: h for h in board.experiment()["hparamInfos"]}
        assert set(infos) == set(DEFAULT_KEYS)  # the sweep's key is one of them
        assert infos[LR_KEY]["domainInterval"] == {"minValue": min(SWEEP_LRS), "maxValue": max(SWEEP_LRS)}
        check_sessions(board, runs["sweep"], {r: ([LR_KEY], None) for r in runs["swept"]})

    log = tmp_path / "tensorboard.log"
    with tensorboard(runs["sweep"], load_fast, log) as board:
        eventually(check, board)


@pytest.mark.slow
def test_an_experiment_summary_brings_schema_and_sweep_domains(runs, tmp_path):
    """Opt-in: a logdir holding one sweep's runs only, its experiment summary at the root."""
    view = tmp_path / "sw-view"
    shutil.copytree(runs["sweep"], view)
    keys, sweep_domains = [LR_KEY, "compile.optimizer.name"], {LR_KEY: {"values": SWEEP_LRS}}
    copies = sorted(p for p in view.iterdir() if (p / "run.json").is_file())
    for i, run_dir in enumerate(copies):
        for old in (run_dir / "tb").glob("*.hparams"):
            old.unlink()
        config = json.loads((run_dir / "config.json").read_text())
        values, domains = hparams_for_run(config, keys, sweep_domains)
        write_hparams(run_dir / "tb", values, domains, metrics_for(config), trial_id=run_dir.name,
                      experiment_dir=view if i == 0 else None)

    def check():
        experiment = board.experiment()
        infos = {h["name"]: h for h in experiment["hparamInfos"]}
        assert infos[LR_KEY]["domainDiscrete"] == SWEEP_LRS                      # the sweep's grid
        assert infos["compile.optimizer.name"]["domainDiscrete"] == sorted(OPTIMIZERS)  # the schema's
        assert [(m["name"]["tag"], m["name"]["group"]) for m in experiment["metricInfos"]] == metrics_for(config)
        check_sessions(board, view, {r: (keys, sweep_domains) for r in copies})

    log = tmp_path / "tensorboard.log"
    with tensorboard(view, "auto", log) as board:
        eventually(check, board)


@pytest.mark.slow
def test_hparams_are_written_once_per_run(runs):
    for run_dir in runs["single"] + runs["swept"]:
        assert has_hparams(run_dir)
        assert log_run_hparams(run_dir) is False
        assert len(list((run_dir / "tb").glob("*.hparams"))) == 1


@pytest.mark.slow
def test_keras_default_learning_rates_are_keras_own():
    import inspect
    from expkit.config.optim import OPTIMIZER_CLASSES
    from expkit.backend import import_keras
    keras = import_keras()
    for name, cls in OPTIMIZER_CLASSES.items():
        default = inspect.signature(getattr(keras.optimizers, cls)).parameters["learning_rate"].default
        assert keras_default_learning_rate(name) == default, name


# ---- test metrics, texts, images, the rate per step -------------------------------------------

def scalars(board: TensorBoard, run: str, tag: str) -> list[tuple[int, float]]:
    query = urllib.parse.urlencode({"run": run, "tag": tag})
    return [(step, value) for _, step, value in board.get(f"/data/plugin/scalars/scalars?{query}")]


def image(board: TensorBoard, run: str, tag: str):
    """The last image of a tag, decoded to floats in [0, 1] (RGB)."""
    import io
    import matplotlib.image
    query = urllib.parse.urlencode({"run": run, "tag": tag})
    entries = board.get(f"/data/plugin/images/images?{query}")
    with LOCAL.open(f"{board.base}/data/plugin/images/individualImage?{entries[-1]['query']}", timeout=20) as answer:
        return matplotlib.image.imread(io.BytesIO(answer.read()), format="png")[..., :3]


@pytest.mark.slow
def test_tensorboard_shows_test_metrics_texts_images_and_the_rate_per_step(runs, mnist_run, tmp_path):
    import numpy as np
    from expkit.serving import load_run_model
    from expkit.tracking.filters import confusion_image, filter_grid, first_layer_filters
    logdir = tmp_path / "logs"
    scheduled = runs["single"][1]
    for run_dir in (mnist_run, scheduled):
        shutil.copytree(run_dir, logdir / run_dir.name)
    digits, xor = f"{mnist_run.name}/tb", f"{scheduled.name}/tb"
    results = json.loads((mnist_run / "results.json").read_text())
    epochs = results["epochs_run"]

    def check():
        tags = board.get("/data/plugin/scalars/tags")
        assert {"epoch_loss", "epoch_accuracy"} <= set(tags[f"{digits}/test"])
        assert scalars(board, f"{digits}/test", "epoch_accuracy") == [
            (epochs - 1, pytest.approx(results["test"]["accuracy"], rel=1e-6))]  # beside the last epoch
        # HParams: test metrics are metrics of the session, and every run has every default key
        groups = {g["name"]: g for g in board.session_groups()}
        metrics = {(m["name"]["group"], m["name"]["tag"]): m["value"] for m in groups[mnist_run.name]["metricValues"]}
        assert metrics[("test", "epoch_accuracy")] == pytest.approx(results["test"]["accuracy"], rel=1e-6)
        assert all(set(g["hparams"]) == set(DEFAULT_KEYS) for g in groups.values())
        # texts: the resolved config and the final run.json
        texts = board.get("/data/plugin/text/tags")
        assert {"config", "run.json"} <= set(texts[digits]) and "confusion_matrix_counts" in texts[digits]
        query = urllib.parse.urlencode({"run": digits, "tag": "config"})
        config_text = board.get(f"/data/plugin/text/text?{query}")[-1]["text"]
        assert "sparse_categorical_crossentropy" in config_text and "mnist" in config_text
        query = urllib.parse.urlencode({"run": digits, "tag": "run.json"})
        assert '"status": "completed"' in board.get(f"/data/plugin/text/text?{query}")[-1]["text"]
        # images: the first layer's filters exactly as filter_grid draws them, and a confusion matrix
        assert {"first_layer", "confusion_matrix"} <= set(board.get("/data/plugin/images/tags")[digits])
        served = image(board, digits, "first_layer")
        np.testing.assert_allclose(served, expected_filters, atol=1.5 / 255)
        confusion = image(board, digits, "confusion_matrix")
        assert confusion.shape == confusion_image(np.eye(10)).shape  # 10 classes
        diagonal = np.array([confusion[12 + 24 * i, 12 + 24 * i].mean() for i in range(10)])
        assert (diagonal < 0.6).mean() >= 0.7  # dark: most digits of most classes are read right
        # the one-cycle run: its rate at every step, rising then falling inside the first epoch
        rates = [rate for _, rate in sorted(scalars(board, f"{xor}/train", "batch_learning_rate"))]
        steps = len(rates) // 2
        assert len(rates) == 2 * steps and steps > 3  # 2 epochs of a few steps each
        assert rates[0] == pytest.approx(ONE_CYCLE_PEAK / 25, rel=1e-3)  # starts at peak / div_factor
        assert max(rates) == pytest.approx(ONE_CYCLE_PEAK, rel=0.1) and rates.index(max(rates)) < steps
        assert rates[-1] < rates[0]
        # a constant rate writes no per-step series
        assert "batch_learning_rate" not in tags.get(f"{digits}/train", [])
        # the model's conceptual graph, by default (no batch hook needed)
        info = board.get("/data/plugin/graphs/info")
        assert info[f"{digits}/train"]["tags"]["keras"]["conceptual_graph"] is True
        query = urllib.parse.urlencode({"run": f"{digits}/train", "tag": "keras", "conceptual": "true"})
        with LOCAL.open(f"{board.base}/data/plugin/graphs/graph?{query}", timeout=20) as answer:
            assert b"layer_0_conv2d" in answer.read()

    model = load_run_model(mnist_run)
    expected_filters = filter_grid(first_layer_filters(model.layers, (28, 28, 1))[1])
    with tensorboard(logdir, "false", tmp_path / "tensorboard.log") as board:
        eventually(check, board)


# ---- a binary image classifier with a Dense first layer, read from its event files ---------------

def event_tensors(folder: Path) -> dict:
    """Every tensor summary (images, texts) of the event files in one folder: tag -> last value."""
    from tensorboard.backend.event_processing.event_accumulator import TENSORS, EventAccumulator
    from tensorboard.util import tensor_util
    events = EventAccumulator(str(folder), size_guidance={TENSORS: 0})
    events.Reload()
    return {tag: tensor_util.make_ndarray(events.Tensors(tag)[-1].tensor_proto) for tag in events.Tags()["tensors"]}


def png(value) -> "np.ndarray":
    """An image summary's value ([width, height, png bytes]) decoded to RGB floats in [0, 1]."""
    import io
    import matplotlib.image
    return matplotlib.image.imread(io.BytesIO(value[2]), format="png")[..., :3]


@pytest.mark.slow
@pytest.mark.parametrize("activation, loss", [
    ("sigmoid", "binary_crossentropy"), ("linear", {"name": "binary_crossentropy", "from_logits": True})])
def test_a_sigmoid_image_classifier_gets_a_two_class_confusion_matrix_and_dense_filters(tmp_path, activation, loss):
    """Dark and light 8x8 pictures, an MLP (Flatten, Dense, one sigmoid unit or a logit): the first layer's
    image shows each Dense unit's 64 weights as a picture, and the confusion matrix has two classes
    (threshold 0.5, or 0 on a logit)."""
    import numpy as np
    from PIL import Image
    from expkit.serving import load_run_model
    from expkit.tracking.filters import confusion_image, filter_grid, first_layer_filters
    from expkit.training.run import train
    rng = np.random.default_rng(0)
    for name, low in (("dark", 0), ("light", 170)):
        (tmp_path / "images" / name).mkdir(parents=True)
        for i in range(30):
            Image.fromarray(rng.integers(low, low + 86, (8, 8), dtype=np.uint8)).save(
                tmp_path / "images" / name / f"{i}.png")
    run = train(load_config(write_config(tmp_path, config_dict(
        [{"type": "Flatten"}, {"type": "Dense", "units": 4, "activation": "tanh"},
         {"type": "Dense", "units": 1, "activation": activation}], experiment={"name": "shades", "seed": 1},
        dataset={"name": "image_folder", "path": str(tmp_path / "images"), "color_mode": "grayscale",
                 "stream": False, "test_split": 0.3},
        compile={"loss": loss, "metrics": [{"name": "binary_accuracy", "threshold": 0.0} if activation == "linear"
                                           else "accuracy"],
                 "optimizer": {"name": "adam", "learning_rate": 0.05}},
        training={"epochs": 3, "batch_size": 8, "verbose": 0}))), tmp_path / "runs")
    tensors = event_tensors(run / "tb")
    model = load_run_model(run)
    expected = filter_grid(first_layer_filters(model.layers, (8, 8, 1))[1])
    assert expected.shape[:2] == (2 * (24 + 2) + 2,) * 2  # four units: 2x2 pictures of 8x8 weights, 3x, 2 px gaps
    np.testing.assert_allclose(png(tensors["first_layer"]), expected, atol=1.5 / 255)
    confusion = png(tensors["confusion_matrix"])
    assert confusion.shape == confusion_image(np.eye(2)).shape  # two classes from one sigmoid
    assert all(confusion[12 + 24 * i, 12 + 24 * i].mean() < 0.6 for i in range(2))  # dark diagonal: read right
    counts = tensors["confusion_matrix_counts"].item().decode()
    assert "| **dark** |" in counts and "| **light** |" in counts
    cells = [int(c) for line in counts.splitlines()[2:] for c in line.split("|")[2:4]]
    results = json.loads((run / "results.json").read_text())
    assert sum(cells) == results["samples"]["test"]  # each counted once
    accuracy = results["test"]["binary_accuracy" if activation == "linear" else "accuracy"]
    assert (cells[0] + cells[3]) / sum(cells) == pytest.approx(accuracy, abs=1e-6)  # Keras' own threshold


@pytest.mark.parametrize("from_logits, expected", [(False, [0, 0, 1, 0]), (True, [1, 0, 1, 0])])
def test_one_output_unit_is_class_1_above_probability_half_or_above_logit_zero(from_logits, expected):
    """A logit of 0.3 is a probability of 0.57: class 1, though under 0.5."""
    import numpy as np
    from expkit.tracking.tensorboard import labels_and_predictions
    scores = np.array([[0.3], [-2.0], [4.0], [0.0]], dtype="float32")
    labels, predicted, classes = labels_and_predictions(np.array([1, 0, 1, 0]), scores, 2, from_logits)
    assert classes == 2 and predicted.tolist() == expected and labels.tolist() == [1, 0, 1, 0]
