"""A search trial's side of Optuna, inside the `expkit train` child that trains it: who it is (the
study's storage URL, study name and trial, passed by `expkit sweep` in EXPKIT_TRIAL), the Keras
callback that reports the objective at the end of each epoch (the epoch is Optuna's step) and stops
training cleanly when the pruner says so, and the pruners (the sweep's driver builds the same ones).

Optuna is imported only here and only when a trial asks for it: a plain `expkit train` never does."""
from __future__ import annotations

import json
import os

TRIAL_ENV = "EXPKIT_TRIAL"


def trial_from_env(environ=None) -> dict | None:
    """{"storage", "study", "trial_id", "number", "monitor", "pruner", "startup_trials", "warmup_epochs",
    "report"}, or None."""
    raw = (os.environ if environ is None else environ).get(TRIAL_ENV)
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return {"storage": str(data["storage"]), "study": str(data["study"]), "trial_id": int(data["trial_id"]),
                "number": int(data["number"]), "monitor": data.get("monitor"), "pruner": data.get("pruner", "none"),
                "startup_trials": int(data.get("startup_trials", 5)),
                "warmup_epochs": int(data.get("warmup_epochs", 0)), "report": bool(data.get("report"))}
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{TRIAL_ENV} must hold the JSON `expkit sweep` passes, got {raw[:200]!r} ({exc})") from None


def trial_record(trial: dict | None, status: str) -> dict:
    """What run.json says about the trial: {"trial": {"study", "number", "state"}} (nothing outside a search)."""
    if not trial:
        return {}
    return {"trial": {"study": trial["study"], "number": trial["number"], "state": status}}


def make_pruner(optuna, name: str, startup_trials: int, warmup_epochs: int):
    if name == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=startup_trials, n_warmup_steps=warmup_epochs)
    if name == "hyperband":
        return optuna.pruners.HyperbandPruner(min_resource=max(1, warmup_epochs))
    if name == "successive_halving":
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=max(1, warmup_epochs))
    return optuna.pruners.NopPruner()


def open_storage(optuna, url: str):
    """Optuna's RDB storage; SQLite waits for a busy file (a driver and its children write it in turn)."""
    kwargs = {"connect_args": {"timeout": 60}} if url.startswith("sqlite") else {}
    return optuna.storages.RDBStorage(url, engine_kwargs=kwargs)


def trial_callback(keras, trial: dict | None):
    """The callback for this process's trial, or None when it reports nothing (no trial, or a seed
    other than the first: one series of steps per trial, so the pruner compares like with like)."""
    if not trial or not trial["report"] or not trial["monitor"]:
        return None
    import optuna
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.load_study(study_name=trial["study"], storage=open_storage(optuna, trial["storage"]),
                              pruner=make_pruner(optuna, trial["pruner"], trial["startup_trials"],
                                                 trial["warmup_epochs"]))
    live = optuna.Trial(study, trial["trial_id"])
    monitor = trial["monitor"]

    class ReportToStudy(keras.callbacks.Callback):
        """Reports logs[monitor] as the epoch's intermediate value; on the pruner's word, stops fit
        after this epoch (the run then evaluates, saves and records itself as pruned)."""

        pruned_at_epoch = None

        def on_epoch_end(self, epoch, logs=None):
            value = (logs or {}).get(monitor)
            if value is None:
                return
            live.report(float(value), step=epoch + 1)
            if live.should_prune():
                self.pruned_at_epoch = epoch + 1
                self.model.stop_training = True

    return ReportToStudy()
