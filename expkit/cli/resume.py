"""`expkit resume RUN_DIR`: continue an interrupted, killed or failed run in its folder, from its last
finished epoch; the run folder is printed last."""
from __future__ import annotations

from pathlib import Path


def add_parser(sub) -> None:
    parser = sub.add_parser(
        "resume", help="continue an interrupted, killed or failed run from its last finished epoch",
        description="Continues the run in RUN_DIR with the config it started with (its config.yaml), from the "
        "training state saved at the end of its last finished epoch (state.npz): weights, optimizer, "
        "callbacks, random state. metrics.csv goes on from that epoch; run.json records each attempt.")
    parser.add_argument("run_dir", metavar="RUN_DIR", help="the run's folder")
    parser.set_defaults(handler=run)


def run(args) -> int:
    from expkit.training import resume
    print(resume(Path(args.run_dir)))
    return 0
