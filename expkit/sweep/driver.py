"""One sweep from start to end: expand and validate every point, skip those already completed, train
the rest, keep sweep.json current. Shared by `expkit sweep` and `expkit.sweep(...)`."""
from __future__ import annotations

import functools
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from expkit.config import load_config
from expkit.config.sweep import SweepConfig
from expkit.runstore import make_runs_dir
from expkit.sweep import manifest
from expkit.sweep.points import Point, attach_existing, expand, merge_cli, validate_points
from expkit.sweep.gpus import GpuPool, machine_gpus
from expkit.sweep.ray_executor import RayOptions
from expkit.sweep.runner import run_points


@dataclass
class SweepResult:
    sweep_dir: Path
    points: list[Point]
    statuses: dict[int, dict] = field(default_factory=dict)   # point index -> {"status", "run"}
    search: dict | None = None   # a search's summary: best trial, counts, importances (sweep.study_report)

    @property
    def failed(self) -> list[int]:
        return sorted(i for i, s in self.statuses.items() if s["status"] != "completed")

    @property
    def run_dirs(self) -> list[Path]:
        return [Path(s["run"]) for _, s in sorted(self.statuses.items()) if s.get("run")]


def executor(reuse_workers: bool = False, ray: RayOptions | None = None, gpus_per_run: int | None = None):
    """What trains a list of points: run_points(todo, file, extra, sweep_dir, jobs, env, on_done)."""
    if ray is not None:  # Ray assigns the GPUs it was asked for (RayOptions.gpus_per_run)
        from expkit.sweep.ray_executor import run_points_ray
        return functools.partial(run_points_ray, options=ray)
    if reuse_workers:
        from expkit.sweep.workers import run_points_warm
        return functools.partial(run_points_warm, gpus_per_run=gpus_per_run)
    return functools.partial(run_points, gpus_per_run=gpus_per_run)


def run_sweep(config: str | Path, *, spec: SweepConfig | None = None, overrides: list[str] = (),
              runs_dir: str | Path = "runs", jobs: int = 1, dry_run: bool = False, out=None,
              gpus_per_run: int | None = None, storage: str | None = None, status: bool = False,
              reuse_workers: bool = False, ray: RayOptions | None = None) -> SweepResult:
    """Train every point of `spec` (default: the config's own sweep: section) not yet completed in
    RUNS_DIR/<sweep name>/; with a search: section, run the rest of its trials (`storage`: a shared
    Optuna database URL; `status`: only report). `out` receives each progress line (flushed: a
    sweep's log is read live). `reuse_workers`: train in warm worker processes (sweep.workers); `ray`:
    every point a Ray task (sweep.ray_executor)."""
    out = out or (lambda line: print(line, flush=True))
    file = Path(config)
    overrides = list(overrides)
    base = load_config(file, overrides)
    spec = spec or merge_cli(base.config.sweep, {}, {}, None, None, None)
    if spec.search is not None:
        from expkit.sweep.search import run_search, search_status
        sweep_dir = Path(runs_dir) / (spec.name or base.config.experiment.name)
        summary = (search_status(file, spec, overrides, Path(runs_dir), storage, out) if status else
                   run_search(file, spec, overrides, Path(runs_dir), jobs, storage, dry_run, out, reuse_workers,
                              ray, gpus_per_run))
        return SweepResult(sweep_dir, [], search=summary)
    dry_run = dry_run or status  # a grid's status: what is completed and what would run
    points = expand(spec, base.config.experiment.seed, base.config.experiment.name)
    validate_points(file, points, overrides)
    sweep_dir = Path(runs_dir) / (spec.name or base.config.experiment.name)
    attach_existing(points, sweep_dir)
    todo = [p for p in points if not p.done]
    gpus = GpuPool(machine_gpus(dict(os.environ)), gpus_per_run)  # a bad --gpus-per-run fails before any run
    result = SweepResult(sweep_dir, points)

    out(f"sweep '{sweep_dir.name}': {len(points)} points, all valid; {len(points) - len(todo)} already completed, "
        f"{len(todo)} to run" + (f" ({jobs} at once)" if jobs > 1 and todo else "") + (gpus.describe() if todo else ""))
    if dry_run:
        for p in points:
            state = "completed" if p.done else (f"resume ({p.existing[-1].status})" if p.existing else "to run")
            out(f"  {p.index:3d}  {state:22s} {p.label}")
        return result
    make_runs_dir(sweep_dir)
    statuses = result.statuses
    statuses.update({p.index: {"status": "completed",
                               "run": str(next(r.path for r in p.existing if r.status == "completed"))}
                     for p in points if p.done})
    manifest.write_manifest(sweep_dir, file, spec, points, overrides, statuses)
    env = manifest.child_env(manifest.varying_keys(points), manifest.hparam_domains(spec, points))

    def on_done(point, status, run_dir, seconds, **where):  # where: the Ray node that ran it
        statuses[point.index] = {"status": status, "run": run_dir, **where}
        manifest.write_manifest(sweep_dir, file, spec, points, overrides, statuses)
        done = sum(1 for s in statuses.values() if s["status"] == "completed")
        out(f"[{done}/{len(points)} completed] point {point.index} ({point.label}): {status} in {seconds:.1f} s"
            + (f" -> {run_dir}" if status == "completed" else f"; see {run_dir}/train.log"))

    executor(reuse_workers, ray, gpus_per_run)(todo, file, overrides, sweep_dir, jobs, env, on_done)
    failed = result.failed
    out(f"sweep '{sweep_dir.name}': {len(points) - len(failed)} of {len(points)} points completed"
        + (f"; not completed: points {', '.join(map(str, failed))} (re-run the same command to retry)"
           if failed else ""))
    out(str(sweep_dir))
    return result


def sweep(config: str | Path, overrides: Iterable[str] = (), runs_dir: str | Path = "runs", jobs: int = 1,
          grid: dict[str, list] | None = None, seeds: int | list[int] | None = None, name: str | None = None,
          quiet: bool = False, reuse_workers: bool = False, storage: str | None = None):
    """Run the config's sweep: section, with `grid` and `seeds` on top as `expkit sweep --grid/--seeds`
    add them (points already completed in RUNS_DIR/<sweep name>/ are skipped); returns a SweepResult
    (.sweep_dir, .statuses, .failed, .run_dirs; .search: a search's best trial, counts, importances).
    `reuse_workers` and `storage` as `expkit sweep --reuse-workers/--storage`."""
    overrides = list(overrides)
    base = load_config(Path(config), overrides)
    spec = merge_cli(base.config.sweep, dict(grid or {}), {}, None, seeds, name)
    return run_sweep(config, spec=spec, overrides=overrides, runs_dir=runs_dir, jobs=jobs,
                     out=(lambda line: None) if quiet else None, reuse_workers=reuse_workers, storage=storage)
