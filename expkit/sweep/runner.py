"""Running sweep points: each one an `expkit train` child process, at most `jobs` at once."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from expkit.sweep.gpus import GpuPool, child_gpu_env, machine_gpus
from expkit.sweep.points import Point


@dataclass
class Job:
    point: Point
    process: Any
    log: Path
    started: float
    gpus: list[str]


def run_points(todo: list[Point], file: Path, extra: list[str], sweep_dir: Path, jobs: int,
               env: dict[str, str], on_done, gpus_per_run: int | None = None) -> None:
    """Train each point in its own process (`expkit train`), at most `jobs` at once. `on_done(point,
    status, run_dir, seconds)` is called as each one ends. Ctrl-C or SIGTERM stops them all: each
    child records itself as interrupted (or completed, if it finished first), then KeyboardInterrupt
    propagates. On a machine with GPUs each child gets its own (`gpus_per_run`, default 1) through
    CUDA_VISIBLE_DEVICES."""
    import signal
    import subprocess
    import sys
    import time
    logs = sweep_dir / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    queue, running = list(todo), []
    pool = GpuPool(machine_gpus(env), gpus_per_run)
    try:
        while queue or running:
            while queue and len(running) < jobs:
                point = queue.pop(0)
                log = logs / f"point-{point.index:04d}.log"
                sets = [arg for item in [*extra, *point.overrides] for arg in ("--set", item)]
                cmd = [sys.executable, "-m", "expkit", "train", str(file), "--runs-dir", str(sweep_dir), *sets]
                gpus = pool.acquire()
                with log.open("w") as out:
                    proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, env=child_gpu_env(env, gpus),
                                            start_new_session=True)  # our Ctrl-C reaches it through us
                running.append(Job(point, proc, log, time.perf_counter(), gpus))
            time.sleep(0.2)
            for job in [j for j in running if j.process.poll() is not None]:
                running.remove(job)
                pool.release(job.gpus)
                on_done(job.point, _status(job.process.returncode), _run_dir(job.log),
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
            on_done(job.point, status, _run_dir(job.log), time.perf_counter() - job.started)
        raise


def _status(code: int) -> str:
    return {0: "completed", 1: "failed", 2: "invalid", 130: "interrupted"}.get(code, "failed")


def _run_dir(log: Path) -> str | None:
    """`expkit train` prints the run folder first ('run folder: ...') and last."""
    for line in log.read_text(errors="replace").splitlines():
        if line.startswith("run folder: "):
            return line.removeprefix("run folder: ").strip()
    return None
