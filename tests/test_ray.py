"""`expkit sweep --executor ray` on a real two-node Ray cluster on loopback: a head (`ray start --head`)
and a second node joined to it, one CPU each. The cluster's processes are found by its own temp
folder and ended by PID (never `ray stop`, which ends every Ray process on the machine)."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from expkit.runstore import load_runs
from tests.helpers import xor_classifier

pytest.importorskip("ray")

ROOT = Path(__file__).resolve().parents[1]
RAY = str(Path(sys.executable).with_name("ray"))
LR = "compile.optimizer.learning_rate"

BASE = xor_classifier(0.05, units=4, experiment={"name": "spread", "seed": 0},
                      dataset={"name": "xor", "samples": 200}, training={"epochs": 2, "verbose": 2},
                      sweep={"grid": {LR: [0.1, 0.03, 0.01, 0.003]}})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _cluster_pids(temp_dir: str) -> list[int]:
    """The processes whose command line names `temp_dir`, and their descendants: Ray's agents rename
    themselves (ray::DashboardAgent, ray::RuntimeEnvAgent), so only their parent names the folder."""
    named, children = set(), {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                state, parent = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:2]
                if state == "Z":  # ended, waiting for its parent to read its exit status
                    continue
                if temp_dir.encode() in (entry / "cmdline").read_bytes():
                    named.add(int(entry.name))
            except (OSError, ValueError):
                continue
            parent = int(parent)
            children.setdefault(parent, []).append(int(entry.name))
    found, todo = set(), list(named)
    while todo:
        pid = todo.pop()
        if pid not in found:
            found.add(pid)
            todo.extend(children.get(pid, []))
    return sorted(found)


def _stop(temp_dir: str) -> None:
    for sig, grace in ((signal.SIGTERM, 5), (signal.SIGKILL, 15)):
        pids = _cluster_pids(temp_dir)  # all of them before any goes: an orphan is re-parented to init
        for pid in pids:
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while _cluster_pids(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.5)


# Ray turns --node-ip-address 127.0.0.1 (and a local instance's address) into the machine's outward
# address (ray._private.services.resolve_ip_for_localhost). The nodes take other loopback addresses, which
# Ray keeps as given: on Linux all of 127.0.0.0/8 is loopback, so no traffic leaves `lo`.
HEAD_IP, NODE_IP = "127.0.0.2", "127.0.0.3"


def ray_env(temp_dir: str, **extra: str) -> dict:
    """The environment of a test's Ray processes and sweeps: a HOME of their own, so Ray's token file
    (~/.ray/auth_token, which a local instance writes) neither comes from nor goes to the user's."""
    home = Path(temp_dir) / "home"
    home.mkdir(exist_ok=True)
    return {**os.environ, "HOME": str(home), "PYTHONPATH": str(ROOT), "RAY_USAGE_STATS_ENABLED": "0", **extra}


def node_args(ip: str, temp_dir: str) -> list[str]:
    return ["--node-ip-address", ip, "--num-cpus", "1", "--object-store-memory", "80000000",
            "--temp-dir", temp_dir, "--disable-usage-stats"]


@pytest.fixture(scope="module")
def cluster():
    temp_dir = tempfile.mkdtemp(prefix="expkit-ray-")
    port = _free_port()
    env = ray_env(temp_dir)
    try:
        for cmd in ([RAY, "start", "--head", "--port", str(port), "--include-dashboard=false",
                     *node_args(HEAD_IP, temp_dir)],
                    [RAY, "start", "--address", f"{HEAD_IP}:{port}", *node_args(NODE_IP, temp_dir)]):
            started = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=180)
            assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        yield f"{HEAD_IP}:{port}", env
    finally:
        _stop(temp_dir)


def write(tmp_path: Path, **changes) -> Path:
    path = tmp_path / "spread.yaml"
    path.write_text(yaml.safe_dump({**BASE, **changes}, sort_keys=False))
    return path


def sweep(config, *args, env, timeout=600):
    return subprocess.run([sys.executable, "-m", "expkit", "sweep", str(config), *map(str, args)], env=env,
                          capture_output=True, text=True, timeout=timeout, cwd=ROOT)


HOLDER = """
import json, sys, time
from pathlib import Path
from expkit.runstore import this_process
claim, sweep_dir = Path(sys.argv[1]), Path(sys.argv[2])
claim.parent.mkdir(parents=True, exist_ok=True)
claim.write_text(json.dumps({**this_process(), "time": time.time()}))
deadline = time.monotonic() + 300
while len(list(sweep_dir.glob("*/results.json"))) < 3 and time.monotonic() < deadline:
    time.sleep(0.2)
claim.unlink()
"""


def point_hash(config: Path, lr: float) -> str:
    from expkit.config import load_config
    from expkit.sweep.points import expand, validate_points
    points = [p for p in expand(load_config(config).config.sweep, 0, "spread") if p.values[LR] == lr]
    validate_points(config, points, [])
    return points[0].hash


