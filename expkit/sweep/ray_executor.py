"""The Ray executor (`expkit sweep --executor ray [--address ADDR]`): every point is a Ray task with the
resources it asks for (--cpus-per-run, --gpus-per-run; Ray gives a task its GPUs in
CUDA_VISIBLE_DEVICES), which trains it in an `expkit train` child on whichever node Ray picks.

Run folders are written straight into the sweep folder, so it must be on storage every node sees (NFS,
a cluster file system). That is checked first: a probe task on every node must read a token the driver
wrote there and write back, or the sweep stops before training with the node that cannot. Resume is the
driver's as with local processes (completed points skipped, the rest rerun); Ctrl-C cancels the tasks:
each stops its child with SIGTERM, which records the run as interrupted.

Ray is imported only here (extra `ray`); without --address a local Ray instance is started."""
from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass
from pathlib import Path

from expkit.errors import ExpkitError
from expkit.sweep.claims import Claims
from expkit.sweep.points import Point, attach_existing
from expkit.runstore import RunFolder
from expkit.sweep.runner import _command, _status

PROBE = ".expkit-shared-storage-check"


@dataclass(frozen=True)
class RayOptions:
    address: str | None = None
    cpus_per_run: float = 1
    gpus_per_run: float = 0


def import_ray():
    try:
        import ray
    except ImportError:
        raise ExpkitError("--executor ray needs Ray, which is not installed: pip install -e '.[ray]'") from None
    return ray


def connect(ray, options: RayOptions) -> None:
    import signal
    if ray.is_initialized():
        return
    ours = signal.getsignal(signal.SIGTERM)
    # No --address (nor RAY_ADDRESS): a new local instance, never whichever cluster this machine started last.
    address = options.address or os.environ.get("RAY_ADDRESS") or "local"
    try:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 configure_logging=True, logging_level="WARNING")
    except (ConnectionError, RuntimeError, ValueError) as exc:
        where = f"the Ray cluster at {address}" if address != "local" else "a local Ray instance"
        raise ExpkitError(f"--executor ray: could not connect to {where}: {exc}; start one with "
                          "`ray start --head` (or drop --address for a local one)") from None
    finally:  # Ray's own SIGTERM handler ends the driver at once; ours cancels the runs and records them
        signal.signal(signal.SIGTERM, ours)


def _probe(folder: str, token: str) -> tuple[str, str, str | None]:
    """On one node: (node id, host, problem or None) for the shared sweep folder."""
    import platform

    import ray
    node = ray.get_runtime_context().get_node_id()
    path = Path(folder) / PROBE
    try:
        if path.read_text() != token:
            return node, platform.node(), f"{path} holds another sweep's token: a different folder of the same name"
        mine = Path(folder) / f"{PROBE}-{node[:12]}"
        mine.write_text(token)
        mine.unlink()
    except OSError as exc:
        return node, platform.node(), f"{type(exc).__name__}: {exc}"
    return node, platform.node(), None


def check_shared_storage(ray, sweep_dir: Path) -> int:
    """Every alive node must see and write the sweep folder; returns how many nodes do."""
    from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy
    token = secrets.token_hex(8)
    path = sweep_dir.resolve() / PROBE
    path.write_text(token)
    try:
        nodes = [n["NodeID"] for n in ray.nodes() if n.get("Alive")]
        probe = ray.remote(num_cpus=0)(_probe)
        refs = [probe.options(scheduling_strategy=NodeAffinitySchedulingStrategy(node, soft=False))
                .remote(str(sweep_dir.resolve()), token) for node in nodes]
        results = ray.get(refs, timeout=120)
    finally:
        path.unlink(missing_ok=True)
    bad = [f"node {node[:12]} ({host}): {problem}" for node, host, problem in results if problem]
    if bad:
        raise ExpkitError(f"--executor ray: the sweep folder {sweep_dir.resolve()} must be on storage every node "
                          "sees and can write (NFS, a cluster file system); " + "; ".join(bad))
    return len(results)


def _train_point(argv: list[str], env: dict[str, str], run_dir: str) -> dict:
    """A Ray task: `expkit train` in a child process on this node; a cancel stops the child with SIGTERM."""
    import platform
    import signal
    import subprocess
    import sys

    import ray
    node = ray.get_runtime_context().get_node_id()
    with open(os.path.join(run_dir, "train.log"), "a") as out:  # RunFolder.log_file, named without expkit
        child = subprocess.Popen([sys.executable, "-m", "expkit", *argv], stdout=out, stderr=subprocess.STDOUT,
                                 env={**os.environ, **env}, start_new_session=True)
        try:  # polled: ray.cancel's KeyboardInterrupt arrives only while Python code runs, not in wait()
            while child.poll() is None:
                time.sleep(0.2)
            code = child.returncode
        except KeyboardInterrupt:  # ray.cancel: the run records itself as interrupted
            child.send_signal(signal.SIGTERM)
            try:
                code = child.wait(timeout=60)
            except subprocess.TimeoutExpired:
                child.kill()
                code = 130
    return {"code": code, "node": node, "host": platform.node()}


