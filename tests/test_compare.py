"""`expkit compare` and expkit.compare_runs on hand-made run folders (no training, no TensorFlow)."""
from __future__ import annotations

import csv
import io
import itertools
import json
import math
import os
import statistics
import subprocess
import sys
from pathlib import Path

import pytest

import expkit
from expkit.analysis.render import render
from expkit.analysis.compare import compare_runs, differing_keys, format_number, lower_is_better
from expkit.errors import ExpkitError
from expkit.runstore import SEED_KEY, config_hash

ROOT = Path(__file__).resolve().parents[1]
_clock = itertools.count()


def make_run(root: Path, *, name: str = "exp", seed: int = 0, units=(16,), lr: float = 0.01, optimizer: str = "adam",
             status: str = "completed", test_accuracy: float = 0.9, test_loss: float = 0.3,
             metrics_csv: list[dict] | None = None, results: dict | None = None) -> Path:
    """A run folder as `expkit train` writes it, minus model.keras and tb/."""
    tick = next(_clock)
    run_id = f"20260101-{tick:06d}-{name}-{tick:04x}"
    path = root / run_id
    path.mkdir(parents=True)
    layers = [{"type": "Dense", "units": u, "activation": "relu"} for u in units]
    config = {
        "experiment": {"name": name, "seed": seed, "tags": ["toy"]},
        "dataset": {"name": "xor", "samples": 200},
        "model": {"layers": layers + [{"type": "Dense", "units": 1, "activation": "sigmoid"}]},
        "compile": {"loss": {"name": "binary_crossentropy"}, "metrics": ["accuracy"],
                    "optimizer": {"name": optimizer, "learning_rate": lr}},
        "training": {"epochs": 3, "batch_size": 32},
    }
    (path / "config.json").write_text(json.dumps(config))
    info = {"id": run_id, "name": name, "status": status, "start_time": f"2026-01-01T00:{tick // 60 % 60:02d}:"
            f"{tick % 60:02d}+00:00", "seed": seed, "error": "boom" if status == "failed" else None}
    (path / "run.json").write_text(json.dumps(info))
    if metrics_csv:
        with (path / "metrics.csv").open("w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(metrics_csv[0]))
            writer.writeheader()
            writer.writerows(metrics_csv)
    if status == "completed":
        results = results or {
            "train": {"loss": test_loss - 0.1, "accuracy": test_accuracy + 0.05},
            "val": {"loss": test_loss + 0.01, "accuracy": test_accuracy - 0.01},
            "test": {"loss": test_loss, "accuracy": test_accuracy},
            "params": sum(units) * 3 + 1, "epochs_run": 3, "training_seconds": 1.25}
        (path / "results.json").write_text(json.dumps(results))
    return path


def names(table, key="model.layers.0.units"):
    return [row[key] for row in table.rows]


def expkit_cli(*args):
    return subprocess.run([sys.executable, "-m", "expkit", *map(str, args)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60)


@pytest.fixture
def sweep(tmp_path):
    """Units 16/64/128 with an sgd run among them: layer width and optimizer differ, nothing else."""
    make_run(tmp_path, units=(16,), test_accuracy=0.80, test_loss=0.45)
    make_run(tmp_path, units=(64,), test_accuracy=0.95, test_loss=0.12)
    make_run(tmp_path, units=(128,), test_accuracy=0.90, test_loss=0.20, optimizer="sgd")
    return tmp_path


# --- which columns ---------------------------------------------------------------------------------

def test_columns_are_name_id_status_then_the_differing_config_keys_then_results(sweep):
    table = compare_runs(sweep)
    assert table.columns == ["name", "id", "status", "model.layers.0.units", "compile.optimizer.name",
                             "train.loss", "train.accuracy", "val.loss", "val.accuracy", "test.loss",
                             "test.accuracy", "params", "training_seconds"]
    assert names(table) == [16, 64, 128]
    assert not table.grouped


def test_all_columns_adds_the_keys_every_run_shares(sweep):
    columns = compare_runs(sweep, all_columns=True).columns
    assert {"dataset.name", "training.epochs", "compile.optimizer.learning_rate", "experiment.tags"} <= set(columns)


def test_nested_list_keys_name_each_layer_and_a_missing_layer_is_blank(tmp_path):
    make_run(tmp_path, units=(32,))
    make_run(tmp_path, units=(32, 8))
    table = compare_runs(tmp_path)
    # The second run's layer 1 is Dense(8) where the first run's is the sigmoid output; layer 2 exists once.
    assert "model.layers.1.units" in table.columns and "model.layers.2.units" in table.columns
    assert "model.layers.0.units" not in table.columns  # 32 in both
    assert [row["model.layers.1.units"] for row in table.rows] == [1, 8]
    assert [row["model.layers.2.units"] for row in table.rows] == [None, 1]
    assert table.columns.index("model.layers.1.units") < table.columns.index("model.layers.2.units")


def test_differing_keys_counts_an_absent_key_as_a_difference():
    records = [{"a": 1, "b": [1, 2], "c": 3}, {"a": 1, "b": [1, 2], "c": 4, "d": None}]
    assert differing_keys(records, ["a", "b", "c", "d"]) == ["c", "d"]


def test_columns_option_picks_and_orders_columns_with_globs(sweep):
    table = compare_runs(sweep, columns="test.accuracy,model.*.units,name")
    assert table.columns == ["test.accuracy", "model.layers.0.units", "model.layers.1.units", "name"]
    assert set(table.rows[0]) == set(table.columns)


def test_unknown_column_is_an_error_that_suggests_the_nearest(sweep):
    with pytest.raises(ExpkitError, match=r"'test.acuracy'.*did you mean 'test.accuracy'"):
        compare_runs(sweep, columns=["test.acuracy"])


# --- filters ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("expr, kept", [
    ("model.layers.0.units=64", [64]),
    ("model.layers.0.units==64", [64]),
    ("model.layers.0.units!=64", [16, 128]),
    ("model.layers.0.units>64", [128]),
    ("model.layers.0.units>=64", [64, 128]),
    ("model.layers.0.units<64", [16]),
    ("model.layers.0.units<=64", [16, 64]),
    ("model.layers[0].units = 16", [16]),          # the diff's spelling, spaces around the operator
    ("test.accuracy>0.9", [64]),
    ("test.accuracy>=0.9", [64, 128]),
    ("test.loss<0.2", [64]),
    ("compile.optimizer.name=sgd", [128]),
    ("compile.optimizer.name!=sgd", [16, 64]),
    ("compile.optimizer.name>adam", [128]),        # strings compare as strings
    ("compile.optimizer.learning_rate=1e-2", [16, 64, 128]),  # YAML 1.1 reads 1e-2 as text: taken as a number
    ("status=completed", [16, 64, 128]),
    ("experiment.tags=toy", [16, 64, 128]),         # a list matches an item it holds
    ("model.layers.0.units>sgd", []),               # a number and a text never order
])
def test_filter_operators(sweep, expr, kept):
    assert names(compare_runs(sweep, filters=[expr], columns=["model.layers.0.units"])) == kept


