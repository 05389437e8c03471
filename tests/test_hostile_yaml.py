"""Hostile config files: each must end in one located line and exit 2, fast, in bounded memory.

Most cases call the in-process CLI (`expkit.cli.main`): an unexpected exception fails the test with its
traceback. The alias bomb runs in a subprocess under an address-space limit, beside a control that shows
the same limit stops a loader that expands the aliases.
"""
from __future__ import annotations

import os
import resource
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from expkit.cli import main
from expkit.config import load_config, yamlsource
from expkit.errors import ConfigError

ROOT = Path(__file__).resolve().parents[1]
VALID = """\
experiment: {name: hostile}
dataset: {name: xor}
model:
  layers:
    - &dense {type: Dense, units: 8, activation: relu}
    - {type: Dense, units: 1, activation: sigmoid}
compile: {loss: binary_crossentropy, optimizer: adam}
training: {epochs: 1, batch_size: 16}
"""
# 306 bytes that name 9**9 = 387,420,489 strings ("billion laughs").
BOMB = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(
    f"{c}: &{c} [{','.join(['*' + p] * 9)}]\n" for p, c in zip("abcdefgh", "bcdefghi"))


def validate(tmp_path: Path, text: str | bytes, capsys, *args: str) -> tuple[int, str, Path]:
    cfg = tmp_path / "cfg.yaml"
    cfg.write_bytes(text if isinstance(text, bytes) else text.encode())
    code = main(["validate", str(cfg), *args])
    return code, capsys.readouterr().err, cfg


def line_of(text: str, snippet: str) -> int:
    assert text.count(snippet) == 1, snippet
    return text[:text.index(snippet)].count("\n") + 1


def test_valid_base(tmp_path, capsys):
    code, err, _ = validate(tmp_path, VALID, capsys)
    assert code == 0, err


def limited(memory_mb: int):
    limit = memory_mb * 2**20
    return lambda: resource.setrlimit(resource.RLIMIT_AS, (limit, limit))


def test_alias_bomb_fails_fast_in_bounded_memory(tmp_path):
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(BOMB)
    assert len(BOMB) < 1024
    result = subprocess.run([sys.executable, "-m", "expkit", "validate", str(cfg)], capture_output=True, text=True,
                            timeout=60, cwd=ROOT, preexec_fn=limited(120))
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    line = line_of(BOMB, "f: &f")  # 9**6 values: the first anchor over 100,000
    assert result.stderr.startswith(f"{cfg}:{line}:4: f: this value expands to 597,871 values"), result.stderr
    assert "raise the limit: EXPKIT_MAX_CONFIG_NODES=597871" in result.stderr


def test_the_memory_limit_stops_a_loader_that_expands_aliases(tmp_path):
    """The control: under the same limit, expanding the bomb (here: writing it out as JSON) fails."""
    cfg = tmp_path / "bomb.yaml"
    cfg.write_text(BOMB)
    code = f"import json, yaml; json.dumps(yaml.safe_load(open({str(cfg)!r})))"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                            preexec_fn=limited(120))
    assert result.returncode != 0 and "MemoryError" in result.stderr


def test_node_limit_can_be_raised(tmp_path, capsys, monkeypatch):
    text = VALID.replace("experiment: {name: hostile}", "experiment: {name: hostile, tags: [" + ", ".join(
        ["[a, b, c, d, e, f, g, h, i, j]"] * 20) + "]}")
    monkeypatch.setenv("EXPKIT_MAX_CONFIG_NODES", "100")
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2 and "expands to 221 values" in err and "EXPKIT_MAX_CONFIG_NODES=" in err, err
    monkeypatch.setenv("EXPKIT_MAX_CONFIG_NODES", "lots")
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2 and err == "EXPKIT_MAX_CONFIG_NODES must be a whole number, got 'lots'; unset it for the " \
                                "default, 100000\n", err


