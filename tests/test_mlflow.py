"""expkit mlflow-sync: real runs into a real MLflow tracking server on loopback (and a sqlite URI), read
back with MLflow's own client."""
from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

pytest.importorskip("mlflow")
pytestmark = pytest.mark.slow
ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """`mlflow server` on 127.0.0.1 with a sqlite store, in its own process group, stopped by its PID."""
    tmp = tmp_path_factory.mktemp("mlflow_server")
    port = free_port()
    mlflow_cli = Path(sys.executable).with_name("mlflow")
    command = [str(mlflow_cli), "server", "--backend-store-uri", f"sqlite:///{tmp / 'mlflow.db'}",
               "--artifacts-destination", str(tmp / "artifacts"), "--host", "127.0.0.1", "--port", str(port),
               "--workers", "1"]
    env = {**os.environ, "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}  # no job-runner processes
    log = open(tmp / "server.log", "wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, cwd=tmp,
                               start_new_session=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 180
        while True:
            try:
                with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                    if answer.status == 200:
                        break
            except OSError:
                pass
            assert process.poll() is None, (tmp / "server.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "mlflow server did not answer in 180 s"
            time.sleep(0.5)
        yield url
    finally:
        os.killpg(process.pid, signal.SIGTERM)  # the server and the uvicorn worker it started
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


def sync(*args, env=None):
    return subprocess.run([sys.executable, "-m", "expkit", "mlflow-sync", *map(str, args)], capture_output=True,
                          text=True, timeout=300, cwd=ROOT, env=env)


def only_run(client, experiment: str, run_id: str):
    found = client.search_runs([client.get_experiment_by_name(experiment).experiment_id],
                               filter_string=f"tags.`expkit.run_id` = '{run_id}'")
    assert len(found) == 1, f"{len(found)} MLflow runs for {run_id}"
    return found[0]


def test_sync_to_a_server_is_complete_and_idempotent(server, mnist_run, tmp_path):
    from mlflow import MlflowClient
    # The same run seen first while training (one epoch written, status running), then finished.
    growing = tmp_path / "runs" / mnist_run.name
    shutil.copytree(mnist_run, growing, ignore=shutil.ignore_patterns("tb", "model.keras"))
    lines = (mnist_run / "metrics.csv").read_text().splitlines()
    (growing / "metrics.csv").write_text("\n".join(lines[:2]) + "\n")
    info = json.loads((mnist_run / "run.json").read_text())
    # Still training: its process is this one (a gone process would make the run stale).
    from expkit.runstore.liveness import this_process
    (growing / "run.json").write_text(json.dumps({**info, "status": "running", "end_time": None,
                                                  **this_process()}))
    (growing / "results.json").unlink()
    done = sync(growing, "--tracking-uri", server, "--experiment", "digits-sync")
    assert done.returncode == 0, done.stderr[-3000:]
    assert f"{mnist_run.name} -> MLflow run " in done.stdout and "(created;" in done.stdout

    client = MlflowClient(tracking_uri=server)
    first = only_run(client, "digits-sync", mnist_run.name)
    assert first.info.status == "RUNNING" and first.data.tags["expkit.status"] == "running"

    for _ in range(2):  # finished now; the second sync must change nothing
        done = sync(mnist_run, "--tracking-uri", server, "--experiment", "digits-sync")
        assert done.returncode == 0, done.stderr[-3000:]
        assert "(updated;" in done.stdout
    assert "0 metric points logged" in done.stdout

    run = only_run(client, "digits-sync", mnist_run.name)
    assert run.info.run_id == first.info.run_id and run.info.status == "FINISHED"
    config = json.loads((mnist_run / "config.json").read_text())
    results = json.loads((mnist_run / "results.json").read_text())
    assert run.data.params["model.layers.0.filters"] == "8"
    assert run.data.params["dataset.limit"] == "2000"
    assert run.data.params["compile.optimizer.name"] == json.dumps(config["compile"]["optimizer"]["name"]).strip('"')
    assert run.data.tags["expkit.seed"] == str(config["experiment"]["seed"])
    assert run.data.tags["mlflow.runName"] == mnist_run.name
    assert run.data.metrics["test_accuracy"] == pytest.approx(results["test"]["accuracy"])
    assert run.data.metrics["params"] == results["params"]
    history = client.get_metric_history(run.info.run_id, "val_accuracy")
    assert sorted(m.step for m in history) == [1, 2]  # each epoch once, however many syncs
    csv_rows = [dict(zip(lines[0].split(","), row.split(","))) for row in lines[1:]]
    assert sorted(m.value for m in history) == sorted(float(r["val_accuracy"]) for r in csv_rows)

    names = {a.path for a in client.list_artifacts(run.info.run_id)}
    assert {"config.yaml", "config.json", "run.json", "results.json", "metrics.csv", "model"} <= names
    model = Path(client.download_artifacts(run.info.run_id, "model/model.keras", str(tmp_path)))
    assert model.read_bytes() == (mnist_run / "model.keras").read_bytes()


def test_sync_to_a_sqlite_uri_keeps_artifacts_beside_the_database(mnist_run, tmp_path):
    from mlflow import MlflowClient
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    done = sync(mnist_run, "--tracking-uri", uri, "--no-artifacts")
    assert done.returncode == 0, done.stderr[-3000:]
    client = MlflowClient(tracking_uri=uri)
    run = only_run(client, "digits", mnist_run.name)  # the run's own experiment name by default
    assert run.data.metrics["test_accuracy"] > 0.5 and not client.list_artifacts(run.info.run_id)
    location = client.get_experiment_by_name("digits").artifact_location
    assert location == (tmp_path / "mlartifacts").as_uri() and not (ROOT / "mlruns").exists()


def test_an_unreachable_server_is_a_one_line_error(mnist_run):
    done = sync(mnist_run, "--tracking-uri", f"http://127.0.0.1:{free_port()}",
                env={**os.environ, "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0"})
    assert done.returncode == 2 and "Traceback" not in done.stderr, done.stderr[-3000:]
    assert done.stderr.startswith(f"error: {mnist_run}: MLflow at http://127.0.0.1:") and "--tracking-uri" in done.stderr


def test_without_mlflow_the_message_names_the_extra(mnist_run, monkeypatch, capsys):
    from expkit.cli import main
    monkeypatch.setitem(sys.modules, "mlflow", None)
    assert main(["mlflow-sync", str(mnist_run), "--tracking-uri", "sqlite:///x.db"]) == 2
    assert "pip install -e '.[mlflow]'" in capsys.readouterr().err


# ---- tracking.mlflow: logged while the run trains ------------------------------------------------

def test_live_logging_sends_each_epoch_before_the_run_ends(server, mnist_run, tmp_path):
    """The live logger on a run folder that grows as training does: the MLflow run exists, RUNNING, with
    its params and the first epoch, then gets the second epoch when it is written, with no end yet."""
    from mlflow import MlflowClient
    from expkit.config.tracking import MlflowSpec
    from expkit.runstore.liveness import this_process
    from expkit.tracking.mlflow_live import LiveMlflow
    growing = tmp_path / mnist_run.name
    shutil.copytree(mnist_run, growing, ignore=shutil.ignore_patterns("tb", "model.keras", "results.json"))
    lines = (mnist_run / "metrics.csv").read_text().splitlines()
    (growing / "metrics.csv").write_text("\n".join(lines[:2]) + "\n")
    info = json.loads((mnist_run / "run.json").read_text())
    (growing / "run.json").write_text(json.dumps({**info, "status": "running", "end_time": None, **this_process()}))

    live = LiveMlflow(MlflowSpec(tracking_uri=server, experiment="digits-live"), growing)
    live.start()
    client = MlflowClient(tracking_uri=server)
    run = only_run(client, "digits-live", mnist_run.name)
    assert run.info.status == "RUNNING" and run.data.params["model.layers.0.filters"] == "8"
    assert [m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")] == [1]
    (growing / "metrics.csv").write_text("\n".join(lines[:3]) + "\n")  # the second epoch ends
    live.log_new_epochs()
    live.log_new_epochs()  # nothing new: nothing logged twice
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy")) == [1, 2]
    assert only_run(client, "digits-live", mnist_run.name).info.status == "RUNNING" and not live.failed


def test_a_run_with_tracking_mlflow_is_the_run_a_later_sync_finds(server, tmp_path):
    from mlflow import MlflowClient
    from tests.helpers import config_dict, write_config
    data = config_dict([{"type": "Dense", "units": 8, "activation": "tanh"},
                        {"type": "Dense", "units": 1, "activation": "sigmoid"}],
                       experiment={"name": "live", "seed": 3}, dataset={"name": "xor", "samples": 200},
                       compile={"loss": "binary_crossentropy", "metrics": ["accuracy"]},
                       training={"epochs": 2, "verbose": 0},
                       tracking={"mlflow": {"tracking_uri": server, "experiment": "xor-live"}})
    trained = subprocess.run([sys.executable, "-m", "expkit", "train", str(write_config(tmp_path, data)),
                              "--runs-dir", str(tmp_path / "runs")], capture_output=True, text=True, timeout=300,
                             cwd=ROOT)
    assert trained.returncode == 0 and "warning" not in trained.stderr, trained.stderr[-3000:]
    run_dir = Path(trained.stdout.strip().splitlines()[-1])
    client = MlflowClient(tracking_uri=server)
    run = only_run(client, "xor-live", run_dir.name)
    results = json.loads((run_dir / "results.json").read_text())
    assert run.info.status == "FINISHED" and run.data.tags["expkit.status"] == "completed"
    assert run.data.params["experiment.seed"] == "3" and not [k for k in run.data.params if k.startswith("tracking")]
    assert sorted(m.step for m in client.get_metric_history(run.info.run_id, "loss")) == [1, 2]
    assert run.data.metrics["test_accuracy"] == pytest.approx(results["test"]["accuracy"])
    assert {"config.yaml", "metrics.csv", "model"} <= {a.path for a in client.list_artifacts(run.info.run_id)}

    from expkit.runstore import read_run
    from expkit.tracking.mlflow import sync_runs
    [synced] = sync_runs([read_run(run_dir)], server, "xor-live")  # what mlflow-sync does, in this process
    assert not synced.created and synced.metrics_logged == 0 and synced.mlflow_run_id == run.info.run_id
    assert only_run(client, "xor-live", run_dir.name).info.run_id == run.info.run_id


def test_tracking_mlflow_without_mlflow_stops_before_the_run_folder(tmp_path, monkeypatch, capsys):
    from expkit.cli import main
    from tests.helpers import config_dict, write_config
    monkeypatch.setitem(sys.modules, "mlflow", None)
    path = write_config(tmp_path, config_dict([{"type": "Dense", "units": 1}],
                                              tracking={"mlflow": {"tracking_uri": "sqlite:///x.db"}}))
    assert main(["train", str(path), "--runs-dir", str(tmp_path / "runs")]) == 2
    err = capsys.readouterr().err
    assert "tracking.mlflow needs MLflow" in err and "pip install -e '.[mlflow]'" in err
    assert not (tmp_path / "runs").exists() or not any((tmp_path / "runs").iterdir())  # no run folder