def test_filters_all_hold(sweep):
    table = compare_runs(sweep, filters=["test.accuracy>0.85", "compile.optimizer.name=adam"], columns="model.*")
    assert names(table) == [64]


def test_unknown_filter_key_is_an_error_that_suggests_the_nearest(sweep):
    with pytest.raises(ExpkitError) as err:
        compare_runs(sweep, filters=["model.layer.0.units=64"])
    assert "no run has the key 'model.layer.0.units'" in str(err.value)
    assert "did you mean 'model.layers.0.units'?" in str(err.value)


@pytest.mark.parametrize("expr", ["test.accuracy", "=0.9", "test.accuracy~0.9", ""])
def test_malformed_filter_is_an_error_naming_the_operators(sweep, expr):
    with pytest.raises(ExpkitError, match="expected KEY OP VALUE with OP one of = != > >= < <="):
        compare_runs(sweep, filters=[expr])


# --- sorting ---------------------------------------------------------------------------------------

def test_accuracy_sorts_descending_and_loss_ascending(sweep):
    assert names(compare_runs(sweep, sort="test.accuracy")) == [64, 128, 16]
    assert names(compare_runs(sweep, sort="test.loss")) == [64, 128, 16]
    assert names(compare_runs(sweep, sort="model.layers.0.units")) == [16, 64, 128]