@pytest.mark.slow
def test_points_spread_over_both_nodes_wait_for_a_claimed_one_and_a_rerun_skips_them(cluster, tmp_path):
    address, env = cluster
    config = write(tmp_path)
    runs = tmp_path / "runs"
    # Another live process (a second sweep, say) holds the first point's claim until the three others
    # completed: the Ray sweep must leave it alone until then, then train it (claims.py).
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, runs / "spread" / "claims" / f"{point_hash(config, 0.1)}.claim",
                               runs / "spread"], env=env)
    result = sweep(config, "--runs-dir", runs, "--executor", "ray", "--address", address, env=env)
    assert holder.wait(timeout=60) == 0
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    assert "4 of 4 points completed" in result.stdout
    points = json.loads((runs / "spread" / "sweep.json").read_text())["points"]
    assert [p["status"] for p in points] == ["completed"] * 4
    assert len({p["node"] for p in points}) == 2  # both nodes trained points
    found = load_runs([runs / "spread"])
    assert len({r.info["pid"] for r in found}) == 4  # each point in its own `expkit train` process
    held = next(r for r in found if r.config["compile"]["optimizer"]["learning_rate"] == 0.1)
    assert held.info["start_time"] >= max(r.info["end_time"] for r in found if r is not held)
    assert not list((runs / "spread" / "claims").glob("*.claim"))
    again = sweep(config, "--runs-dir", runs, "--executor", "ray", "--address", address, env=env)
    assert again.returncode == 0 and "4 already completed, 0 to run" in again.stdout, again.stdout


@pytest.mark.slow
def test_stopping_the_driver_cancels_the_remote_runs_and_records_them_interrupted(cluster, tmp_path):
    address, env = cluster
    config = write(tmp_path, training={"epochs": 5000, "verbose": 0})
    runs = tmp_path / "runs"
    driver = subprocess.Popen([sys.executable, "-m", "expkit", "sweep", str(config), "--runs-dir", str(runs),
                               "--executor", "ray", "--address", address], env=env, cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        found = load_runs([runs / "spread"]) if (runs / "spread").is_dir() else []
        if sum(r.status == "running" for r in found) == 2:
            break
        time.sleep(0.5)
    else:
        driver.kill()
        pytest.fail("two points never started")
    driver.send_signal(signal.SIGTERM)  # what Ctrl-C does, from a background shell too
    out, _ = driver.communicate(timeout=180)
    assert driver.returncode == 130, out
    statuses = sorted(r.status for r in load_runs([runs / "spread"]))
    assert statuses == ["interrupted", "interrupted"], out  # the two queued points never started
    points = json.loads((runs / "spread" / "sweep.json").read_text())["points"]
    assert sorted(str(p.get("status")) for p in points) == ["None", "None", "interrupted", "interrupted"]


def test_ray_options_without_the_ray_executor_are_exit_2(tmp_path):
    result = sweep(write(tmp_path), "--address", "127.0.0.1:1", env=None, timeout=120)
    assert result.returncode == 2 and "--address and --cpus-per-run need --executor ray" in result.stderr


def _private_mounts() -> list[str]:
    """`unshare`'s prefix for a process with its own mount table (a user namespace when not root)."""
    prefix = ["unshare", "--mount", "--propagation", "private", *([] if os.geteuid() == 0 else ["--map-root-user"])]
    try:
        usable = subprocess.run([*prefix, "true"], capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        usable = False
    if not usable:
        pytest.skip("needs unshare --mount (a private mount namespace) to give one node a read-only view")
    return prefix


@pytest.mark.slow
def test_a_sweep_folder_a_node_cannot_write_stops_the_sweep_before_training(tmp_path):
    # One node whose view of the runs folder is read-only (a read-only bind mount in its own mount
    # namespace): what a node without the shared storage mounted read-write sees.
    prefix = _private_mounts()
    runs = tmp_path / "runs"
    runs.mkdir()
    temp_dir = tempfile.mkdtemp(prefix="expkit-ray-")
    port = _free_port()
    env = ray_env(temp_dir)
    readonly = 'mount --bind "$0" "$0" && mount -o remount,ro,bind "$0" && exec "$@"'
    try:
        started = subprocess.run([*prefix, "sh", "-c", readonly, str(runs), RAY, "start", "--head", "--port", str(port),
                                  "--include-dashboard=false", *node_args(HEAD_IP, temp_dir)],
                                 env=env, capture_output=True, text=True, timeout=180)
        assert started.returncode == 0, started.stdout[-2000:] + started.stderr[-2000:]
        result = sweep(write(tmp_path), "--runs-dir", runs, "--executor", "ray", "--address", f"{HEAD_IP}:{port}",
                       env=env, timeout=300)
    finally:
        _stop(temp_dir)
    assert result.returncode == 2, result.stdout[-2000:] + result.stderr[-2000:]
    assert f"the sweep folder {runs / 'spread'} must be on storage every node sees and can write" in result.stderr
    assert "Read-only file system" in result.stderr and "Traceback" not in result.stderr
    assert not list(runs.glob("spread/*/run.json"))  # nothing trained


@pytest.mark.slow
def test_without_address_the_sweep_starts_a_local_ray_instance_and_ends_it(tmp_path):
    temp_dir = tempfile.mkdtemp(prefix="expkit-ray-")  # where the local instance lives: its processes are found by it
    # One node only: Ray's single-machine mode (the default on macOS and Windows) keeps it on 127.0.0.1.
    env = ray_env(temp_dir, RAY_TMPDIR=temp_dir, RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER="0")
    env.pop("RAY_ADDRESS", None)
    config = write(tmp_path, sweep={"grid": {LR: [0.1, 0.01]}}, training={"epochs": 1, "verbose": 2})
    try:
        result = sweep(config, "--runs-dir", tmp_path / "runs", "--executor", "ray", env=env, timeout=300)
        assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
        assert "2 of 2 points completed" in result.stdout
        deadline = time.monotonic() + 30
        while _cluster_pids(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert not _cluster_pids(temp_dir), "the local Ray instance outlived the sweep"
    finally:
        _stop(temp_dir)
