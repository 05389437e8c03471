"""What a run reports outward: TensorBoard's HParams dashboard (hparams, with the domains derived
from the config schema in domains), and MLflow (mlflow: run folders synced through MLflow's client)."""