def test_file_over_the_size_limit_names_the_limit_and_the_variable(tmp_path, capsys, monkeypatch):
    text = VALID + "# padding\n" * 100_001  # 1.1 MB of comments: a valid config, but too large
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2
    assert err == (f"{cfg}: the file is larger than 1,000,000 bytes, the limit for a config file (a config names "
                   "its data files, it does not hold them); to read it anyway, raise the limit: "
                   "EXPKIT_MAX_CONFIG_BYTES=10000000\n")
    monkeypatch.setenv("EXPKIT_MAX_CONFIG_BYTES", "2_000_000")
    code, err, _ = validate(tmp_path, text, capsys)
    assert code == 0, err


def test_a_device_that_never_ends_is_cut_at_the_limit(capsys):
    assert main(["validate", "/dev/zero"]) == 2
    assert "/dev/zero: the file is larger than 1,000,000 bytes" in capsys.readouterr().err


def test_a_folder_is_not_a_config(tmp_path, capsys):
    assert main(["validate", str(tmp_path)]) == 2
    assert capsys.readouterr().err == f"{tmp_path} is a folder, not a config file\n"


@pytest.mark.parametrize("depth", [150, 500, 5000])
def test_deep_nesting_is_refused_with_its_line(tmp_path, capsys, depth):
    text = VALID + "x:\n  " + "[" * depth + "]" * depth + "\n"
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2
    assert err.startswith(f"{cfg}:{line_of(text, '  [[')}:"), err
    assert "nested more than 100 levels deep" in err or "exceeded maximum nesting depth" in err, err


@pytest.mark.parametrize("text", ["a: &a [*a]\n", "a: &a {b: *a}\n", "a: &a {<<: *a}\n", "a: &a [1, [2, *a]]\n"])
def test_self_referencing_anchor(tmp_path, capsys, text):
    code, err, cfg = validate(tmp_path, VALID + text, capsys)
    assert code == 2
    assert err.startswith(f"{cfg}:{line_of(VALID + text, text)}:"), err
    assert "an alias refers to the anchor that contains it" in err, err


@pytest.mark.parametrize("char", ["\x00", "\x01", "\x08", "\x1b", "\x7f", "\x9b"])
def test_control_character_is_located(tmp_path, capsys, char):
    text = VALID.replace("name: hostile", f"name: host{char}ile")
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2
    assert err == (f"{cfg}:1:24: control character U+{ord(char):04X} is not allowed in YAML; delete it (inside a "
                   "double-quoted string it can be written as an escape, e.g. \"\\t\")\n"), err


def test_bytes_that_are_not_utf8_are_located(tmp_path, capsys):
    code, err, cfg = validate(tmp_path, VALID.encode().replace(b"xor", b"x\xffr"), capsys)
    assert code == 2 and err == f"{cfg}:2:18: byte 0xff is not UTF-8 text; save the file as UTF-8\n", err


@pytest.mark.parametrize("value, message", [
    ("!!int abc", "cannot read 'abc' as int"),
    ("2001-02-30", "cannot read '2001-02-30' as timestamp: day is out of range for month"),
    ("!!timestamp soon", "cannot read 'soon' as timestamp"),
    ("1" * 5000, "cannot read '1111"),
    ("!!python/name:os.system", "invalid YAML: could not determine a constructor"),
    ("!!set {a, b}", "YAML tag 'tag:yaml.org,2002:set' is not allowed"),
])
def test_values_yaml_cannot_build_are_located(tmp_path, capsys, value, message):
    text = VALID.replace("training: {epochs: 1, batch_size: 16}", f"training:\n  epochs: {value}")
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2 and f"{cfg}:{line_of(text, '  epochs:')}:11: " in err and message in err, err


@pytest.mark.parametrize("key", ["? [a, b]\n: 1\n", "? {a: 1}\n: 1\n", "1.5: x\n", "~: x\n"])
def test_keys_must_be_names(tmp_path, capsys, key):
    code, err, cfg = validate(tmp_path, VALID + key, capsys)
    assert code == 2 and f"{cfg}:{VALID.count(chr(10)) + 1}:" in err and "keys must be names" in err, err


