"""Running sweep points: each one an `expkit train` (or `expkit resume`) child process, at most `jobs` at once."""
from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expkit.sweep.gpus import GpuPool, child_gpu_env, machine_gpus
from expkit.runstore import RunFolder, create_run_dir, now
from expkit.sweep.claims import Claims
from expkit.sweep.points import Point, attach_existing


@dataclass
class Job:
    point: Point
    process: Any
    run_dir: Path
    started: float
    gpus: list[str]


def run_points(todo: list[Point], file: Path, extra: list[str], sweep_dir: Path, jobs: int,
               env: dict[str, str], on_done, gpus_per_run: int | None = None) -> None:
    """Train each point in its own process, at most `jobs` at once: `expkit train --run-dir` into a folder
    named here (so the run folder is known without reading the child's output, and its log,
    train.log, lives in it), or `expkit resume` when the point has a stale, interrupted or failed run.
    Each point is claimed first (claims.py): a point another live sweep is training is waited for, not
    trained again. Children die with this process (a parent-death signal), so a killed sweep leaves
    no orphan training. `on_done(point, status, run_dir, seconds)` is called as each one ends.
    Ctrl-C or SIGTERM stops them all: each child records itself as interrupted (or completed, if it
    finished first), then KeyboardInterrupt propagates. On a machine with GPUs each child gets its own
    (`gpus_per_run`, default 1) through CUDA_VISIBLE_DEVICES."""
    import signal
    import subprocess
    import time
    queue, running = list(todo), []
    pool = GpuPool(machine_gpus(env), gpus_per_run)
    claims = Claims(sweep_dir)
    try:
        while queue or running:
            for point in list(queue):
                if len(running) >= jobs:
                    break
                if not claims.acquire(point.hash):
                    continue  # another sweep trains it now: look again later
                queue.remove(point)
                attach_existing([point], sweep_dir)  # it may have completed meanwhile, elsewhere
                if point.done:
                    claims.release(point.hash)
                    done = next(r for r in point.existing if r.status == "completed")
                    on_done(point, "completed", str(done.path), 0.0)
                    continue
                cmd, run_dir = _command(point, file, extra, sweep_dir)
                gpus = pool.acquire()
                with RunFolder(run_dir).log_file.open("a") as out:
                    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=child_gpu_env({**env, **point.env}, gpus),
                                            start_new_session=True,  # our Ctrl-C reaches it through us
                                            preexec_fn=_die_with(os.getpid()))
                running.append(Job(point, proc, run_dir, time.perf_counter(), gpus))
            time.sleep(0.2)
            for job in [j for j in running if j.process.poll() is not None]:
                running.remove(job)
                pool.release(job.gpus)
                claims.release(job.point.hash)
                on_done(job.point, _status(job.process.returncode), str(job.run_dir),
                        time.perf_counter() - job.started)
    except KeyboardInterrupt:
        for job in running:  # SIGTERM, not SIGINT: a shell may have started us (and so them) ignoring SIGINT
            job.process.send_signal(signal.SIGTERM)
        for job in running:
            try:  # a point that finished as we stopped it stays completed: its run folder says so too
                status = _status(job.process.wait(timeout=60))
            except subprocess.TimeoutExpired:
                job.process.kill()
                status = "interrupted"
            on_done(job.point, status, str(job.run_dir), time.perf_counter() - job.started)
        raise
    finally:
        claims.release_all()


def _command(point: Point, file: Path, extra: list[str], sweep_dir: Path) -> tuple[list[str], Path]:
    """`expkit resume` for a point whose last run stopped before completing, else `expkit train` into a
    new folder named here."""
    import sys
    unfinished = [r for r in point.existing if r.status in ("stale", "interrupted", "failed")]
    if unfinished:
        run_dir = unfinished[-1].path
        return [sys.executable, "-m", "expkit", "resume", str(run_dir)], run_dir
    run_dir = create_run_dir(sweep_dir, point.loaded.config.experiment.name, now())
    sets = [arg for item in [*extra, *point.overrides] for arg in ("--set", item)]
    return [sys.executable, "-m", "expkit", "train", str(file), "--run-dir", str(run_dir), *sets], run_dir


def _die_with(parent: int):
    """In the child, before exec: ask Linux to send SIGTERM when the sweep process dies (prctl
    PR_SET_PDEATHSIG), so a `kill -9` of the sweep does not leave its children training (they run in
    their own sessions, out of reach of the terminal's signals). If the sweep died before this ran,
    the child ends at once. Elsewhere than Linux, nothing."""
    def preexec() -> None:
        import ctypes
        import signal
        try:
            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM))  # 1: PR_SET_PDEATHSIG
        except (OSError, AttributeError):
            return
        if os.getppid() != parent:
            os.kill(os.getpid(), signal.SIGKILL)
    return preexec


def _status(code: int) -> str:
    return {0: "completed", 1: "failed", 2: "invalid", 130: "interrupted"}.get(code, "failed")
