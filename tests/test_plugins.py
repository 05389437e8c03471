"""Plugins: the example plugin (examples/expkit_example_plugin) found by its entry point or given with
--plugin, its layer, loss, metric, initializer, regularizer, schedule, callback and dataset validated
without TensorFlow, trained end to end, compared, reloaded in safe mode and used to predict; and what
is said when the plugin is missing."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_DIR = ROOT / "examples" / "expkit_example_plugin"
PLUGIN = ["--plugin", str(PLUGIN_DIR)]


def config(**changes) -> dict:
    data = {"experiment": {"name": "sine", "seed": 2},
            "dataset": {"name": "noisy_sine", "samples": 600},
            "model": {"layers": [{"type": "ScaledDense", "units": 16, "scale": 2.0, "activation": "tanh",
                                  "kernel_initializer": {"name": "scaled_normal", "gain": 0.5}},
                                 {"type": "Dense", "units": 1, "kernel_regularizer": {"name": "soft_l1", "factor": 1e-4}}],
                      "initializer": {"name": "scaled_normal", "gain": 1.0}},
            "compile": {"loss": {"name": "smooth_l1", "beta": 0.5}, "metrics": ["mae", "within_tenth"],
                        "optimizer": {"name": "adam", "learning_rate": {"schedule": "triangular_cycle", "low": 0.005,
                                                                        "high": 0.04, "half_cycle": 20}}},
            "training": {"epochs": 8, "batch_size": 32, "verbose": 2,
                         "callbacks": {"plugins": [{"name": "gain_logger"}]}}}
    for key, value in changes.items():
        section, _, field = key.partition("__")
        data[section][field] = value
    return data


def write(tmp_path: Path, data: dict, name: str = "sine.yaml") -> Path:
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return path


def expkit(*args, env=None, timeout=300):
    return subprocess.run([sys.executable, "-m", "expkit", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=timeout, env=env)


def no_plugins_env() -> dict:
    return {k: v for k, v in os.environ.items() if k != "EXPKIT_PLUGINS"}


@pytest.fixture
def installed(tmp_path) -> dict:
    """The example plugin as pip would install it: the package importable and a dist-info declaring the
    entry point (group expkit.plugins), both on PYTHONPATH; no --plugin needed."""
    site = tmp_path / "site"
    info = site / "expkit_example_plugin-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: expkit-example-plugin\nVersion: 0.1.0\n")
    (info / "entry_points.txt").write_text("[expkit.plugins]\nexample = expkit_example_plugin\n")
    paths = [str(site), str(PLUGIN_DIR), str(ROOT), os.environ.get("PYTHONPATH", "")]
    return {**no_plugins_env(), "PYTHONPATH": os.pathsep.join(p for p in paths if p)}


# --- validate: the names, without TensorFlow --------------------------------------------------------

def test_an_installed_plugin_is_found_by_its_entry_point_and_validate_imports_no_tensorflow(tmp_path, installed):
    path = write(tmp_path, config())
    code = (f"import sys\nfrom expkit.cli import main\nassert main(['validate', {str(path)!r}]) == 0\n"
            "print(sorted(m for m in ('tensorflow', 'keras') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path,
                          env=installed, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip().splitlines()[-1] == "[]"


@pytest.mark.parametrize("change, message", [
    ({"model__layers": [{"type": "ScaledDens", "units": 4}, {"type": "Dense", "units": 1}]},
     "unknown layer type 'ScaledDens' (did you mean 'ScaledDense'?)"),
    ({"compile__loss": "smooth_l2"}, "did you mean 'smooth_l1'?"),
    ({"dataset__name": "noisy_sin"}, "unknown dataset 'noisy_sin' (did you mean 'noisy_sine'?)"),
    ({"compile__metrics": ["within_tenths"]}, "did you mean 'within_tenth'?"),
    ({"training__callbacks": {"plugins": ["gain_loger"]}},
     "no loaded plugin declares the callback 'gain_loger' (did you mean 'gain_logger'?)"),
    ({"model__initializer": "scaled_norml"}, "did you mean 'scaled_normal'?"),
    ({"model__layers": [{"type": "ScaledDense", "units": 1, "kernel_initializer": "scaled_norml"}]},
     "kernel_initializer: unknown initializer 'scaled_norml' (did you mean 'scaled_normal'?)"),
    ({"model__layers": [{"type": "Dense", "units": 1, "bias_initializer": {"name": "scaled_norml"}}]},
     "or a loaded plugin's (scaled_normal), got 'scaled_norml' (did you mean 'scaled_normal'?)"),
    ({"model__layers": [{"type": "Dense", "units": 1, "kernel_regularizer": "soft_l2"}]},
     "unknown regularizer 'soft_l2' (did you mean 'soft_l1'?); expected l1, l2, l1_l2 or soft_l1"),
    ({"compile__optimizer": {"name": "adam", "learning_rate": {"schedule": "triangular_cycles", "low": 0.1}}},
     "unknown schedule 'triangular_cycles' (did you mean 'triangular_cycle'?)"),
], ids=["layer", "loss", "dataset", "metric", "callback", "initializer", "plugin-layer-initializer",
        "layer-initializer", "regularizer", "schedule"])
def test_validate_suggests_a_plugins_names(tmp_path, change, message):
    done = expkit(*PLUGIN, "validate", write(tmp_path, config(**change)), env=no_plugins_env())
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


def test_without_the_plugin_its_names_are_unknown(tmp_path):
    done = expkit("validate", write(tmp_path, config()), env=no_plugins_env())
    assert done.returncode == 2 and "unknown layer type 'ScaledDense'" in done.stderr
    assert "unknown dataset 'noisy_sine'" in done.stderr and "--plugin" in done.stderr


@pytest.mark.parametrize("spec, message", [
    ("no/such/dir", "no such file, folder or module name"),
    ("json", "declares no EXPKIT_PLUGIN"),
])
def test_a_bad_plugin_argument_is_a_one_line_error(tmp_path, spec, message):
    done = expkit("--plugin", spec, "validate", write(tmp_path, config()), env=no_plugins_env())
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr, done.stderr


# --- end to end ------------------------------------------------------------------------------------

@pytest.mark.slow
def test_the_example_plugin_end_to_end(tmp_path):
    env = no_plugins_env()
    path = write(tmp_path, config())
    trained = expkit("train", path, "--runs-dir", tmp_path / "runs", *PLUGIN, env=env)  # --plugin after the command
    assert trained.returncode == 0, trained.stderr[-3000:]
    run = Path(trained.stdout.strip().splitlines()[-1])
    results = json.loads((run / "results.json").read_text())
    assert results["test"]["mae"] < 0.2, results  # sin(3x) learned: the layer, the loss and the data are real
    assert results["test"]["within_tenth"] > 0.4  # the plugin's metric (untrained: under 0.1)
    import csv
    rows = list(csv.DictReader((run / "metrics.csv").open()))
    assert len(rows) == 8 and all(float(r["scaled_dense_gain"]) > 0 for r in rows)  # the plugin's callback
    assert rows[0]["scaled_dense_gain"] != rows[-1]["scaled_dense_gain"]  # the gain is learned
    rates = {round(float(r["learning_rate"]), 6) for r in rows}  # the plugin's cyclic schedule moves the rate
    assert len(rates) > 2 and all(0.005 <= r <= 0.04 for r in rates), rates
    assert "smooth_l1" in (run / "config.yaml").read_text()

    compared = expkit("compare", tmp_path / "runs", "--format", "csv", env=env)  # no plugin needed to compare
    assert compared.returncode == 0 and run.name in compared.stdout

    # model.keras names the plugin it needs, and loads in safe mode with it
    import zipfile
    saved = json.loads(zipfile.ZipFile(run / "model.keras").read("config.json"))
    for name in ("ScaledDense", "ScaledNormal", "SoftL1", "TriangularCycle"):  # layer, initializer, regularizer, schedule
        assert f"expkit_example_plugin>{name}" in json.dumps(saved)
    scaled = next(layer for layer in saved["config"]["layers"] if layer["class_name"] == "ScaledDense")
    assert scaled["config"]["kernel_initializer"]["config"]["gain"] == 0.5  # a plugin's initializer in a plugin's layer
    x = np.linspace(-1, 1, 7, dtype="float32").reshape(-1, 1)
    np.save(tmp_path / "x.npy", x)
    predicted = expkit("--plugin", PLUGIN_DIR, "predict", run, tmp_path / "x.npy", "--output", tmp_path / "p.npy",
                       env=env)
    assert predicted.returncode == 0, predicted.stderr[-3000:]
    assert np.abs(np.load(tmp_path / "p.npy").reshape(-1) - np.sin(3 * x).reshape(-1)).max() < 0.35

    missing = expkit("predict", run, tmp_path / "x.npy", env=env)
    assert missing.returncode == 2 and "Traceback" not in missing.stderr
    assert ("uses ScaledDense, ScaledNormal, SoftL1, TriangularCycle, SmoothL1, WithinTenth from plugin "
            "'expkit_example_plugin', which is not loaded") in missing.stderr
    assert "--plugin" in missing.stderr


@pytest.fixture
def loaded(monkeypatch):
    """The example plugin loaded in this process; the registry is left as it was afterwards."""
    from expkit.config import plugins
    monkeypatch.delenv(plugins.PLUGINS_ENV, raising=False)
    monkeypatch.setattr(plugins, "_plugins", dict(plugins._plugins))
    plugins.add_plugin(str(PLUGIN_DIR))
    return plugins


def two_outputs(tmp_path: Path, loss: dict) -> Path:
    """features -> h -> outputs a and b, from named arrays (features_train, a_train, b_train), one loss each."""
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (64, 2)).astype("float32")
    np.savez(tmp_path / "two.npz", features_train=x, a_train=x.sum(axis=1, keepdims=True), b_train=x[:, :1] * 2)
    layers = [{"type": "Dense", "units": 8, "activation": "tanh", "inputs": "features", "name": "h"},
              {"type": "Dense", "units": 1, "name": "a", "inputs": "h"},
              {"type": "Dense", "units": 1, "name": "b", "inputs": "h"}]
    return write(tmp_path, {"experiment": {"name": "two", "seed": 1},
                            "dataset": {"name": "npz", "path": str(tmp_path / "two.npz")},
                            "model": {"inputs": [{"name": "features"}], "layers": layers, "outputs": ["a", "b"]},
                            "compile": {"loss": loss, "optimizer": "adam"},
                            "training": {"epochs": 1, "batch_size": 16, "verbose": 0}}, "two.yaml")


@pytest.mark.slow
def test_a_plugin_loss_per_output_trains_a_two_output_model(tmp_path, loaded):
    from expkit.config import load_config
    from expkit.model.plugin_models import make_plugin_object
    from expkit.training.run import train
    config = load_config(two_outputs(tmp_path, {"a": {"name": "smooth_l1", "beta": 0.5}, "b": "mse"}))
    loss = config.config.compile.loss
    assert type(loss["a"]).__name__ == "PluginLoss" and type(loss["b"]).__name__ == "LossSpec"
    assert make_plugin_object(loss["a"]).beta == 0.5
    run = train(config, tmp_path / "runs")
    results = json.loads((run / "results.json").read_text())
    assert {"a_loss", "b_loss"} <= set(results["test"])
    assert yaml.safe_load((run / "config.yaml").read_text())["compile"]["loss"]["a"] == {"name": "smooth_l1",
                                                                                        "beta": 0.5}


def test_a_misspelt_plugin_loss_per_output_is_suggested(tmp_path, loaded):
    from expkit.config import load_config
    from expkit.errors import ConfigError
    with pytest.raises(ConfigError, match=r"compile\.loss\.a.*did you mean 'smooth_l1'\?"):
        load_config(two_outputs(tmp_path, {"a": "smooth_l2", "b": "mse"}))


def test_plugins_given_on_the_command_line_reach_the_processes_expkit_starts(tmp_path, monkeypatch):
    """`expkit --plugin X sweep ...` starts `expkit train` children: they get X through EXPKIT_PLUGINS."""
    from expkit.config import plugins
    monkeypatch.delenv(plugins.PLUGINS_ENV, raising=False)
    monkeypatch.setattr(plugins, "_plugins", dict(plugins._plugins))  # leave the registry as it was
    plugins.load_cli_plugins([str(PLUGIN_DIR)])
    assert os.environ[plugins.PLUGINS_ENV] == str(PLUGIN_DIR)
    child = expkit("validate", write(tmp_path, config()), env=dict(os.environ))  # no --plugin: inherited
    assert child.returncode == 0, child.stderr


@pytest.mark.parametrize("initializer", ["scaled_normal", {"name": "scaled_normal", "gain": 0.5, "seed": 3},
                                         {"class_name": "scaled_normal", "config": {"gain": 0.5, "seed": 3}}])
def test_plugin_components_inside_an_escape_hatch_config_are_resolved_at_any_depth(tmp_path, loaded, initializer):
    """type: keras takes a Keras-serialized config: a plugin's initializer or regularizer there, by its declared
    name, the native {name: ...} form or Keras' {class_name, config}, is the plugin's object, as natively."""
    from expkit.config import load_config
    from expkit.model.builder import build_model
    objects = loaded.load_objects(loaded.plugin_for("initializers", "scaled_normal"))
    layers = [{"type": "keras", "class_name": "Dense", "config": {"units": 4, "kernel_initializer": initializer,
                                                                  "bias_regularizer": "soft_l1"}},
              {"type": "keras", "class_name": "Bidirectional", "config": {"layer": {
                  "class_name": "LSTM", "config": {"units": 2, "recurrent_initializer": initializer}}}}]
    config = load_config(write(tmp_path, {"experiment": {"name": "hatch"}, "dataset": {"name": "xor"},
                                          "model": {"input_shape": [3, 2], "layers": layers},
                                          "compile": {"loss": "mse"}}))
    model = build_model(config.config, {"input": (3, 2)}, locate=config.source.locate)
    dense, lstm = model.layers[0], model.layers[1].forward_layer
    gain = 1.0 if isinstance(initializer, str) else 0.5
    for found in (dense.kernel_initializer, lstm.cell.recurrent_initializer):
        assert isinstance(found, objects.ScaledNormal) and found.gain == gain
    assert isinstance(dense.bias_regularizer, objects.SoftL1)
    assert model.layers[1].backward_layer.cell.recurrent_initializer.gain == gain  # Keras copies the forward layer