def test_merge_key_then_override_is_not_a_duplicate(tmp_path):
    text = VALID.replace("    - {type: Dense, units: 1, activation: sigmoid}\n", """\
    - <<: *dense
      units: 4
    - <<: [{units: 2}, *dense]
      activation: tanh
    - {type: Dense, units: 1, activation: sigmoid}
""")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(text)
    loaded = load_config(cfg)
    layers = loaded.config.model.layers
    assert [(l.units, l.activation) for l in layers] == [(8, "relu"), (4, "relu"), (2, "tanh"), (1, "sigmoid")]
    # A merged key points at the line that wrote it (the anchor), an overriding one at its own line.
    assert loaded.source.locate(("model", "layers", 1, "activation")).line == line_of(text, "&dense")
    assert loaded.source.locate(("model", "layers", 1, "units")).line == line_of(text, "units: 4")


def test_duplicate_key_beside_a_merge_is_still_refused(tmp_path, capsys):
    text = VALID.replace("    - {type: Dense, units: 1, activation: sigmoid}\n",
                         "    - <<: *dense\n      units: 4\n      units: 5\n")
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2 and f"{cfg}:{line_of(text, 'units: 5')}:7: model.layers[1].units: duplicate key 'units' " \
                         f"(first written at line {line_of(text, 'units: 4')}); keep one" in err, err


def test_merge_of_a_scalar_is_located(tmp_path, capsys):
    text = VALID.replace("training: {epochs: 1, batch_size: 16}", "training:\n  <<: 5\n")
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2 and f"{cfg}:{line_of(text, '<<: 5')}:7: training: a merge key (<<) takes a mapping" in err, err


def test_set_on_one_use_of_an_alias_changes_only_that_use(tmp_path):
    text = VALID.replace("    - {type: Dense, units: 1, activation: sigmoid}\n",
                         "    - *dense\n    - {type: Dense, units: 1, activation: sigmoid}\n")
    cfg = tmp_path / "cfg.yaml"
    cfg.write_text(text)
    layers = load_config(cfg, ["model.layers.1.units=3"]).config.model.layers
    assert [layer.units for layer in layers] == [8, 3, 1]


def test_extends_overriding_one_use_of_an_alias_changes_only_that_use(tmp_path):
    (tmp_path / "base.yaml").write_text(VALID.replace("training: {epochs: 1, batch_size: 16}", """\
training:
  callbacks:
    early_stopping: &watch {monitor: loss, patience: 2}
    reduce_lr_on_plateau: *watch
"""))
    (tmp_path / "child.yaml").write_text("extends: base.yaml\ntraining:\n  callbacks:\n    early_stopping:\n"
                                         "      patience: 5\n")
    callbacks = load_config(tmp_path / "child.yaml").config.training.callbacks
    assert (callbacks.early_stopping.patience, callbacks.reduce_lr_on_plateau.patience) == (5, 2)


def test_set_value_goes_through_the_same_limits(tmp_path, capsys):
    value = "&a [1, 1, 1, 1, 1, 1, 1, 1, 1, 1]"
    for name in "bcde":
        value = f"&{name} [{value}, " + ", ".join([f"*{chr(ord(name) - 1)}"] * 9) + "]"
    code, err, _ = validate(tmp_path, VALID, capsys, "--set", f"training.epochs={value}")
    assert code == 2 and "training.epochs: the value is not valid YAML: this value expands to 111,111 values" in err
    code, err, _ = validate(tmp_path, VALID, capsys, "--set", "training.epochs=" + "[" * 600 + "]" * 600)
    assert code == 2 and "training.epochs: the value is not valid YAML" in err and "nested" in err, err
    code, err, _ = validate(tmp_path, VALID, capsys, "--set", "training.epochs=&a [*a]")
    assert code == 2 and "an alias refers to the anchor that contains it" in err, err