def run_points_ray(todo: list[Point], file: Path, extra: list[str], sweep_dir: Path, jobs: int,
                   env: dict[str, str], on_done, options: RayOptions) -> None:
    """The runner's run_points as Ray tasks. `env`: only the EXPKIT_* variables travel to the nodes
    (each node keeps its own PATH, CUDA_VISIBLE_DEVICES...). As locally, each point is claimed before it
    is submitted (claims.py: a point another live sweep has is waited for, not run twice), and no more
    are submitted than the cluster can run at once (at least `jobs`), so two sweeps split the points."""
    ray = import_ray()
    sweep_dir.mkdir(parents=True, exist_ok=True)
    connect(ray, options)
    check_shared_storage(ray, sweep_dir)
    task = ray.remote(num_cpus=options.cpus_per_run, num_gpus=options.gpus_per_run, max_retries=0)(_train_point)
    travel = {k: v for k, v in env.items() if k.startswith("EXPKIT_")}
    slots = max(jobs, capacity(ray.cluster_resources(), options))
    queue, pending, claims = list(todo), {}, Claims(sweep_dir)
    try:
        while queue or pending:
            for point in list(queue):
                if len(pending) >= slots:
                    break
                if not claims.acquire(point.hash):
                    continue  # another sweep runs it now: look again later
                queue.remove(point)
                attach_existing([point], sweep_dir)  # it may have completed meanwhile, elsewhere
                if point.done:
                    claims.release(point.hash)
                    on_done(point, "completed", str(next(r.path for r in point.existing if r.status == "completed")), 0.0)
                    continue
                # the runner's command (train into a folder named here, or resume), absolute paths
                cmd, run_dir = _command(point, file.resolve(), extra, sweep_dir.resolve())
                pending[task.remote(cmd[3:], {**travel, **point.env}, str(run_dir))] = (point, run_dir, time.perf_counter())
            if not pending:
                time.sleep(0.5)
                continue
            ready, _ = ray.wait(list(pending), num_returns=1, timeout=1.0)
            for ref in ready:
                point, run_dir, started = pending.pop(ref)
                try:
                    result = ray.get(ref)
                    status, where = _status(result["code"]), {"node": result["node"], "host": result["host"]}
                except ray.exceptions.RayError as exc:  # the node died, the task could not run
                    status, where = "failed", {"error": str(exc).splitlines()[0][:300]}
                claims.release(point.hash)
                on_done(point, status, str(run_dir), time.perf_counter() - started, **where)
    except KeyboardInterrupt:
        _cancel(ray, pending, on_done)
        raise
    finally:
        claims.release_all()


def capacity(resources: dict, options: RayOptions) -> int:
    """How many points the cluster runs at once: its CPUs (and GPUs) over what a point asks for."""
    counts = [int(resources.get(kind, 0) // need) for kind, need in
              (("CPU", options.cpus_per_run), ("GPU", options.gpus_per_run)) if need > 0]
    return max(1, min(counts)) if counts else 1


def _cancel(ray, pending: dict, on_done) -> None:
    """Ctrl-C: cancel the submitted tasks; a run that had started records how it ended."""
    for ref in pending:
        ray.cancel(ref)
    # One wait for all of them (each stopping run saves and records itself at the same time), not one per run.
    ray.wait(list(pending), num_returns=len(pending), timeout=90)
    for ref, (point, run_dir, started) in pending.items():
        try:
            ray.get(ref, timeout=0)
        except Exception:  # noqa: BLE001  (cancelled, or never started: the run folder tells)
            pass
        if RunFolder(run_dir).is_run:  # it had started: its run.json says whether it finished first
            on_done(point, _final_status(run_dir), str(run_dir), time.perf_counter() - started)
        else:  # never started: the folder named for it goes (train.log at most)
            RunFolder(run_dir).log_file.unlink(missing_ok=True)
            try:
                run_dir.rmdir()
            except OSError:
                pass


def _final_status(run_dir: Path) -> str:
    from expkit.runstore import read_run
    try:
        status = read_run(run_dir).status
    except Exception:  # noqa: BLE001
        return "interrupted"
    return "completed" if status == "completed" else "interrupted"
