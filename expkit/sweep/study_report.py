"""A search's outcome, read from its Optuna study: telling the study what a trial's runs got, the
search's sweep.json, and the summary (best trial and its run folder, counts, parameter importances)
printed at the end and by `expkit sweep --status`."""
from __future__ import annotations

import re
from pathlib import Path

from expkit.config.sweep import SweepConfig
from expkit.runstore import write_json


def tell(optuna, study, trial, values: dict, runs: dict, objective: str, out) -> None:
    """runs: seed -> its Run (completed or pruned) or the status of a run that did not finish."""
    state = optuna.trial.TrialState
    split, name = objective.split(".", 1)
    label = ", ".join(f"{k}={_short(v)}" for k, v in values.items())
    folders = [str(r.path) for r in runs.values() if not isinstance(r, str)]
    study._storage.set_trial_user_attr(trial._trial_id, "runs", folders)
    broken = {seed: r for seed, r in runs.items() if isinstance(r, str)}
    if broken:
        study.tell(trial, state=state.FAIL)
        out(f"trial {trial.number} ({label}): failed ({', '.join(broken.values())}); see the logs in "
            f"{_logs_hint(folders)}")
        return
    first = next(iter(runs.values()))
    if first.status == "pruned":
        study.tell(trial, state=state.PRUNED)
        out(f"trial {trial.number} ({label}): pruned at epoch {first.results.get('pruned_at_epoch')} -> {first.path}")
        return
    got = [r.metric(split, name) for r in runs.values()]
    if any(v is None for v in got):
        study.tell(trial, state=state.FAIL)
        known = sorted(f"{s}.{k}" for s in ("train", "val", "test") for k in (first.results or {}).get(s) or {})
        out(f"trial {trial.number} ({label}): failed: the runs record no {objective}; they have "
            f"{', '.join(known) or 'no metrics'} (fix sweep.search.objective)")
        return
    value = sum(got) / len(got)
    study._storage.set_trial_user_attr(trial._trial_id, "seed_values", got)
    study.tell(trial, value)
    best = study.best_trial
    out(f"trial {trial.number} ({label}): {objective} {value:.4f}" + (f" (mean of {len(got)} seeds)" if len(got) > 1 else "")
        + f" -> {first.path}; best so far: trial {best.number}, {best.value:.4f}")


def _short(value) -> str:
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _logs_hint(folders: list[str]) -> str:
    return folders[0] if folders else "the sweep folder's logs/"


def public_url(url: str) -> str:
    """The storage URL without its password (sweep.json and the output are shared)."""
    return re.sub(r"(//[^:/@]+):[^@/]*@", r"\1:***@", url)


def _state(frozen) -> str:
    return {"COMPLETE": "completed", "PRUNED": "pruned", "FAIL": "failed"}.get(frozen.state.name, frozen.state.name.lower())


def write_manifest(sweep_dir: Path, file: Path, spec: SweepConfig, extra: list[str], study, url: str) -> None:
    trials = study.get_trials(deepcopy=False)
    write_json(sweep_dir / "sweep.json", {
        "name": sweep_dir.name, "kind": "search", "config": str(file), "overrides": extra,
        "sweep": spec.model_dump(mode="json", exclude_none=True),
        "study": {"name": study.study_name, "storage": public_url(url)},
        "varying_keys": list(spec.search.params),
        "trials": [{"number": t.number, "state": _state(t), "values": t.params, "value": t.value,
                    "seed_values": t.user_attrs.get("seed_values"), "runs": t.user_attrs.get("runs", [])}
                   for t in trials],
    })


def summarize(optuna, study, objective: str, direction: str, planned: int) -> dict:
    trials = study.get_trials(deepcopy=False)
    counts = {s: sum(1 for t in trials if _state(t) == s) for s in ("completed", "pruned", "failed", "running")}
    summary = {"study": study.study_name, "objective": objective, "direction": direction, "trials": planned,
               **counts, "best": None, "importances": None}
    if counts["completed"]:
        best = study.best_trial
        summary["best"] = {"number": best.number, "value": best.value, "values": best.params,
                           "runs": best.user_attrs.get("runs", [])}
    if counts["completed"] >= 2:
        try:
            summary["importances"] = optuna.importance.get_param_importances(study)
        except (RuntimeError, ValueError):  # every completed trial drew the same values: nothing to tell apart
            pass
    return summary


def summary_lines(summary: dict, name: str) -> list[str]:
    finished = summary["completed"] + summary["pruned"] + summary["failed"]
    lines = [f"search '{name}': {finished} of {summary['trials']} trials done: {summary['completed']} completed, "
             f"{summary['pruned']} pruned, {summary['failed']} failed"
             + (f", {summary['running']} running" if summary["running"] else "")]
    best = summary["best"]
    if best is None:
        lines.append("best: none yet (no trial has completed)")
    else:
        lines.append(f"best: trial {best['number']}, {summary['objective']} {best['value']:.4f} ({summary['direction']})"
                     + (f" -> {best['runs'][0]}" if best["runs"] else ""))
        lines += [f"  {k} = {_short(v)}" for k, v in best["values"].items()]
    if summary["importances"]:
        lines.append("parameter importances (Optuna, fANOVA): " + ", ".join(
            f"{k} {v:.3f}" for k, v in summary["importances"].items()))
    return lines