def test_cross_field_problems_come_with_field_problems(tmp_path, capsys):
    """A bad layer (model) does not hide a loss that does not fit the labels (compile + dataset)."""
    text = VALID.replace("dataset: {name: xor}", "dataset: {name: mnist, validation_split: 0}").replace(
        "units: 8", "units: 0").replace("binary_crossentropy", "categorical_crossentropy").replace(
        "training: {epochs: 1, batch_size: 16}",
        "training:\n  epochs: 1\n  callbacks: {early_stopping: {monitor: val_loss}}\n")
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2
    assert err.startswith("3 problems in the config:\n"), err
    assert f"{cfg}:{line_of(text, '&dense')}:" in err and "units: must be greater than 0, got 0" in err
    assert f"{cfg}:{line_of(text, 'compile:')}:" in err and "categorical_crossentropy needs one-hot labels" in err
    assert f"{cfg}:{line_of(text, 'monitor: val_loss')}:" in err and "no validation split" in err


def test_a_check_does_not_run_on_a_section_that_failed(tmp_path, capsys):
    text = VALID.replace("compile: {loss: binary_crossentropy, optimizer: adam}",
                         "compile: {loss: categorical_crossentropy, optimizer: adm}").replace(
        "dataset: {name: xor}", "dataset: {name: mnist}")
    code, err, _ = validate(tmp_path, text, capsys)
    assert code == 2 and "did you mean 'adam'" in err and "one-hot" not in err, err


def test_thousands_of_problems_print_fifty_lines(tmp_path, capsys):
    text = VALID.replace("    - {type: Dense, units: 1, activation: sigmoid}\n",
                         "    - {type: Dense, units: 0}\n" * 3000)
    code, err, _ = validate(tmp_path, text, capsys)
    assert code == 2 and err.startswith("1000 problems in the config:\n") and err.endswith("... and 950 more\n")
    assert err.count("\n") == 52


def test_python_loader_fallback_gives_the_same_answers(tmp_path, monkeypatch):
    """Without libyaml, PyYAML's Python loader is used: its recursion becomes the same one-line error."""
    monkeypatch.setattr(yamlsource, "_LOADER", yaml.SafeLoader)
    cases = {"deep": VALID + "x: " + "[" * 2000 + "]" * 2000 + "\n", "bomb": BOMB, "self": "a: &a [*a]\n",
             "tab": VALID.replace("  layers:", "\tlayers:")}
    messages = {}
    for name, text in cases.items():
        cfg = tmp_path / f"{name}.yaml"
        cfg.write_text(text)
        with pytest.raises(ConfigError) as info:
            load_config(cfg)
        messages[name] = str(info.value)
    assert messages["deep"].startswith(f"{tmp_path / 'deep.yaml'}") and "nested more than 100" in messages["deep"]
    assert "expands to 597,871 values" in messages["bomb"]
    assert "refers to the anchor that contains it" in messages["self"]
    assert "found character '\\t' that cannot start any token" in messages["tab"]
    merged = tmp_path / "merge.yaml"
    merged.write_text(VALID.replace("    - {type: Dense, units: 1, activation: sigmoid}\n",
                                    "    - {<<: *dense, units: 1}\n"))
    assert [layer.units for layer in load_config(merged).config.model.layers] == [8, 1]


def test_libyaml_is_used_when_present():
    if not yaml.__with_libyaml__:
        pytest.skip("PyYAML was built without libyaml")
    assert yamlsource._LOADER is yaml.CSafeLoader
    assert os.environ.get("EXPKIT_MAX_CONFIG_NODES") is None


def test_undefined_alias_is_named(tmp_path, capsys):
    text = VALID + "x: *nowhere\n"
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2 and f"{cfg}:{line_of(text, '*nowhere')}:4: invalid YAML: found undefined alias 'nowhere'" in err


