"""Warm workers (`expkit sweep --reuse-workers`): `jobs` long-lived processes (expkit.cli.worker), each
importing TensorFlow once and training point after point. Same interface and outcomes as the runner's
fresh processes: `on_done(point, status, run_dir, seconds)` per point, Ctrl-C or SIGTERM stops the
points in training (recorded as interrupted) and propagates.

A worker that dies mid-point (a crash, the OOM killer) fails that point only and is replaced; a worker
is also replaced after MAX_POINTS points, so whatever a long sweep leaks in one process is bounded."""
from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

from expkit.runstore import RunFolder
from expkit.sweep.gpus import GpuPool, child_gpu_env, machine_gpus
from expkit.sweep.claims import Claims
from expkit.sweep.points import Point, attach_existing
from expkit.sweep.runner import _command, _die_with, _status

MAX_POINTS = 100


class Worker:
    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen([sys.executable, "-m", "expkit.cli.worker"], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, env=env,
                                        start_new_session=True,  # our Ctrl-C reaches it through us
                                        preexec_fn=_die_with(os.getpid()))  # and a kill -9 of the sweep too
        self.buffer = b""
        self.points = 0
        self.point: Point | None = None
        self.gpus: list[str] = []
        self.run_dir: Path | None = None
        self.started = 0.0

    def give(self, point: Point, argv: list[str], run_dir: Path) -> None:
        self.point, self.run_dir, self.started = point, run_dir, time.perf_counter()
        log = RunFolder(run_dir).log_file
        self.points += 1
        self.process.stdin.write((json.dumps({"argv": argv, "env": point.env, "log": str(log)}) + "\n").encode())
        self.process.stdin.flush()

    def answer(self) -> int | None:
        """The point's exit code once it ended: the worker's answer, or its own death's code."""
        fd = self.process.stdout.fileno()
        while select.select([fd], [], [], 0)[0]:
            chunk = os.read(fd, 4096)
            if not chunk:
                break
            self.buffer += chunk
        if b"\n" in self.buffer:
            line, self.buffer = self.buffer.split(b"\n", 1)
            return int(json.loads(line)["code"])
        code = self.process.poll()
        if code is not None:
            return code if code > 0 else 1  # killed by a signal: the point failed
        return None

    def close(self) -> None:
        try:
            self.process.stdin.close()
        except OSError:
            pass


class WorkerPool:
    """Up to `jobs` warm workers, kept across calls of `run` (a search runs one batch of trials at a time)."""

    def __init__(self, jobs: int, env: dict[str, str], gpus_per_run: int | None = None):
        self.jobs, self.env = jobs, env
        self.gpus = GpuPool(machine_gpus(env), gpus_per_run)  # each worker keeps its GPUs for its life
        self.idle: list[Worker] = []

    def _worker(self) -> Worker:
        gpus = self.gpus.acquire()
        worker = Worker(child_gpu_env(self.env, gpus))
        worker.gpus = gpus
        return worker

    def _retire(self, worker: Worker) -> None:
        worker.close()
        self.gpus.release(worker.gpus)

    def run(self, todo: list[Point], file: Path, extra: list[str], sweep_dir: Path, on_done) -> None:
        """As the runner's run_points: each point claimed first (claims.py), so a point another live sweep
        trains is waited for, not trained twice; an answer is read as soon as it is written (select)."""
        queue = list(todo)
        while len(self.idle) < min(self.jobs, len(todo)):
            self.idle.append(self._worker())  # they import TensorFlow while we wait
        busy: list[Worker] = []
        claims = Claims(sweep_dir)
        try:
            while queue or busy:
                self._hand_out(queue, busy, claims, file, extra, sweep_dir, on_done)
                if not busy:  # every point left is claimed by another sweep: look again soon
                    time.sleep(0.2)
                    continue
                select.select([w.process.stdout.fileno() for w in busy], [], [], 1.0)  # an answer, or a death
                for worker in list(busy):
                    code = worker.answer()
                    if code is None:
                        continue
                    busy.remove(worker)
                    claims.release(worker.point.hash)
                    on_done(worker.point, _status(code), str(worker.run_dir), time.perf_counter() - worker.started)
                    if worker.process.poll() is None and worker.points < MAX_POINTS:
                        self.idle.append(worker)
                    else:  # dead, or old enough: a fresh one takes its place
                        self._retire(worker)
                        self.idle.append(self._worker())
        except KeyboardInterrupt:
            for worker in busy:  # SIGTERM: `train` records the run as interrupted, then the worker ends
                worker.process.send_signal(signal.SIGTERM)
            for worker in busy:
                try:  # a point that finished as it was stopped answered 0 first: it stays completed
                    code = worker.process.wait(timeout=60)
                    answer = worker.answer()
                    status = _status(answer if answer is not None else code)
                except subprocess.TimeoutExpired:
                    worker.process.kill()
                    status = "interrupted"
                on_done(worker.point, status, str(worker.run_dir), time.perf_counter() - worker.started)
            raise
        finally:
            claims.release_all()

    def _hand_out(self, queue: list[Point], busy: list[Worker], claims: Claims, file: Path, extra: list[str],
                  sweep_dir: Path, on_done) -> None:
        """Give idle workers the next points this sweep could claim."""
        for point in list(queue):
            if not self.idle:
                return
            if not claims.acquire(point.hash):
                continue  # another sweep trains it now
            queue.remove(point)
            attach_existing([point], sweep_dir)  # it may have completed meanwhile, elsewhere
            if point.done:
                claims.release(point.hash)
                done = next(r for r in point.existing if r.status == "completed")
                on_done(point, "completed", str(done.path), 0.0)
                continue
            worker = self.idle.pop()
            cmd, run_dir = _command(point, file, extra, sweep_dir)  # the runner's: train or resume
            worker.give(point, cmd[3:], run_dir)  # without `python -m expkit`
            busy.append(worker)

    def close(self) -> None:
        for worker in self.idle:
            self._retire(worker)
        for worker in self.idle:
            try:
                worker.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                worker.process.kill()
        self.idle = []


def run_points_warm(todo: list[Point], file: Path, extra: list[str], sweep_dir: Path, jobs: int,
                    env: dict[str, str], on_done, gpus_per_run: int | None = None) -> None:
    """The runner's run_points, in warm workers."""
    pool = WorkerPool(jobs, env, gpus_per_run)
    try:
        pool.run(todo, file, extra, sweep_dir, on_done)
    finally:
        pool.close()
