"""Sweeps: points (expand, validate, hash), the runner that trains them in child processes, the
sweep.json manifest, and the driver that ties them together for the CLI and the Python API."""
from expkit.sweep.driver import SweepResult, run_sweep

__all__ = ["SweepResult", "run_sweep"]
