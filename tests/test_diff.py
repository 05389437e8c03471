"""`expkit diff`: config changes key by key (layers aligned, not shifted) and metrics side by side."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from expkit.analysis.diff import ABSENT, Change, diff_configs, diff_text, metric_rows
from expkit.runstore import read_run
from tests.test_compare import make_run

ROOT = Path(__file__).resolve().parents[1]


def dense(units, **extra):
    return {"type": "Dense", "units": units, "activation": "relu", **extra}


def model(*layers):
    return {"experiment": {"name": "x", "seed": 0}, "model": {"layers": list(layers)}}


def lines(a, b):
    return [str(change) for change in diff_configs(a, b)]


def test_identical_configs_have_no_changes():
    assert diff_configs(model(dense(8)), model(dense(8))) == []


def test_a_changed_value_is_one_line_with_its_path():
    a = model(dense(8), {"type": "Dropout", "rate": 0.2}, dense(1))
    b = model(dense(8), {"type": "Dropout", "rate": 0.5}, dense(1))
    assert lines(a, b) == ["model.layers[1].rate: 0.2 → 0.5"]


def test_an_inserted_layer_is_one_added_line_not_a_cascade_of_shifted_indexes():
    a = model(dense(64), dense(32), dense(10))
    b = model(dense(64), {"type": "Dropout", "rate": 0.3}, dense(32), dense(10))
    changes = diff_configs(a, b)
    assert changes == [Change("model.layers[1]", ABSENT, {"type": "Dropout", "rate": 0.3})]
    assert str(changes[0]) == "model.layers[1]: (absent) → {type: Dropout, rate: 0.3}"
    assert changes[0].kind == "added"


def test_a_removed_layer_is_one_line():
    a = model(dense(64), dense(32), dense(10))
    b = model(dense(64), dense(10))
    assert lines(a, b) == ["model.layers[1]: {type: Dense, units: 32, activation: relu} → (absent)"]


def test_an_insertion_and_a_changed_later_layer_name_both_positions():
    a = model(dense(64), dense(10))
    b = model({"type": "Flatten"}, dense(64), dense(2))
    assert lines(a, b) == ["model.layers[0]: (absent) → {type: Flatten}", "model.layers[1→2].units: 10 → 2"]


def test_a_layer_of_another_type_is_one_line_with_both_layers():
    a = model(dense(8), {"type": "Dropout", "rate": 0.2})
    b = model(dense(8), {"type": "BatchNormalization", "momentum": 0.99})
    assert lines(a, b) == ["model.layers[1]: {type: Dropout, rate: 0.2} → {type: BatchNormalization, momentum: 0.99}"]


def test_added_and_removed_keys_and_scalar_lists():
    a = {"compile": {"metrics": ["accuracy"], "optimizer": {"name": "adam", "learning_rate": 0.001}}}
    b = {"compile": {"metrics": ["accuracy", "auc"], "optimizer": {"name": "adam", "clipnorm": 1.0}}}
    assert lines(a, b) == ["compile.metrics: [accuracy] → [accuracy, auc]",
                           "compile.optimizer.learning_rate: 0.001 → (absent)",
                           "compile.optimizer.clipnorm: (absent) → 1.0"]


def test_int_and_float_of_one_value_are_equal_but_text_and_bool_are_not():
    assert diff_configs({"a": 1, "b": "1", "c": True}, {"a": 1.0, "b": 1, "c": 1}) == [
        Change("b", "1", 1), Change("c", True, 1)]
    assert lines({"b": "1"}, {"b": 1}) == ['b: "1" → 1']


def test_metric_rows_give_both_values_and_the_change(tmp_path):
    a = read_run(make_run(tmp_path, units=(8,), test_accuracy=0.90, test_loss=0.30))
    b = read_run(make_run(tmp_path, units=(16,), test_accuracy=0.95, test_loss=0.20))
    rows = {key: (va, vb, d) for key, va, vb, d in metric_rows(a, b)}
    assert list(rows)[:6] == ["train.loss", "train.accuracy", "val.loss", "val.accuracy", "test.loss", "test.accuracy"]
    assert rows["test.accuracy"][:2] == (0.90, 0.95) and rows["test.accuracy"][2] == pytest.approx(0.05)
    assert rows["params"] == (25, 49, 24)


def test_text_lists_changes_then_metrics(tmp_path):
    a = read_run(make_run(tmp_path, units=(8,), test_accuracy=0.90))
    b = read_run(make_run(tmp_path, units=(16,), test_accuracy=0.95, lr=0.001))
    text = diff_text(a, b).splitlines()
    assert text[0] == f"a: {a.path} (completed)" and text[1] == f"b: {b.path} (completed)"
    assert text[3:6] == ["config: 2 changes", "  model.layers[0].units: 8 → 16",
                         "  compile.optimizer.learning_rate: 0.01 → 0.001"]
    assert text[7].split() == ["metric", "a", "b", "change"]
    assert next(line for line in text if "test.accuracy" in line).split() == ["test.accuracy", "0.9000", "0.9500",
                                                                             "+0.0500"]


def test_a_running_run_has_blank_metrics(tmp_path):
    a = read_run(make_run(tmp_path, status="running"))
    b = read_run(make_run(tmp_path))
    text = diff_text(a, b)
    assert "config: identical" in text and "(running)" in text
    assert next(line for line in text.splitlines() if "test.accuracy" in line).split() == ["test.accuracy", "0.9000"]


def expkit_cli(*args):
    return subprocess.run([sys.executable, "-m", "expkit", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


def test_cli_text_json_and_run_ids(tmp_path):
    a = make_run(tmp_path, units=(8,))
    b = make_run(tmp_path, units=(8, 4))
    done = expkit_cli("diff", a, b)
    assert done.returncode == 0, done.stderr
    assert "  model.layers[1]: (absent) → {type: Dense, units: 4, activation: relu}" in done.stdout.splitlines()
    data = json.loads(expkit_cli("diff", a, b, "--format", "json").stdout)
    assert data["changes"] == [{"key": "model.layers[1]", "kind": "added", "a": None,
                                "b": {"type": "Dense", "units": 4, "activation": "relu"}}]
    assert {m["key"] for m in data["metrics"]} >= {"test.accuracy", "params"}
    by_id = expkit_cli("diff", a.name[-4:], b.name[-4:], "--runs-dir", tmp_path)
    assert by_id.returncode == 0 and by_id.stdout == done.stdout


@pytest.mark.parametrize("which, message", [
    ("missing", "no such run folder"),
    ("parent", "holds 2 runs, but diff compares two run folders"),
    ("corrupt", "run.json is unreadable"),
])
def test_cli_bad_runs_exit_2_without_traceback(tmp_path, which, message):
    a = make_run(tmp_path / "runs")
    make_run(tmp_path / "runs")
    other = {"missing": tmp_path / "nope", "parent": tmp_path / "runs"}.get(which)
    if which == "corrupt":
        other = make_run(tmp_path / "more")
        (other / "run.json").write_text("{")
    done = expkit_cli("diff", a, other, "--runs-dir", tmp_path / "runs")
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
