"""Which GPUs each sweep child sees: `expkit sweep --jobs N` on a machine with G GPUs hands each child its
own GPUs through CUDA_VISIBLE_DEVICES (read by TensorFlow and JAX at start), least-used first, so N <= G
children get one GPU each and more children share them round-robin (training.gpu_memory: growth lets
them). No TensorFlow here: the GPUs are counted with nvidia-smi."""
from __future__ import annotations

import subprocess

from expkit.errors import ExpkitError

COUNT_OVERRIDE = "EXPKIT_GPU_COUNT"  # how many GPUs to assume (tests; machines without nvidia-smi)


def machine_gpus(env: dict[str, str]) -> list[str]:
    """The GPU ids children may use: the sweep's own CUDA_VISIBLE_DEVICES when it is set (a launcher gave
    the sweep some GPUs), else 0..G-1 with G from EXPKIT_GPU_COUNT or `nvidia-smi -L` (none: no GPUs)."""
    visible = env.get("CUDA_VISIBLE_DEVICES")
    if visible is not None:
        return [g.strip() for g in visible.split(",") if g.strip() and g.strip() != "-1"]
    if env.get(COUNT_OVERRIDE):
        try:
            count = int(env[COUNT_OVERRIDE])
        except ValueError:
            raise ExpkitError(f"{COUNT_OVERRIDE}={env[COUNT_OVERRIDE]!r}: expected a number of GPUs, e.g. 2") from None
        return [str(i) for i in range(count)]
    try:
        listing = subprocess.run(["nvidia-smi", "-L"], capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError):
        return []
    count = sum(1 for line in listing.stdout.splitlines() if line.startswith("GPU "))
    return [str(i) for i in range(count)] if listing.returncode == 0 else []


class GpuPool:
    """Hands out `per_run` GPUs per child, the least used first (ties: the lowest id)."""

    def __init__(self, gpus: list[str], per_run: int | None):
        if gpus and per_run is not None and per_run > len(gpus):  # without GPUs every run is on the CPU
            raise ExpkitError(f"--gpus-per-run {per_run}: this machine shows {len(gpus)} GPU(s) "
                              f"({', '.join(gpus) or 'none'}): ask for at most {len(gpus)}, or leave it out")
        self.per_run = 0 if not gpus else (per_run or 1)
        self.in_use = {g: 0 for g in gpus}
        self.turn = 0

    def describe(self) -> str:
        return (f"; GPUs {', '.join(self.in_use)}, {self.per_run} per run (CUDA_VISIBLE_DEVICES)"
                if self.per_run else "")

    def acquire(self) -> list[str]:
        if not self.per_run:
            return []
        order = list(self.in_use)
        start = self.turn % len(order)  # round-robin among equally used GPUs
        ranked = sorted(order[start:] + order[:start], key=lambda g: self.in_use[g])
        chosen = ranked[:self.per_run]
        for g in chosen:
            self.in_use[g] += 1
        self.turn += self.per_run
        return chosen

    def release(self, gpus: list[str]) -> None:
        for g in gpus:
            self.in_use[g] -= 1


def child_gpu_env(env: dict[str, str], gpus: list[str]) -> dict[str, str]:
    return {**env, "CUDA_VISIBLE_DEVICES": ",".join(gpus)} if gpus else env
