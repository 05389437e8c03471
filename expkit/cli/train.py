"""`expkit train CONFIG`: validate, build and train; the run folder is printed last."""
from __future__ import annotations

import sys
from pathlib import Path

from expkit.cli.app import add_set_option
from expkit.errors import ExpkitError


def add_parser(sub) -> None:
    parser = sub.add_parser("train", help="validate, build and train; prints the run folder last")
    parser.add_argument("config", help="the experiment's YAML file")
    add_set_option(parser)
    parser.add_argument("--runs-dir", default="runs", help="where run folders go (default: runs)")
    parser.add_argument("--name", help="override experiment.name (used in the run folder's name)")
    parser.add_argument("--run-dir", help="create the run exactly in this folder (new or empty) instead of a new "
                        "folder in --runs-dir; `expkit sweep` names its points' folders this way")
    cluster = parser.add_argument_group(
        "several machines (JAX: training.backend: jax, distribution: data_parallel; untested on a real cluster)")
    cluster.add_argument("--coordinator", metavar="HOST:PORT", help="process 0's address, the same for every process "
                         "(or KERAS_DISTRIBUTION_JOB_ADDRESSES)")
    cluster.add_argument("--num-processes", type=int, metavar="N", help="how many processes train together "
                         "(or KERAS_DISTRIBUTION_NUM_PROCESSES)")
    cluster.add_argument("--process-id", type=int, metavar="I", help="this process, 0..N-1; 0 coordinates "
                         "(or KERAS_DISTRIBUTION_PROCESS_ID)")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.config import load_config
    _cluster_env(args)
    loaded = load_config(args.config, args.overrides, name=args.name)
    if loaded.config.sweep:
        print(f"note: {args.config} has a sweep: section, which `expkit train` ignores (it trains the base "
              f"config once); `expkit sweep {args.config}` runs the sweep", file=sys.stderr)
    from expkit.runstore import make_runs_dir
    runs_dir = Path(args.run_dir).parent if args.run_dir else Path(args.runs_dir)
    make_runs_dir(runs_dir)  # a file or a read-only disk is found before TensorFlow starts
    from expkit.training import train
    print(train(loaded, runs_dir, Path(args.run_dir) if args.run_dir else None))
    return 0


def _cluster_env(args) -> None:
    """The flags become Keras' own variables, which keras.distribution.initialize reads (cluster launchers
    can set those instead); the values are checked against the config in training."""
    import os
    import re
    flags = {"--coordinator": args.coordinator, "--num-processes": args.num_processes, "--process-id": args.process_id}
    given = [k for k, v in flags.items() if v is not None]
    if not given:
        return
    if len(given) < 3:
        missing = ", ".join(k for k in flags if k not in given)
        raise ExpkitError(f"{', '.join(given)} also needs {missing}: every process gets the same --coordinator "
                          "HOST:PORT and --num-processes N, and its own --process-id I")
    if not re.fullmatch(r"[^\s:,]+:\d{1,5}", args.coordinator):
        raise ExpkitError(f"--coordinator {args.coordinator}: expected HOST:PORT, e.g. 10.0.0.1:1234")
    if args.num_processes < 1 or not 0 <= args.process_id < args.num_processes:
        raise ExpkitError(f"--num-processes {args.num_processes} --process-id {args.process_id}: expected N >= 1 "
                          "and an id from 0 to N-1")
    os.environ["KERAS_DISTRIBUTION_JOB_ADDRESSES"] = args.coordinator
    os.environ["KERAS_DISTRIBUTION_NUM_PROCESSES"] = str(args.num_processes)
    os.environ["KERAS_DISTRIBUTION_PROCESS_ID"] = str(args.process_id)
