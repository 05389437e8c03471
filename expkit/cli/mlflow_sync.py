"""`expkit mlflow-sync RUN_OR_DIR... --tracking-uri URI`: run folders into MLflow (expkit/tracking/mlflow.py)."""
from __future__ import annotations


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "mlflow-sync", help="copy runs into MLflow: config as params, per-epoch and test metrics, tags, "
        "artifacts (needs the mlflow extra)",
        description="One MLflow run per expkit run, found again by its tag expkit.run_id: syncing twice "
        "updates it (new epochs, a final status) instead of adding another run.",
        epilog="Examples: expkit mlflow-sync runs/ --tracking-uri http://127.0.0.1:5000\n"
        "          expkit mlflow-sync runs/my_sweep --tracking-uri sqlite:///mlflow.db --experiment my_sweep")
    parser.add_argument("paths", nargs="+", metavar="RUN_OR_DIR", help="run folders, or folders holding runs")
    parser.add_argument("--tracking-uri", required=True, metavar="URI",
                        help="any URI MLflow's client takes: http://host:5000, sqlite:///mlflow.db, ...")
    parser.add_argument("--experiment", metavar="NAME", help="the MLflow experiment (created when missing; "
                        "default: each run's experiment name)")
    parser.add_argument("--no-artifacts", dest="artifacts", action="store_false",
                        help="params, metrics and tags only: no config files and no model.keras")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.runstore import require_runs
    from expkit.tracking.mlflow import sync_runs
    for synced in sync_runs(require_runs(args.paths), args.tracking_uri, args.experiment, args.artifacts):
        what = "created" if synced.created else "updated"
        print(f"{synced.run.id} -> MLflow run {synced.mlflow_run_id} ({what}; {synced.metrics_logged} metric "
              f"points logged; status {synced.run.status})")
    return 0
