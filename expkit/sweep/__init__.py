"""Sweeps: points (expand, validate, hash), the runner that trains them in child processes, the
sweep.json manifest, and the driver that ties them together for the CLI and the Python API."""
import sys
import types

from expkit.sweep.driver import SweepResult, run_sweep, sweep

__all__ = ["SweepResult", "run_sweep", "sweep"]


class _CallablePackage(types.ModuleType):
    """Python binds this package to the attribute `expkit.sweep` once it is imported, which would hide
    the API function of the same name; calling the package calls that function instead."""

    def __call__(self, *args, **kwargs):
        return sweep(*args, **kwargs)


sys.modules[__name__].__class__ = _CallablePackage
