"""The run store: folders written before format_version existed still read, compare and predict;
atomic writes never lose a write or show a reader half a file, even with two writers on one path."""
from __future__ import annotations

import json
import multiprocessing
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from expkit.runstore import FORMAT_VERSION, RunFolder, load_runs, read_run, write_json

FIXTURES = Path(__file__).parent / "fixtures" / "runs"
OLD_RUN = FIXTURES / "20261204-181656-format1-xor-91b8"  # written by expkit before this layout (no format_version)


def test_a_run_written_before_format_version_reads_as_version_1():
    run = read_run(OLD_RUN)
    assert "format_version" not in run.info
    assert run.status == "completed" and run.results["test"]["accuracy"] > 0.9
    assert run.config["dataset"]["name"] == "xor"
    assert [row["epoch"] for row in run.metrics_csv()] == [1.0, 2.0, 3.0]


def test_compare_reads_an_old_run(tmp_path):
    shutil.copytree(OLD_RUN, tmp_path / OLD_RUN.name)
    done = subprocess.run([sys.executable, "-m", "expkit", "compare", str(tmp_path), "--format", "json"],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    rows = json.loads(done.stdout)["rows"]
    assert rows[0]["id"] == OLD_RUN.name and rows[0]["test.accuracy"] > 0.9


def test_predict_uses_an_old_runs_model_and_preprocessing(tmp_path):
    import numpy as np
    np.save(tmp_path / "x.npy", np.array([[0.0, 0.0], [1.0, 1.0], [0.0, 1.0]], dtype=np.float32))
    done = subprocess.run([sys.executable, "-m", "expkit", "predict", str(OLD_RUN), str(tmp_path / "x.npy")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert len([line for line in done.stdout.splitlines() if line.strip()]) >= 3


def test_new_runs_record_the_format_version(mnist_run):
    assert read_run(mnist_run).info["format_version"] == FORMAT_VERSION


def test_run_folder_names_every_file():
    folder = RunFolder(OLD_RUN)
    for path in (folder.config_yaml, folder.config_json, folder.run_json, folder.metrics_csv, folder.results_json,
                 folder.model_file, folder.preprocessing_json, folder.tb_dir):
        assert path.exists(), path


def _writer(path: str, tag: int, count: int, errors) -> None:
    for i in range(count):
        try:
            write_json(Path(path), {"writer": tag, "i": i, "pad": "x" * 2000})
        except Exception as exc:  # noqa: BLE001  (counted, then asserted to be none)
            errors.put(f"{type(exc).__name__}: {exc}")


def test_two_writers_and_a_reader_on_one_path(tmp_path):
    """Before: one fixed temp name lost ~115 of 2,000 writes per writer and a reader saw invalid JSON."""
    path = tmp_path / "run.json"
    write_json(path, {"writer": -1})
    errors = multiprocessing.Queue()
    writers = [multiprocessing.Process(target=_writer, args=(str(path), tag, 500, errors)) for tag in (0, 1)]
    for w in writers:
        w.start()
    reads = bad = 0
    while any(w.is_alive() for w in writers):
        try:
            json.loads(path.read_text())
        except ValueError:
            bad += 1
        reads += 1
    for w in writers:
        w.join()
    lost = []
    while not errors.empty():
        lost.append(errors.get())
    assert lost == [] and bad == 0 and reads > 0
    assert not [p.name for p in tmp_path.iterdir() if p.name != "run.json"], "temporary files left behind"


def test_load_runs_says_which_file_is_corrupt(tmp_path):
    run = tmp_path / "r"
    shutil.copytree(OLD_RUN, run)
    (run / "metrics.csv").write_bytes(b"epoch,loss\n1,\xff\xfe\n")
    [loaded] = load_runs([tmp_path])
    from expkit.runstore import BadRun
    with pytest.raises(BadRun, match="metrics.csv is unreadable"):
        loaded.metrics_csv()


def test_require_runs_says_each_skipped_folder_and_refuses_none(tmp_path):
    """What plot and mlflow-sync print for folders that are not runs, and their error when nothing is."""
    from expkit.errors import ExpkitError
    from expkit.runstore import require_runs
    shutil.copytree(OLD_RUN, tmp_path / "runs" / "good")
    (tmp_path / "runs" / "half").mkdir()
    (tmp_path / "runs" / "half" / "config.yaml").write_text("experiment: {name: x}\n")
    said: list[str] = []
    [run] = require_runs([tmp_path / "runs"], said.append)
    assert run.path == tmp_path / "runs" / "good"
    assert said == [f"skipped {tmp_path / 'runs' / 'half'}: not a run folder (no run.json)"]
    (tmp_path / "empty").mkdir()
    with pytest.raises(ExpkitError, match=f"no runs found in {tmp_path / 'empty'} \\(a run folder holds run.json\\)"):
        require_runs([tmp_path / "empty"], said.append)
