"""tracking.mlflow: a run logged to MLflow while it trains, exactly as `expkit mlflow-sync` logs it
(expkit/tracking/mlflow.py): the same MLflow run (found by its tag expkit.run_id), params, metric
points and artifacts, so a later sync adds nothing twice and a resumed run continues its MLflow run.

- start, before the first epoch: the MLflow run is found or created, with its params and tags
  (status RUNNING); the epochs a resumed run already has are logged;
- each epoch's end (a Keras callback after the one writing metrics.csv): that epoch's row, step = epoch;
- the end, once run.json holds the outcome: the test metrics, final tags and status, the artifacts.
A tracker that fails never fails the run: one warning, and logging stops; a sync catches up later.
"""
from __future__ import annotations

import sys
from pathlib import Path

from expkit.runstore import read_run
from expkit.tracking.mlflow import experiment_id, millis, mlflow_client, refusal, run_metrics, sync_run


class LiveMlflow:
    def __init__(self, spec, run_dir: Path):
        self.spec, self.run_dir = spec, Path(run_dir)
        self.client = mlflow_client(spec.tracking_uri, "tracking.mlflow")
        self.experiment: str | None = None
        self.mlflow_run_id: str | None = None
        self.logged_step = 0
        self.failed = False

    def start(self) -> None:
        def begin():
            run = read_run(self.run_dir)
            self.experiment = experiment_id(self.client, self.spec.experiment or run.name or "expkit",
                                            self.spec.tracking_uri)
            self.mlflow_run_id = sync_run(self.client, self.experiment, run, artifacts=False).mlflow_run_id
            self.client.update_run(self.mlflow_run_id, status="RUNNING")  # a resumed run's was KILLED or FAILED
            self.logged_step = max((m.step for m in run_metrics(run, None)), default=0)
        self._guarded("start of the run", begin)

    def log_new_epochs(self) -> None:
        """The metrics.csv rows not logged yet, as the points a sync would log (same steps and times)."""
        def log():
            run = read_run(self.run_dir)
            new = [m for m in run_metrics(run, millis(run.info.get("start_time"))) if m.step > self.logged_step]
            for i in range(0, len(new), 1000):  # log_batch takes at most 1000 metrics
                self.client.log_batch(self.mlflow_run_id, metrics=new[i:i + 1000])
            self.logged_step = max((m.step for m in new), default=self.logged_step)
        self._guarded("epoch's metrics", log)

    def finish(self) -> None:
        self._guarded("end of the run", lambda: sync_run(self.client, self.experiment, read_run(self.run_dir),
                                                         self.spec.artifacts))

    def callback(self, keras):
        live = self

        class MlflowLogger(keras.callbacks.Callback):
            async_safe = True  # nothing runs per batch

            def on_epoch_end(self, epoch, logs=None):
                live.log_new_epochs()
        return MlflowLogger()

    def _guarded(self, what: str, action) -> None:
        if self.failed:
            return
        try:
            action()
        except Exception as exc:  # a refused connection, an MlflowException: the run itself goes on
            self.failed = True
            uri = self.spec.tracking_uri
            print(f"warning: tracking.mlflow: MLflow at {uri} refused the {what} ({refusal(exc)}); training goes "
                  f"on without it, and `expkit mlflow-sync {self.run_dir} --tracking-uri {uri}` catches up later",
                  file=sys.stderr, flush=True)


def start_live_tracking(cfg, run_dir: Path) -> LiveMlflow | None:
    """The MLflow logger of a run whose config sets tracking.mlflow, started; else None."""
    spec = cfg.tracking.mlflow if cfg.tracking is not None else None
    if spec is None:
        return None
    live = LiveMlflow(spec, run_dir)
    live.start()
    return live
