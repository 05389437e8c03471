"""Search with an objective: Optuna's study proposes each trial's values (its sampler learns from the
trials before), each trial is an ordinary run trained by an `expkit train` child through the runner,
and the study is told the run's objective (the mean over seeds with `seeds`).

The study lives in RUNS_DIR/<sweep>/study.db (Optuna's RDB storage over SQLite), or in a shared
database given by --storage, so a killed search resumes and several workers share one study. A trial
this host's dead worker left running is taken up again under its own number with its own values: its
seeds that already finished are read from their run folders, not trained twice.
"""
from __future__ import annotations

import functools
import json
import math
import os
import platform
import secrets
from pathlib import Path
from typing import Any

from expkit.config import load_config
from expkit.config.sweep import SearchSpec, SweepConfig
from expkit.errors import ExpkitError
from expkit.runstore import SEED_KEY, load_runs, read_run
from expkit.runstore.metric_kind import lower_is_better
from expkit.sweep import manifest, study_report
from expkit.sweep.points import Point, _yaml_value, validate_points
from expkit.sweep.runner import run_points
from expkit.sweep.workers import WorkerPool
from expkit.tracking.trial import TRIAL_ENV, make_pruner, open_storage

STUDY_FILE = "study.db"
WORKER_ATTR = "expkit_worker"
TOKEN = secrets.token_hex(4)  # this process, even if a dead worker had the same pid


def import_optuna():
    try:
        import optuna
    except ImportError:
        raise ExpkitError("the sweep's search: section needs Optuna, which is not installed: "
                          "pip install -e '.[search]'") from None
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def direction(search: SearchSpec) -> str:
    return search.direction or ("min" if lower_is_better(search.objective) else "max")


def storage_url(sweep_dir: Path, storage: str | None) -> str:
    return storage or f"sqlite:///{(sweep_dir / STUDY_FILE).resolve()}"


def make_sampler(optuna, search: SearchSpec, seed: int):
    if search.sampler == "tpe":
        return optuna.samplers.TPESampler(seed=seed, n_startup_trials=search.startup_trials)
    if search.sampler == "random":
        return optuna.samplers.RandomSampler(seed=seed)
    if search.sampler == "grid":
        return optuna.samplers.GridSampler(grid_space(search), seed=seed)
    extra = "search" if search.sampler == "cmaes" else "gp"
    try:  # Optuna imports these on first use, mid-search: say so now
        if search.sampler == "cmaes":
            import cmaes  # noqa: F401
            return optuna.samplers.CmaEsSampler(seed=seed, n_startup_trials=search.startup_trials)
        import scipy  # noqa: F401
        import torch  # noqa: F401
        return optuna.samplers.GPSampler(seed=seed, n_startup_trials=search.startup_trials)
    except ImportError as exc:
        raise ExpkitError(f"sweep.search.sampler: {search.sampler} needs the {exc.name} package, which is not "
                          f"installed: pip install -e '.[{extra}]' (or use sampler: tpe)") from None


def grid_space(search: SearchSpec) -> dict[str, list]:
    return {k: (list(p.choice) if p.choice is not None else list(range(p.int_uniform[0], p.int_uniform[1] + 1)))
            for k, p in search.params.items()}


def planned_trials(search: SearchSpec) -> int:
    """`trials`, or fewer when a grid has fewer points (Optuna's grid sampler draws each once)."""
    if search.sampler != "grid":
        return search.trials
    return min(search.trials, math.prod(len(values) for values in grid_space(search).values()))


def suggest(trial, search: SearchSpec) -> dict[str, Any]:
    """The trial's values (on a resumed trial Optuna returns the ones it already drew)."""
    values = {}
    for key, p in search.params.items():
        if p.choice is not None:
            plain = all(v is None or isinstance(v, (bool, int, float, str)) for v in p.choice)
            options = p.choice if plain else [json.dumps(v) for v in p.choice]  # layers, lists: by their JSON
            picked = trial.suggest_categorical(key, options)
            values[key] = picked if plain else json.loads(picked)
        elif p.int_uniform is not None:
            values[key] = trial.suggest_int(key, *p.int_uniform)
        else:
            values[key] = trial.suggest_float(key, *(p.uniform or p.log_uniform), log=p.log_uniform is not None)
    return values


def open_study(optuna, spec: SweepConfig, sweep_dir: Path, url: str, seed: int):
    search = spec.search
    study = optuna.create_study(
        storage=open_storage(optuna, url), study_name=sweep_dir.name, load_if_exists=True,
        direction="minimize" if direction(search) == "min" else "maximize",
        sampler=make_sampler(optuna, search, seed), pruner=make_pruner(optuna, search.pruner, search.startup_trials,
                                                                     search.warmup_epochs))
    wanted = optuna.study.StudyDirection.MINIMIZE if direction(search) == "min" else optuna.study.StudyDirection.MAXIMIZE
    if study.direction != wanted:
        raise ExpkitError(f"the study '{sweep_dir.name}' in {url} already {study.direction.name.lower()}s its "
                          f"objective, this search wants {direction(search)}: use another --name or storage")
    return study


