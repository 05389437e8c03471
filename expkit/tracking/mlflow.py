"""Run folders into MLflow, through MLflow's own client (`MlflowClient`): any tracking URI it takes,
a server's http(s) URL or a database such as `sqlite:///mlflow.db`.

One expkit run is one MLflow run, found again by its tag `expkit.run_id`: syncing twice (or a run
synced while running, then again once finished) updates that MLflow run instead of adding another.
Params are immutable in MLflow and the config of a run folder never changes, so they are logged once;
a metric step already in MLflow's history is not logged again.

What a run becomes:
- params: the resolved config, flattened (`model.layers.1.units`, `compile.optimizer.learning_rate`);
- metrics: each metrics.csv column per epoch (step = epoch; `loss`, `val_accuracy`, `learning_rate`),
  and results.json's test metrics (`test_accuracy`) plus `params`, `training_seconds` at the last step;
- tags: `expkit.run_id`, `expkit.status`, `expkit.seed`, `expkit.sweep` (the sweep folder's name when
  the run is in one), `mlflow.source.git.commit`, `mlflow.runName` (the run id);
- artifacts: config.yaml, config.json, run.json, results.json, metrics.csv, preprocessing.json and
  model.keras (under `model/`).
No TensorFlow: mlflow's client is imported lazily and only here.
"""
from __future__ import annotations

import json
import os
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from expkit.errors import ExpkitError
from expkit.runstore import Run, RunFolder, flatten

RUN_ID_TAG = "expkit.run_id"
STATUSES = {"completed": "FINISHED", "failed": "FAILED", "interrupted": "KILLED", "running": "RUNNING"}
ARTIFACTS = ("config_yaml", "config_json", "run_json", "results_json", "metrics_csv", "preprocessing_json")
RESULT_METRICS = ("params", "training_seconds", "samples_per_second", "epochs_run")
MAX_PARAM = 6000  # MLflow's limit on a param value's length (mlflow.utils.validation)


@dataclass
class Synced:
    run: Run
    mlflow_run_id: str
    created: bool
    metrics_logged: int


def require_mlflow(what: str) -> None:
    try:
        import mlflow  # noqa: F401
    except ImportError:
        raise ExpkitError(f"{what} needs MLflow, which is not installed: pip install -e '.[mlflow]' "
                          "(or pip install 'expkit[mlflow]')") from None


def mlflow_client(tracking_uri: str, what: str = "expkit mlflow-sync"):
    require_mlflow(what)
    from mlflow import MlflowClient
    # MLflow retries a server that does not answer for minutes by default; a sync says so in seconds.
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "30")
    return MlflowClient(tracking_uri=tracking_uri)


def sync_runs(runs: list[Run], tracking_uri: str, experiment: str | None = None, artifacts: bool = True) -> list[Synced]:
    """Sync each run into the MLflow experiment `experiment` (default: the run's experiment name),
    created when missing; returns what happened to each."""
    client = mlflow_client(tracking_uri)
    experiments: dict[str, str] = {}
    done = []
    for run in runs:
        name = experiment or run.name or "expkit"
        try:
            if name not in experiments:
                experiments[name] = experiment_id(client, name, tracking_uri)
            done.append(sync_run(client, experiments[name], run, artifacts))
        except ExpkitError:
            raise
        except Exception as exc:  # MlflowException, a refused connection: one line, where and why
            raise ExpkitError(f"{run.path}: MLflow at {tracking_uri} refused the sync ({refusal(exc)}); "
                              "check --tracking-uri and that the server is up") from None
    return done


