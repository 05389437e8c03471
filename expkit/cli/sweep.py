"""`expkit sweep CONFIG`: validate every point, then train those not yet completed."""
from __future__ import annotations

import signal
from pathlib import Path

from expkit.errors import ExpkitError


def add_parser(sub) -> None:
    parser = sub.add_parser("sweep", help="run a grid / random / variant sweep with seeds; resumes where it stopped",
                            description="Expands the config's sweep: section and the options below into points, "
                            "validates every point, then trains each one not yet completed in the sweep's folder.")
    parser.add_argument("config", help="the experiment's YAML file (its sweep: section is optional)")
    parser.add_argument("--grid", action="append", default=[], metavar="KEY=V1,V2",
                        help="grid over a dotted config path, e.g. compile.optimizer.learning_rate=0.1,0.01 "
                        "(values parsed as YAML; write a YAML list [..] for values with commas); repeatable")
    parser.add_argument("--random", action="append", default=[], metavar="KEY=KIND:ARGS",
                        help="random search over a key: uniform:LOW:HIGH, log_uniform:LOW:HIGH, "
                        "int_uniform:LOW:HIGH or choice:A,B,C; repeatable; needs --samples")
    parser.add_argument("--samples", type=int, help="number of random points")
    parser.add_argument("--seeds", help="repeat every point: a count N (seeds 0..N-1) or a list 0,1,2")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                        help="an override applied to every point; repeatable")
    parser.add_argument("--runs-dir", default="runs", help="runs go to RUNS_DIR/<sweep name>/ (default: runs)")
    parser.add_argument("--name", help="the sweep's name (its folder); default: sweep.name or the file's name")
    parser.add_argument("--jobs", type=int, default=1, help="how many points train at once (default 1)")
    parser.add_argument("--gpus-per-run", type=int, metavar="K", help="GPUs each point's process sees "
                        "(CUDA_VISIBLE_DEVICES; default 1 on a machine with GPUs, handed out least-used first); "
                        "with --executor ray, the GPUs Ray assigns to each point's task (default 0)")
    parser.add_argument("--reuse-workers", action="store_true", help="train in --jobs warm worker processes that "
                        "import TensorFlow once and train point after point (small points: most of their time is "
                        "that import); a point's run is the same as in a fresh process")
    parser.add_argument("--executor", choices=("local", "ray"), default="local", help="local: child processes "
                        "on this machine (default); ray: every point a Ray task on a cluster (pip install -e '.[ray]')")
    parser.add_argument("--address", help="with --executor ray: the cluster's address (ray start --head prints it); "
                        "default: start a local Ray instance")
    parser.add_argument("--cpus-per-run", type=float, default=1, metavar="N", help="with --executor ray: CPUs "
                        "Ray reserves for each point (default 1)")
    parser.add_argument("--dry-run", action="store_true", help="list the points and what would run, then exit")
    parser.add_argument("--status", action="store_true", help="report without training: a search's best trial, "
                        "counts and parameter importances; a grid's points and what would run")
    parser.add_argument("--storage", metavar="URL", help="a search's Optuna storage, shared by several workers "
                        "(e.g. postgresql://user:pw@host/db); default: sqlite in RUNS_DIR/<sweep>/study.db")
    parser.set_defaults(handler=run)


def _parse_grid(items: list[str]) -> dict[str, list]:
    import yaml
    grid = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key or not raw:
            raise ExpkitError(f"--grid {item}: expected KEY=V1,V2 (e.g. model.layers.1.units=64,128)")
        try:
            values = yaml.safe_load(raw) if raw.lstrip().startswith("[") else [yaml.safe_load(v) for v in raw.split(",")]
        except yaml.YAMLError as exc:
            raise ExpkitError(f"--grid {item}: the values are not valid YAML: {exc}") from None
        grid[key] = values if isinstance(values, list) else [values]
    return grid


def _parse_random(items: list[str]) -> dict:
    import yaml
    from pydantic import ValidationError
    from expkit.config.sweep import RandomParam
    params = {}
    for item in items:
        key, sep, raw = item.partition("=")
        kind, _, args = raw.partition(":")
        if not sep or not key or kind not in ("uniform", "log_uniform", "int_uniform", "choice") or not args:
            raise ExpkitError(f"--random {item}: expected KEY=uniform:LOW:HIGH, log_uniform:LOW:HIGH, "
                              "int_uniform:LOW:HIGH or choice:A,B,C")
        values = [yaml.safe_load(v) for v in (args.split(",") if kind == "choice" else args.split(":"))]
        try:
            params[key] = RandomParam.model_validate({kind: values})
        except ValidationError as exc:
            raise ExpkitError(f"--random {item}: {exc.errors()[0]['msg'].removeprefix('Value error, ')}") from None
    return params


def _parse_seeds(raw: str | None):
    if raw is None:
        return None
    try:
        values = [int(v) for v in raw.split(",")]
    except ValueError:
        raise ExpkitError(f"--seeds {raw}: expected a count (3) or a list of integers (0,1,2)") from None
    if len(values) == 1 and "," not in raw:
        if values[0] < 1:
            raise ExpkitError(f"--seeds {raw}: the count must be at least 1")
        return values[0]
    return values


def run(args) -> int:
    from pydantic import ValidationError
    from expkit.sweep import run_sweep
    from expkit.sweep.points import merge_cli
    from expkit.config import load_config
    if args.jobs < 1:
        raise ExpkitError(f"--jobs {args.jobs}: must be at least 1")
    if args.gpus_per_run is not None and args.gpus_per_run < 1:
        raise ExpkitError(f"--gpus-per-run {args.gpus_per_run}: must be at least 1")
    base = load_config(args.config, args.overrides)
    try:
        spec = merge_cli(base.config.sweep, _parse_grid(args.grid), _parse_random(args.random), args.samples,
                         _parse_seeds(args.seeds), args.name)
    except ValidationError as exc:
        raise ExpkitError("the sweep options are invalid: " + "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg'].removeprefix('Value error, ')}" for e in exc.errors())) from None

    def stop(signum, frame):
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, stop)
    ray = None
    if args.executor == "ray":
        from expkit.sweep.ray_executor import RayOptions
        if args.reuse_workers:
            raise ExpkitError("--reuse-workers is for the local executor; with --executor ray each point is a Ray task")
        if args.cpus_per_run <= 0:
            raise ExpkitError(f"--cpus-per-run {args.cpus_per_run}: must be more than 0 (e.g. 1 or 0.5)")
        ray = RayOptions(args.address, args.cpus_per_run, args.gpus_per_run or 0)
    elif args.address or args.cpus_per_run != 1:
        raise ExpkitError("--address and --cpus-per-run need --executor ray")
    if args.storage and not spec.search:
        raise ExpkitError("--storage: only a search (a sweep.search section) has an Optuna study to store")
    result = run_sweep(args.config, spec=spec, overrides=args.overrides, runs_dir=args.runs_dir, jobs=args.jobs,
                       dry_run=args.dry_run, gpus_per_run=args.gpus_per_run, storage=args.storage,
                       status=args.status, reuse_workers=args.reuse_workers, ray=ray)
    if result.search is not None:  # a search whose every finished trial failed has found nothing
        found = result.search.get("completed") or result.search.get("pruned") or not result.search.get("failed")
        return 0 if found else 1
    return 1 if result.failed else 0
