"""Liveness and the run store's resume helpers, without TensorFlow: a 'running' run whose process is
gone (no such pid, or the pid reused by a later process) is 'stale' in compare and diff; --metric best
reads an unfinished run's finished epochs; temporary files of dead writers are cleaned up; metrics.csv is
cut back to the epoch a run resumes from; run.json of a run from before attempts gets an attempts list."""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from expkit.analysis.compare import compare_runs
from expkit.analysis.diff import diff_text
from expkit.runstore import RunRecord, clean_temp_files, now, read_run
from expkit.runstore.liveness import process_gone, process_start
from expkit.training.callbacks import keep_epochs
from test_compare import epochs, make_run

FIXTURE = Path(__file__).parent / "fixtures" / "runs" / "20261204-181656-format1-xor-91b8"


def dead_pid() -> int:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    return proc.pid


def set_process(run_dir: Path, **fields) -> None:
    info = json.loads((run_dir / "run.json").read_text())
    info.update(fields)
    (run_dir / "run.json").write_text(json.dumps(info))


def test_a_running_run_whose_process_is_gone_is_stale(tmp_path):
    me = {"host": platform.node(), "pid": os.getpid(), "process_start": process_start(os.getpid())}
    alive = make_run(tmp_path, units=(1,), status="running")
    set_process(alive, **me)
    killed = make_run(tmp_path, units=(2,), status="running")
    set_process(killed, **{**me, "pid": dead_pid()})
    reused = make_run(tmp_path, units=(3,), status="running")  # our pid, but recorded for an earlier process
    set_process(reused, **{**me, "process_start": me["process_start"] - 1})
    elsewhere = make_run(tmp_path, units=(4,), status="running")  # cannot be checked from here
    set_process(elsewhere, **{**me, "pid": dead_pid(), "host": "another-host"})
    failed = make_run(tmp_path, units=(5,), status="failed")
    set_process(failed, **{**me, "pid": dead_pid()})
    statuses = [read_run(p).status for p in (alive, killed, reused, elsewhere, failed)]
    assert statuses == ["running", "stale", "stale", "running", "failed"]
    table = compare_runs(tmp_path, columns="model.layers.0.units,status")
    assert [r["status"] for r in table.rows] == statuses
    assert diff_text(read_run(killed), read_run(alive)).splitlines()[0].endswith("(stale)")


def test_process_gone_without_a_pid_or_with_a_bad_one_is_never_claimed():
    assert not process_gone({})
    assert not process_gone({"pid": "12", "host": platform.node()})
    assert not process_gone({"pid": True, "host": platform.node()})
    assert process_gone({"pid": dead_pid(), "host": platform.node()})


def test_metric_best_reads_the_finished_epochs_of_an_unfinished_run(tmp_path):
    run = make_run(tmp_path, status="running", metrics_csv=epochs((1, 0.6, 0.7, 0.5, 0.7, 0.01, 1.0),
                                                                (2, 0.4, 0.8, 0.3, 0.9, 0.01, 1.0)))
    set_process(run, host=platform.node(), pid=dead_pid())
    (row,) = compare_runs(tmp_path, metric="best", columns="status,best_epoch,val.loss,epochs_run").rows
    assert (row["status"], row["best_epoch"], row["val.loss"], row["epochs_run"]) == ("stale", 2, 0.3, 2)
    (row,) = compare_runs(tmp_path, metric="final").rows
    assert "val.loss" not in row


def test_metric_best_takes_the_epoch_the_run_itself_judged_best(tmp_path):
    """EarlyStopping(min_delta) called epoch 1 best and restored it, though epoch 2's val_loss is lower
    by less than min_delta: compare --metric best names epoch 1, as results.json does."""
    rows = epochs((1, 0.6, 0.7, 0.30, 0.7, 0.01, 1.0), (2, 0.4, 0.8, 0.29, 0.9, 0.01, 1.0),
                  (3, 0.3, 0.8, 0.50, 0.9, 0.01, 1.0))
    results = {"train": {"loss": 0.6}, "val": {"loss": 0.30}, "test": {"loss": 0.31}, "best_epoch": 1,
               "best_monitor": "val_loss", "weights_epoch": 1, "epochs_run": 3}
    make_run(tmp_path, metrics_csv=rows, results=results)
    (row,) = compare_runs(tmp_path, metric="best").rows
    assert (row["best_epoch"], row["val.loss"]) == (1, 0.30)
    (row,) = compare_runs(tmp_path, metric="best", sort="val.accuracy").rows  # another metric: its own best
    assert row["best_epoch"] == 2


def test_temporary_files_of_dead_writers_are_removed_and_live_ones_kept(tmp_path):
    dead = tmp_path / f".model.{dead_pid()}-0123abcd.tmp.keras"
    live_pid = os.getppid()
    live = tmp_path / f".state.{live_pid}-89abcdef.tmp.npz"
    other = tmp_path / ".hidden"
    for path in (dead, live, other):
        path.write_text("x")
    assert clean_temp_files(tmp_path) == [dead]
    assert live.exists() and other.exists()


def test_metrics_csv_is_cut_back_to_the_epoch_a_run_resumes_from(tmp_path):
    path = tmp_path / "metrics.csv"
    path.write_text("epoch,loss\r\n1,0.5\r\n2,0.4\r\n3,0.3\r\n4,0.2")  # epoch 4's row cut short by the kill
    assert keep_epochs(path, 2) == ["epoch", "loss"]
    assert path.read_bytes() == b"epoch,loss\r\n1,0.5\r\n2,0.4\r\n"
    assert keep_epochs(path, 0) is None and not path.exists()
    assert keep_epochs(path, 3) is None


def test_a_run_from_before_attempts_is_reopened_with_its_first_attempt_kept(tmp_path):
    run_dir = tmp_path / FIXTURE.name
    shutil.copytree(FIXTURE, run_dir)
    set_process(run_dir, status="running")
    record = RunRecord.reopen(run_dir, now(), initial_epoch=2)
    info = json.loads((run_dir / "run.json").read_text())
    assert [a["pid"] for a in info["attempts"]] == [5444, os.getpid()]
    assert info["attempts"][1]["initial_epoch"] == 2 and info["pid"] == os.getpid()
    record.finish("completed")
    info = json.loads((run_dir / "run.json").read_text())
    assert info["status"] == "completed" and info["attempts"][1]["status"] == "completed"


def test_resume_refuses_a_completed_run_and_a_run_another_resume_holds(tmp_path):
    import fcntl

    import pytest

    import expkit
    from expkit.errors import ExpkitError
    run_dir = tmp_path / FIXTURE.name
    shutil.copytree(FIXTURE, run_dir)
    with pytest.raises(ExpkitError, match="already completed"):
        expkit.resume(run_dir)
    set_process(run_dir, status="running", pid=dead_pid(), host=platform.node())
    with open(run_dir / ".resume.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        with pytest.raises(ExpkitError, match="another `expkit resume` of this run is under way"):
            expkit.resume(run_dir)