def refusal(exc: Exception) -> str:
    """An MLflow error in one line: its type and the first line of its message."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {first[:300]}"


def experiment_id(client, name: str, tracking_uri: str) -> str:
    found = client.get_experiment_by_name(name)
    if found is not None:
        return found.experiment_id
    location = None
    if tracking_uri.startswith("sqlite:///"):  # else MLflow puts artifacts in ./mlruns, wherever we are
        location = (Path(tracking_uri.removeprefix("sqlite:///")).resolve().parent / "mlartifacts").as_uri()
    return client.create_experiment(name, artifact_location=location)


def find_mlflow_run(client, experiment_id: str, run_id: str):
    runs = client.search_runs([experiment_id], filter_string=f"tags.`{RUN_ID_TAG}` = '{run_id}'", max_results=2)
    return runs[0] if runs else None


def sync_run(client, experiment_id: str, run: Run, artifacts: bool = True) -> Synced:
    existing = find_mlflow_run(client, experiment_id, run.id)
    started = millis(run.info.get("start_time"))
    if existing is None:
        mlflow_run = client.create_run(experiment_id, start_time=started, tags=run_tags(run), run_name=run.id)
        mlflow_run_id = mlflow_run.info.run_id
        _log_params(client, mlflow_run_id, run)
    else:
        mlflow_run_id = existing.info.run_id
        client.log_batch(mlflow_run_id, tags=_tag_list(run_tags(run)))
    metrics = run_metrics(run, started)
    if existing is not None and metrics:
        have = {key: {m.step for m in client.get_metric_history(mlflow_run_id, key)}
                for key in {m.key for m in metrics}}
        metrics = [m for m in metrics if m.step not in have[m.key]]
    for i in range(0, len(metrics), 1000):  # log_batch takes at most 1000 metrics
        client.log_batch(mlflow_run_id, metrics=metrics[i:i + 1000])
    if artifacts:
        _log_artifacts(client, mlflow_run_id, run)
    status = STATUSES.get(run.status, "RUNNING")
    if status != "RUNNING":
        client.set_terminated(mlflow_run_id, status=status, end_time=millis(run.info.get("end_time")))
    return Synced(run, mlflow_run_id, existing is None, len(metrics))


def run_tags(run: Run) -> dict[str, str]:
    tags = {RUN_ID_TAG: run.id, "expkit.status": run.status, "expkit.path": str(run.path.resolve())}
    if run.seed is not None:
        tags["expkit.seed"] = str(run.seed)
    if (run.path.parent / "sweep.json").is_file():  # a sweep's runs live in the sweep's folder
        tags["expkit.sweep"] = run.path.parent.name
    if run.info.get("git_commit"):
        tags["mlflow.source.git.commit"] = str(run.info["git_commit"])
    if run.info.get("error"):
        tags["expkit.error"] = str(run.info["error"])[:5000]
    return tags


def run_params(run: Run) -> dict[str, str]:
    """The flattened resolved config as MLflow params (strings; lists and mappings as JSON), less the
    `tracking` section: where the run is logged is not a hyperparameter, and a URI may hold a password."""
    out = {}
    for key, value in flatten({k: v for k, v in run.config.items() if k != "tracking"}).items():
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        out[key] = text if len(text) <= MAX_PARAM else text[:MAX_PARAM - 1] + "…"
    return out


def run_metrics(run: Run, started_ms: int | None) -> list:
    """Per-epoch metrics.csv values (step = epoch), then the final results at the last epoch's step.
    Timestamps are derived from the run (its start plus the epochs' seconds), so syncing twice logs
    exactly the same points."""
    from mlflow.entities import Metric
    clock = started_ms or 0
    out, step = [], 0
    for row in run.metrics_csv():
        step = int(row.get("epoch") or step + 1)
        clock += int(1000 * (row.get("epoch_seconds") or 0))
        out += [Metric(key, value, clock, step) for key, value in row.items()
                if key not in ("epoch", "epoch_seconds") and value is not None]
    results = run.results or {}
    finals = {f"test_{k}": v for k, v in (results.get("test") or {}).items()}
    finals.update({k: results[k] for k in RESULT_METRICS if k in results})
    step = max(step, int(results.get("epochs_run") or 0))
    out += [Metric(key, float(v), clock, step) for key, v in finals.items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)]
    return out


def _log_params(client, mlflow_run_id: str, run: Run) -> None:
    from mlflow.entities import Param
    params = [Param(k, v) for k, v in run_params(run).items()]
    for i in range(0, len(params), 100):  # log_batch takes at most 100 params
        client.log_batch(mlflow_run_id, params=params[i:i + 100])


def _tag_list(tags: dict[str, str]) -> list:
    from mlflow.entities import RunTag
    return [RunTag(k, v) for k, v in tags.items()]


def _log_artifacts(client, mlflow_run_id: str, run: Run) -> None:
    folder = RunFolder(run.path)
    for name in ARTIFACTS:
        path = getattr(folder, name)
        if path.is_file():
            client.log_artifact(mlflow_run_id, str(path))
    if folder.model_file.is_file():
        client.log_artifact(mlflow_run_id, str(folder.model_file), artifact_path="model")


def millis(stamp: str | None) -> int | None:
    if not stamp:
        return None
    try:
        return int(datetime.fromisoformat(stamp).timestamp() * 1000)
    except ValueError:
        return None
