"""The `tracking:` section: experiment trackers a run logs to while it trains (MLflow)."""
from __future__ import annotations

from pydantic import Field

from expkit.config.base import Spec


class MlflowSpec(Spec):
    tracking_uri: str = Field(min_length=1, description=(
        "Any URI MLflow's client takes: a server's http(s) URL (http://127.0.0.1:5000) or a database "
        "(sqlite:///mlflow.db, relative to where expkit runs). Not logged as a param."))
    experiment: str | None = Field(None, min_length=1, description=(
        "The MLflow experiment (created when missing); default: experiment.name."))
    artifacts: bool = Field(True, description=(
        "At the end, log the config files, run.json, results.json, metrics.csv and model.keras as artifacts."))


class TrackingConfig(Spec):
    mlflow: MlflowSpec | None = Field(None, description=(
        "Log the run to MLflow as it trains: params at the start, each epoch's metrics (step = epoch), "
        "then the test metrics, status and artifacts; the same MLflow run `expkit mlflow-sync` would make "
        "(found by its tag expkit.run_id), so a later sync adds nothing twice. Needs the mlflow extra."))