def test_explicit_direction_overrides_the_default(sweep):
    assert names(compare_runs(sweep, sort="test.accuracy", descending=False)) == [16, 128, 64]
    assert names(compare_runs(sweep, sort="test.loss", descending=True)) == [16, 128, 64]


def test_blank_values_sort_last_in_both_directions(sweep):
    make_run(sweep, units=(256,), status="running")
    assert names(compare_runs(sweep, sort="test.accuracy"))[-1] == 256
    assert names(compare_runs(sweep, sort="test.accuracy", descending=False))[-1] == 256


@pytest.mark.parametrize("key, lower", [("test.loss", True), ("val.mse", True), ("train.mae", True),
                                        ("test.rmse", True), ("val.mean_absolute_error", True),
                                        ("test.accuracy", False), ("val.auc", False), ("test.precision", False)])
def test_lower_is_better(key, lower):
    assert lower_is_better(key) is lower


def test_unknown_sort_key_is_an_error(sweep):
    with pytest.raises(ExpkitError, match="did you mean 'test.accuracy'"):
        compare_runs(sweep, sort="test.acc")


# --- seed groups -----------------------------------------------------------------------------------

@pytest.fixture
def seeds(tmp_path):
    for seed, acc in enumerate([0.90, 0.92, 0.97]):
        make_run(tmp_path, seed=seed, units=(64,), test_accuracy=acc)
    make_run(tmp_path, seed=0, units=(8,), test_accuracy=0.70)
    return tmp_path


def test_seed_groups_show_mean_and_sample_std(seeds):
    table = compare_runs(seeds)
    assert table.grouped
    assert table.columns[:5] == ["name", "n", "id", "status", "model.layers.0.units"]
    assert "experiment.seed" not in table.columns
    wide, narrow = table.rows
    assert (wide["n"], narrow["n"]) == (3, 1)
    # mean 0.93; deviations -0.03, -0.01, +0.04: sample variance (0.0009 + 0.0001 + 0.0016) / 2 = 0.0013
    assert wide["test.accuracy"] == pytest.approx(0.93)
    assert wide["test.accuracy.std"] == pytest.approx(math.sqrt(0.0013))
    assert wide["test.accuracy.std"] == pytest.approx(statistics.stdev([0.90, 0.92, 0.97]))
    assert narrow["test.accuracy"] == pytest.approx(0.70) and narrow["test.accuracy.std"] is None
    assert "params.std" not in table.columns  # a function of the config: equal within a group


def test_seed_groups_are_the_config_hash_groups(seeds):
    make_run(seeds, seed=1, units=(8,), lr=0.5)  # differs from the units=8 run by the learning rate too
    table = compare_runs(seeds, columns=["id", "group", "n"])
    runs = {run.id: run for run in expkit.load_runs(seeds)}
    assert sorted(row["n"] for row in table.rows) == [1, 1, 3]
    assert len({row["group"] for row in table.rows}) == 3
    for row in table.rows:
        ids = row["id"] if isinstance(row["id"], list) else [row["id"]]
        assert {config_hash(runs[i].config, ignore=[SEED_KEY]) for i in ids} == {row["group"]}


def test_seed_group_rendering_is_mean_plus_minus_std(seeds):
    text = render(compare_runs(seeds), "table")
    assert "0.9300 ± 0.036" in text
    assert "± ±" not in text


def test_seed_groups_sort_by_mean_or_by_n(seeds):
    assert [r["n"] for r in compare_runs(seeds, sort="test.accuracy", descending=False).rows] == [1, 3]
    assert [r["n"] for r in compare_runs(seeds, sort="n", descending=True).rows] == [3, 1]


def test_grouping_is_off_when_no_two_runs_differ_only_by_seed(tmp_path):
    make_run(tmp_path, seed=0, units=(8,))
    make_run(tmp_path, seed=1, units=(16,))
    table = compare_runs(tmp_path)
    assert not table.grouped and "experiment.seed" in table.columns


def test_no_group_by_seed_keeps_one_row_per_run(seeds):
    table = compare_runs(seeds, group_by_seed=False)
    assert len(table.rows) == 4 and "experiment.seed" in table.columns and "n" not in table.columns