# --- Code stays out of configs: the escape hatch's allow-list, and git run without the repository's hooks. ---

@pytest.mark.parametrize("layer, message", [
    ({"type": "keras", "class_name": "TFSMLayer", "config": {"filepath": "/tmp/saved", "call_endpoint": "serve"}},
     "model.layers[0].class_name: 'TFSMLayer' is not a layer a config can name"),
    ({"type": "keras", "class_name": "Lambda", "config": {}}, "'Lambda' is not a layer a config can name"),
    ({"type": "keras", "class_name": "TorchModuleWrapper", "config": {}}, "is not a layer a config can name"),
    ({"type": "keras", "class_name": "Dense", "config": {"units": 2, "kernel_initializer": {
        "module": "os", "class_name": "System", "config": {}}}}, "config may not hold 'module'"),
    ({"type": "keras", "class_name": "Dense", "config": {"units": 2, "activation": {
        "class_name": "Function", "function": "print"}}}, "config may not hold 'function'"),
])
def test_escape_hatch_refuses_code_and_files_when_the_config_loads(tmp_path, capsys, layer, message):
    text = VALID.replace("    - &dense {type: Dense, units: 8, activation: relu}\n",
                         "    - " + yaml.safe_dump(layer, default_flow_style=True))
    code, err, cfg = validate(tmp_path, text, capsys)
    assert code == 2 and f"{cfg}:5:" in err and message in err, err


def test_escape_hatch_refuses_a_layer_hidden_in_another_layers_config(tmp_path):
    """Bidirectional's `layer` is deserialized by Keras itself: the builder checks every class it names."""
    from expkit.errors import BuildError
    from expkit.model.builder import build_model
    from tests.helpers import load
    hidden = {"class_name": "TFSMLayer", "config": {"filepath": str(tmp_path / "saved"), "call_endpoint": "serve"}}
    loaded = load(tmp_path, [{"type": "keras", "class_name": "Bidirectional", "config": {"layer": hidden}},
                             {"type": "Dense", "units": 1}])
    with pytest.raises(BuildError, match=r"model\.layers\[0\] \(Keras\): cannot build this layer: the layer "
                                         r"'TFSMLayer' cannot come from a config"):
        build_model(loaded.config, {"input": (5, 3)}, locate=loaded.source.locate)
    built = load(tmp_path, [{"type": "keras", "class_name": "Dense", "config": {
        "units": 3, "kernel_initializer": {"class_name": "HeNormal", "config": {"seed": 1}}}}])
    model = build_model(built.config, {"input": (2,)})
    assert type(model.layers[0].kernel_initializer).__name__ == "HeNormal"


def test_git_runs_in_the_config_files_repository_without_its_fsmonitor(tmp_path, monkeypatch):
    import shutil
    import subprocess as sp
    if not shutil.which("git"):
        pytest.skip("git is not installed")
    from expkit.runstore.writer import git_commit
    repo, marker = tmp_path / "repo", tmp_path / "fsmonitor-ran"
    repo.mkdir()
    hook = tmp_path / "fsmonitor.sh"
    hook.write_text(f"#!/bin/sh\ntouch {marker}\n")
    hook.chmod(0o755)
    git = ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@t"]
    for args in (["init", "-q"], ["config", "core.fsmonitor", str(hook)]):
        sp.run([*git, *args], check=True)
    (repo / "cfg.yaml").write_text(VALID)
    sp.run([*git, "add", "cfg.yaml"], check=True)
    sp.run([*git, "commit", "-qm", "config"], check=True)
    marker.unlink(missing_ok=True)
    sp.run([*git, "status", "--porcelain"], check=True, capture_output=True)
    assert marker.exists(), "control: plain `git status` runs the repository's fsmonitor"
    marker.unlink()
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)  # not a repository: the config file's folder decides
    head = sp.run([*git, "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
    assert git_commit(repo) == head
    assert not marker.exists(), "expkit ran the repository's fsmonitor"