def _pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def is_stale(frozen) -> bool:
    """A running trial whose worker was this host's and is gone (killed, crashed)."""
    owner = frozen.system_attrs.get(WORKER_ATTR)
    if not owner:
        return False
    return (owner["host"] == platform.node() and owner["token"] != TOKEN
            and (owner["pid"] == os.getpid() or not _pid_alive(owner["pid"])))


def trial_points(spec: SweepConfig, trial, values: dict, seeds: list, url: str, sweep_dir: Path,
                 counter: int) -> list[Point]:
    search = spec.search
    split, name = search.objective.split(".", 1)
    monitor = None if split == "test" else (name if split == "train" else f"val_{name}")
    points = []
    for i, seed in enumerate(seeds):
        overrides = [f"{k}={_yaml_value(v)}" for k, v in values.items()]
        point_values = dict(values)
        if seed is not None:
            overrides.append(f"{SEED_KEY}={seed}")
            point_values[SEED_KEY] = seed
        identity = {"storage": url, "study": sweep_dir.name, "trial_id": trial._trial_id, "number": trial.number,
                    "monitor": monitor, "pruner": search.pruner, "startup_trials": search.startup_trials,
                    "warmup_epochs": search.warmup_epochs,
                    "report": i == 0 and search.pruner != "none"}
        points.append(Point(counter + len(points), overrides, point_values, env={TRIAL_ENV: json.dumps(identity)}))
    return points


def existing_runs(sweep_dir: Path, study: str) -> dict[tuple[int, int | None], Any]:
    """(trial number, seed) -> its completed or pruned run in the sweep folder."""
    found = {}
    for run in load_runs([sweep_dir]) if sweep_dir.is_dir() else []:
        trial = run.info.get("trial") or {}
        if trial.get("study") == study and run.status in ("completed", "pruned"):
            found[(trial["number"], run.seed)] = run
    return found


def run_search(file: Path, spec: SweepConfig, overrides: list[str], runs_dir: Path, jobs: int,
               storage: str | None, dry_run: bool, out, reuse_workers: bool = False, ray=None,
               gpus_per_run: int | None = None) -> dict:
    optuna = import_optuna()
    search = spec.search
    base = load_config(file, overrides)
    sweep_dir = Path(runs_dir) / (spec.name or base.config.experiment.name)
    seeds: list = [None]
    if spec.seeds is not None:
        seeds = list(range(spec.seeds)) if isinstance(spec.seeds, int) else list(spec.seeds)
    probe_values = [{k: (p.choice[i] if p.choice is not None else (p.uniform or p.log_uniform or p.int_uniform)[i])
                     for k, p in search.params.items()} for i in (0, -1)]  # both ends of every range
    probes = [Point(i + 1, [f"{k}={_yaml_value(v)}" for k, v in vals.items()], vals) for i, vals in enumerate(probe_values)]
    validate_points(file, probes[:1] if probe_values[0] == probe_values[1] else probes, overrides)
    make_sampler(optuna, search, 0)  # a sampler's missing package is found before anything is written
    trials = planned_trials(search)
    out(f"search '{sweep_dir.name}': {search.objective} ({direction(search)}), sampler {search.sampler}, pruner "
        f"{search.pruner}, {trials} trials" + (f" x {len(seeds)} seeds (objective: their mean)" if len(seeds) > 1 else ""))
    if dry_run:
        return {}
    sweep_dir.mkdir(parents=True, exist_ok=True)
    url = storage_url(sweep_dir, storage)
    study = open_study(optuna, spec, sweep_dir, url, 0)
    # A resumed search must not redraw the first run's values: the seed moves on with the study.
    seed = (search.seed if search.seed is not None else base.config.experiment.seed) + len(study.trials)
    study = open_study(optuna, spec, sweep_dir, url, seed + (os.getpid() if storage else 0))
    env = manifest.child_env(list(search.params), manifest.search_domains(search))
    pool = WorkerPool(jobs, env, gpus_per_run) if reuse_workers and ray is None else None  # warm across batches
    if pool:
        def run(todo, file, extra, sweep_dir, jobs, env, on_done):
            pool.run(todo, file, extra, sweep_dir, on_done)
    elif ray is not None:
        from expkit.sweep.ray_executor import run_points_ray
        run = functools.partial(run_points_ray, options=ray)
    else:
        run = functools.partial(run_points, gpus_per_run=gpus_per_run)
    try:
        _search_loop(optuna, study, spec, search, trials, seeds, url, sweep_dir, file, overrides, jobs, env, out, run)
    finally:
        if pool:
            pool.close()
    study_report.write_manifest(sweep_dir, file, spec, overrides, study, url)
    summary = study_report.summarize(optuna, study, search.objective, direction(search), trials)
    for line in study_report.summary_lines(summary, sweep_dir.name):
        out(line)
    out(str(sweep_dir))
    return summary