def test_a_group_with_a_failed_run_averages_the_completed_ones(tmp_path):
    make_run(tmp_path, seed=0, test_accuracy=0.8)
    make_run(tmp_path, seed=1, test_accuracy=0.9)
    make_run(tmp_path, seed=2, status="failed")
    table = compare_runs(tmp_path, columns=["n", "status", "id", "experiment.seed", "test.accuracy"])
    (row,) = table.rows
    assert row["n"] == 3 and row["status"] == "2 completed, 1 failed"
    assert row["test.accuracy"] == pytest.approx(0.85) and row["experiment.seed"] == [0, 1, 2]
    assert len(row["id"]) == 3


# --- formats ---------------------------------------------------------------------------------------

def test_csv_parses_back_with_full_precision(sweep):
    table = compare_runs(sweep)
    rows = list(csv.DictReader(io.StringIO(render(table, "csv"))))
    assert list(rows[0]) == table.columns
    assert [float(r["test.accuracy"]) for r in rows] == [0.80, 0.95, 0.90]
    assert rows[2]["compile.optimizer.name"] == "sgd"


def test_json_parses_back(sweep):
    data = json.loads(render(compare_runs(sweep, sort="test.accuracy"), "json"))
    assert data["columns"][0] == "name" and data["metric"] == "final" and data["grouped"] is False
    assert [r["test.accuracy"] for r in data["rows"]] == [0.95, 0.90, 0.80]


def test_markdown_is_a_table_with_one_cell_per_column(seeds):
    table = compare_runs(seeds)
    lines = render(table, "markdown").splitlines()
    header = [c.strip() for c in lines[0].strip("|").split("|")]
    assert header == [c for c in table.columns if not c.endswith(".std")]
    assert lines[1].startswith("|---|---:|")
    assert all(len(line.strip("|").split("|")) == len(header) for line in lines)
    assert len(lines) == 2 + len(table.rows)


def test_text_table_aligns_columns(sweep):
    lines = render(compare_runs(sweep), "table").splitlines()
    assert lines[0].split() == compare_runs(sweep).columns
    assert set(lines[1]) == {"-", " "}
    assert "0.9500" in lines[3] and "sgd" in lines[4]


def test_format_number_is_compact():
    assert [format_number(v) for v in (0.95123, 1.0, 0.0012346, 0.0, 12.34567, 3.2e-7)] == \
        ["0.9512", "1.0000", "0.001235", "0", "12.3457", "3.2e-07"]


# --- runs that are not (or not yet) complete ---------------------------------------------------------

def test_running_and_failed_runs_show_their_status_with_blank_metrics(sweep):
    make_run(sweep, units=(256,), status="running")
    make_run(sweep, units=(512,), status="failed")
    table = compare_runs(sweep)
    by_units = {row["model.layers.0.units"]: row for row in table.rows}
    assert by_units[256]["status"] == "running" and by_units[512]["status"] == "failed"
    assert all(by_units[u][k] is None for u in (256, 512) for k in ("test.accuracy", "train.loss", "params"))
    line = next(r for r in csv.DictReader(io.StringIO(render(table, "csv"))) if r["model.layers.0.units"] == "256")
    assert line["status"] == "running" and line["test.accuracy"] == ""


def test_bad_folders_are_reported_and_skipped(sweep):
    broken = make_run(sweep, units=(512,))
    (broken / "run.json").write_text("{not json")
    (sweep / "half_written").mkdir()
    (sweep / "half_written" / "config.json").write_text("{}")
    table = compare_runs(sweep)
    assert names(table) == [16, 64, 128]
    assert len(table.problems) == 2
    assert any(f"{broken}: run.json is unreadable" in p for p in table.problems)
    assert any("half_written: not a run folder (no run.json)" in p for p in table.problems)


def test_folders_and_files_a_glob_names_beside_runs_are_passed_over(sweep):
    (sweep / "sweep.json").write_text("{}")  # `expkit compare runs/my_sweep/*` names these too
    (sweep / "logs").mkdir()
    (sweep / "logs" / "point-1.log").write_text("...")
    table = compare_runs(sorted(sweep.iterdir()))
    assert len(table.rows) == 3 and table.problems == []