def _search_loop(optuna, study, spec, search, trials, seeds, url, sweep_dir, file, overrides, jobs, env, out, run):
    """Batch after batch: this host's stale trials first, then new ones, until the study has `trials`."""
    counter = 0
    while True:
        frozen = study.get_trials(deepcopy=False)
        state = optuna.trial.TrialState
        stale = [t for t in frozen if t.state == state.RUNNING and is_stale(t)]
        taken = sum(1 for t in frozen if t.state in (state.COMPLETE, state.PRUNED, state.FAIL, state.RUNNING))
        slots = max(1, jobs // len(seeds))
        batch = [optuna.Trial(study, t._trial_id) for t in stale[:slots]]
        while len(batch) < slots and taken < trials:
            batch.append(study.ask())
            taken += 1
        if not batch:
            break
        for trial in batch:  # claimed: a later worker knows whose it is and whether that one is alive
            study._storage.set_trial_system_attr(trial._trial_id, WORKER_ATTR,
                                                 {"host": platform.node(), "pid": os.getpid(), "token": TOKEN})
        counter = _run_batch(study, optuna, spec, batch, seeds, url, sweep_dir, file, overrides, jobs, env, counter,
                             out, run)
        study_report.write_manifest(sweep_dir, file, spec, overrides, study, url)




def _run_batch(study, optuna, spec, batch, seeds, url, sweep_dir, file, overrides, jobs, env, counter, out,
               run) -> int:
    """Train the batch's trials (each seed not already in the folder) and tell the study each outcome.
    A trial with an interrupted seed stays running in the study: the next start takes it up again."""
    done = existing_runs(sweep_dir, sweep_dir.name)
    base_seed = load_config(file, overrides).config.experiment.seed
    todo, plan, owner = [], {}, {}
    for trial in batch:
        values = suggest(trial, spec.search)
        points = trial_points(spec, trial, values, seeds, url, sweep_dir, counter)
        counter += len(points)
        try:  # the runner names each run by its config (and finds a run of the same config already there)
            validate_points(file, points, overrides)
        except ExpkitError as exc:
            study.tell(trial, state=optuna.trial.TrialState.FAIL)
            out(f"trial {trial.number}: failed: {str(exc).splitlines()[-1].strip()}")
            continue
        runs = {seed: done.get((trial.number, base_seed if seed is None else seed)) for seed in seeds}
        plan[trial.number] = (trial, values, runs)
        for point, seed in zip(points, seeds):
            if runs[seed] is None:
                todo.append(point)
                owner[point.index] = (trial.number, seed)

    def on_done(point, status, run_dir, seconds, **where):
        number, seed = owner[point.index]
        run = read_run(Path(run_dir)) if run_dir and Path(run_dir, "run.json").is_file() else None
        plan[number][2][seed] = run if run is not None and run.status in ("completed", "pruned") else status
    try:
        if todo:
            run(todo, file, overrides, sweep_dir, jobs, env, on_done)
    finally:
        for trial, values, runs in plan.values():
            if all(r is not None and r != "interrupted" for r in runs.values()):
                study_report.tell(optuna, study, trial, values, runs, spec.search.objective, out)
    return counter


def search_status(file: Path, spec: SweepConfig, overrides: list[str], runs_dir: Path, storage: str | None,
                  out) -> dict:
    """The summary of a search so far, from its study (nothing is trained)."""
    optuna = import_optuna()
    base = load_config(file, overrides)
    sweep_dir = Path(runs_dir) / (spec.name or base.config.experiment.name)
    url = storage_url(sweep_dir, storage)
    if storage is None and not (sweep_dir / STUDY_FILE).is_file():
        raise ExpkitError(f"{sweep_dir / STUDY_FILE}: no study yet; start the search with `expkit sweep {file}`")
    try:
        study = optuna.load_study(study_name=sweep_dir.name, storage=open_storage(optuna, url))
    except KeyError:
        raise ExpkitError(f"no study '{sweep_dir.name}' in {study_report.public_url(url)}; start the search "
                          f"with `expkit sweep {file}`") from None
    search = spec.search
    trials = planned_trials(search)
    summary = study_report.summarize(optuna, study, search.objective, direction(search), trials)
    for line in study_report.summary_lines(summary, sweep_dir.name):
        out(line)
    return summary