def test_when_nothing_named_holds_a_run_the_error_says_why(tmp_path):
    (tmp_path / "sweep.json").write_text("{}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExpkitError) as err:
        compare_runs([tmp_path / "sweep.json", tmp_path / "empty"])
    assert "sweep.json: a file, not a run folder" in str(err.value)
    assert "empty: holds no run folder" in str(err.value)


def test_no_runs_is_an_error(tmp_path):
    with pytest.raises(ExpkitError, match="no runs found"):
        compare_runs(tmp_path)


def test_a_quoted_glob_is_expanded(sweep):
    assert len(compare_runs(str(sweep / "2026*")).rows) == 3


# --- --metric best ---------------------------------------------------------------------------------

def epochs(*rows):
    keys = ("epoch", "loss", "accuracy", "val_loss", "val_accuracy", "learning_rate", "epoch_seconds")
    return [dict(zip(keys, row)) for row in rows]


def test_metric_best_takes_the_epoch_with_the_best_validation_value(tmp_path):
    make_run(tmp_path, units=(8,), metrics_csv=epochs(
        (1, 0.60, 0.70, 0.55, 0.72, 0.01, 1.0),
        (2, 0.40, 0.80, 0.35, 0.86, 0.01, 1.0),   # lowest val_loss
        (3, 0.30, 0.85, 0.38, 0.88, 0.01, 1.0),   # highest val_accuracy
        (4, 0.25, 0.90, 0.45, 0.84, 0.01, 1.0)))  # final
    make_run(tmp_path, units=(16,), metrics_csv=epochs((1, 0.5, 0.75, 0.5, 0.8, 0.01, 1.0)))
    by_loss = compare_runs(tmp_path, metric="best", group_by_seed=False)
    assert by_loss.columns[4] == "best_epoch" and not any(c.startswith("test.") for c in by_loss.columns)
    first = by_loss.rows[0]
    assert (first["best_epoch"], first["val.loss"], first["val.accuracy"], first["train.loss"]) == (2, 0.35, 0.86, 0.40)
    by_accuracy = compare_runs(tmp_path, metric="best", sort="val.accuracy")
    assert [r["best_epoch"] for r in by_accuracy.rows] == [3, 1]
    assert by_accuracy.rows[0]["val.accuracy"] == 0.88


def test_metric_best_without_validation_uses_the_training_metric(tmp_path):
    rows = [{"epoch": e, "loss": loss, "accuracy": a, "learning_rate": 0.01} for e, loss, a in
            [(1, 0.5, 0.7), (2, 0.2, 0.9), (3, 0.3, 0.95)]]
    make_run(tmp_path, metrics_csv=rows)
    (row,) = compare_runs(tmp_path, metric="best").rows
    assert row["best_epoch"] == 2 and row["train.loss"] == 0.2


def test_metric_best_falls_back_to_val_loss_when_a_run_lacks_the_sort_metric(tmp_path):
    make_run(tmp_path, units=(8,), metrics_csv=epochs((1, 0.5, 0.7, 0.4, 0.7, 0.01, 1),
                                                      (2, 0.4, 0.8, 0.5, 0.9, 0.01, 1)))
    rows = [{"epoch": e, "loss": 0.5, "val_loss": v, "val_mse": m} for e, v, m in [(1, 0.4, 0.1), (2, 0.3, 0.2)]]
    make_run(tmp_path, units=(16,), metrics_csv=rows)
    best = compare_runs(tmp_path, metric="best", sort="val.accuracy", columns="model.layers.0.units,best_epoch").rows
    assert best == [{"model.layers.0.units": 8, "best_epoch": 2}, {"model.layers.0.units": 16, "best_epoch": 2}]
    best = compare_runs(tmp_path, metric="best", sort="val.mse", columns="model.layers.0.units,best_epoch").rows
    assert best == [{"model.layers.0.units": 16, "best_epoch": 1}, {"model.layers.0.units": 8, "best_epoch": 1}]


def test_metric_best_has_no_test_metrics_to_sort_by(sweep):
    with pytest.raises(ExpkitError, match="sort by val.accuracy or use --metric final"):
        compare_runs(sweep, metric="best", sort="test.accuracy")


# --- the command and the API -----------------------------------------------------------------------

def test_cli_end_to_end(sweep):
    (sweep / "half_written").mkdir()
    (sweep / "half_written" / "metrics.csv").write_text("epoch\n")
    done = expkit_cli("compare", sweep, "--sort", "test.accuracy", "--filter", "status=completed",
                      "--format", "csv")
    assert done.returncode == 0, done.stderr
    assert [r["model.layers.0.units"] for r in csv.DictReader(io.StringIO(done.stdout))] == ["64", "128", "16"]
    assert done.stderr.strip() == f"skipped {sweep / 'half_written'}: not a run folder (no run.json)"


@pytest.mark.parametrize("args, message", [
    (["--filter", "test.acuracy>0.9"], "did you mean 'test.accuracy'?"),
    (["--sort", "nope"], "no run has the key 'nope'"),
    (["--metric", "best", "--sort", "test.loss"], "--metric best has none"),
])
def test_cli_bad_input_exits_2_without_traceback(sweep, args, message):
    done = expkit_cli("compare", sweep, *args)
    assert done.returncode == 2 and message in done.stderr and "Traceback" not in done.stderr
    assert done.stderr.startswith("error: ")


def test_cli_filter_that_matches_nothing_prints_the_header_and_exits_0(sweep):
    done = expkit_cli("compare", sweep, "--filter", "test.accuracy>0.99", "--format", "csv")
    assert done.returncode == 0 and done.stderr.strip() == "no run matches the filters"
    assert done.stdout.splitlines() == ["name,id,status,train.loss,train.accuracy,val.loss,val.accuracy,"
                                        "test.loss,test.accuracy,params,training_seconds"]


def test_cli_no_runs_and_missing_folder_exit_2(tmp_path):
    done = expkit_cli("compare", tmp_path)
    assert done.returncode == 2 and "error: no runs found" in done.stderr and "Traceback" not in done.stderr
    done = expkit_cli("compare", tmp_path / "nope")
    assert done.returncode == 2 and "no such file or folder" in done.stderr


def test_compare_and_diff_never_import_tensorflow(seeds):
    runs = sorted(str(p) for p in seeds.iterdir())
    code = (f"import sys, io, contextlib\nfrom expkit.cli import main\n"
            f"with contextlib.redirect_stdout(io.StringIO()):\n"
            f"    assert main(['compare', {str(seeds)!r}, '--metric', 'best']) == 0\n"
            f"    assert main(['diff', {runs[0]!r}, {runs[1]!r}]) == 0\n"
            f"import expkit; expkit.compare_runs({str(seeds)!r})\n"
            f"heavy = sorted(m for m in sys.modules if m.split('.')[0] in ('tensorflow', 'keras', 'pandas', 'numpy'))\n"
            f"print(heavy)")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_api_is_exposed_lazily_and_warns_about_bad_runs(sweep):
    done = subprocess.run([sys.executable, "-c", "import sys, expkit; print('expkit.api' in sys.modules)"],
                          capture_output=True, text=True, cwd=ROOT, timeout=60)
    assert done.stdout.strip() == "False"
    (sweep / "junk").mkdir()
    (sweep / "junk" / "results.json").write_text("{}")
    with pytest.warns(UserWarning, match="junk: not a run folder"):
        runs = expkit.load_runs(sweep)
    assert [r.flat_config["model.layers.0.units"] for r in runs] == [16, 64, 128]
    with pytest.warns(UserWarning):
        table = expkit.compare_runs([*runs, sweep / "junk"], sort="test.loss")  # Run objects and paths
    assert names(table) == [64, 128, 16]
    assert "test.accuracy" in repr(table).splitlines()[0]


def test_to_pandas(sweep):
    pytest.importorskip("pandas")
    frame = expkit.compare_runs(sweep).to_pandas()
    assert list(frame.columns) == expkit.compare_runs(sweep).columns
    assert frame["test.accuracy"].tolist() == [0.80, 0.95, 0.90]


def test_to_pandas_without_pandas_says_how_to_get_it(sweep, monkeypatch):
    monkeypatch.setitem(sys.modules, "pandas", None)
    with pytest.raises(ImportError, match="pip install pandas"):
        expkit.compare_runs(sweep).to_pandas()


# --- mixed experiments: the terminal's width, ids, --group-by ---------------------------------------

@pytest.fixture
def mixed(tmp_path):
    """20 runs of four experiments: different depths, optimizers, learning rates; seeds repeat configs."""
    plans = [("mlp", (16,), "adam", 0.01), ("deep", (64, 64, 32, 16, 8), "sgd", 0.1),
             ("wide", (512, 256), "rmsprop", 0.001), ("odd", (3, 5, 7), "adamw", 0.0003)]
    for i in range(20):
        name, units, optimizer, lr = plans[i % 4]
        make_run(tmp_path, name=name, seed=i // 4 % 3, units=units, optimizer=optimizer, lr=lr * (1 + i // 12),
                 test_accuracy=0.5 + i / 50)
    return tmp_path


def test_mixed_runs_fit_the_terminal_and_list_the_columns_left_out(mixed):
    wide = compare_runs(mixed)
    full = render(wide, "table").splitlines()
    assert max(map(len, full)) > 100  # without a width the table is wider than the terminal below
    done = subprocess.run([sys.executable, "-m", "expkit", "compare", str(mixed)], capture_output=True, text=True,
                          cwd=ROOT, timeout=60, env={**os.environ, "COLUMNS": "100"})
    assert done.returncode == 0, done.stderr
    table, _, note = done.stdout.partition("\n\n")
    lines = table.splitlines()
    assert max(map(len, done.stdout.splitlines())) <= 100
    assert lines[0].split()[:4] == ["name", "n", "id", "status"] and "test.accuracy" in lines[0]
    hidden = [c for c in wide.columns if c not in lines[0].split() and not c.endswith(".std")]
    assert hidden and " ".join(note.split()).startswith(f"{len(hidden)} more column(s) did not fit in 100 characters")
    assert all(c in " ".join(note.split()) for c in hidden) and "--columns" in note and "--format csv" in note
    # a grouped row keeps its runs' ids: the first one, then how many more
    first = wide.rows[0]["id"]
    assert f"{first[0]} +{len(first) - 1}" in lines[2]


def test_columns_id_prints_plain_ids_one_per_line(mixed):
    done = expkit_cli("compare", mixed, "--columns", "id")
    assert done.returncode == 0, done.stderr
    assert sorted(done.stdout.splitlines()) == sorted(p.name for p in mixed.iterdir())


def test_group_by_experiment_name(mixed):
    table = compare_runs(mixed, group_by="experiment.name")
    assert sorted((row["name"], row["n"]) for row in table.rows) == [("deep", 5), ("mlp", 5), ("odd", 5), ("wide", 5)]
    assert "compile.optimizer.name" in table.columns  # one optimizer per experiment: it describes the group
    assert "experiment.seed" not in table.columns
    assert "compile.optimizer.learning_rate" not in table.columns  # varies inside groups: says nothing
    mlp = next(row for row in table.rows if row["name"] == "mlp")
    assert mlp["test.accuracy"] == pytest.approx(statistics.mean(0.5 + i / 50 for i in range(0, 20, 4)))
    assert len(mlp["id"]) == 5
    done = expkit_cli("compare", mixed, "--group-by", "experiment.nme")
    assert done.returncode == 2 and "did you mean 'experiment.name'?" in done.stderr


def _move_data(run: Path, path: str, sha: str | None) -> None:
    config = json.loads((run / "config.json").read_text())
    config["dataset"] = {"name": "npz", "path": path}
    (run / "config.json").write_text(json.dumps(config))
    info = json.loads((run / "run.json").read_text())
    if sha:
        info["data_fingerprint"] = {"files": 1, "bytes": 10, "sha256": sha}
    (run / "run.json").write_text(json.dumps(info))


def test_a_moved_data_file_with_the_same_content_stays_in_one_seed_group(tmp_path):
    a, b = make_run(tmp_path, seed=0), make_run(tmp_path, seed=1)
    _move_data(a, "/old/place/data.npz", "abc123")
    _move_data(b, "/new/place/data.npz", "abc123")
    table = compare_runs([tmp_path])
    assert table.grouped and len(table.rows) == 1 and table.rows[0]["n"] == 2


def test_different_data_content_splits_seed_groups(tmp_path):
    a, b = make_run(tmp_path, seed=0), make_run(tmp_path, seed=1)
    _move_data(a, "/data/x.npz", "abc123")
    _move_data(b, "/data/x.npz", "def456")  # the same path, changed content
    table = compare_runs([tmp_path], group_by_seed=True)
    assert len(table.rows) == 2
