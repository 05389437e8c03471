"""Which device a run uses, and how much of a GPU it takes. The choices are pure functions so tests can
stand in for the device list; `apply_device` makes them true in TensorFlow."""
from __future__ import annotations

import sys
from dataclasses import dataclass

from expkit.errors import ExpkitError


@dataclass(frozen=True)
class DevicePlan:
    device: str            # a TensorFlow device string, '/GPU:0' or '/CPU:0'
    hide_gpus: bool        # training.device: cpu with GPUs present: make them invisible to TensorFlow
    jit_compile: bool
    mixed_precision: bool
    backend: str = "tensorflow"

    @property
    def is_gpu(self) -> bool:
        return "GPU" in self.device


def choose_device(requested: str, gpus: list[str], jit_compile="auto", mixed_precision="auto",
                  backend: str = "tensorflow") -> DevicePlan:
    """Pick the device from the backend's list of GPUs, and resolve the 'auto' speed options for it.

    jit_compile auto: XLA on a GPU, off on the CPU (measured 4-5x slower there on small models); on JAX
    always on, as Keras' own 'auto' does (JAX without jit runs op by op).
    mixed_precision auto: on a GPU only (TensorFlow's guide: float16 speeds up GPUs of compute
    capability 7.0 and newer and slows CPUs down); the same policy works on JAX.
    """
    if requested == "gpu" and not gpus:
        probe = ("python -c \"import jax; print(jax.devices())\"" if backend == "jax" else
                 "python -c \"import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))\"")
        raise ExpkitError(f"training.device is gpu, but {'JAX' if backend == 'jax' else 'TensorFlow'} sees no GPU: "
                          f"set training.device: auto (or cpu), or check the CUDA install with {probe}")
    use_gpu = bool(gpus) and requested in ("auto", "gpu")
    device = "/GPU:0" if use_gpu else "/CPU:0"
    jit_auto = use_gpu or backend == "jax"
    return DevicePlan(
        device=device, hide_gpus=requested == "cpu" and bool(gpus),
        jit_compile=jit_auto if jit_compile == "auto" else bool(jit_compile),
        mixed_precision=use_gpu if mixed_precision == "auto" else bool(mixed_precision), backend=backend)


def backend_env(training) -> dict[str, str]:
    """Environment the backend reads once, at import, so it is set before Keras is imported (existing values
    win: a user's own setting is kept)."""
    if training.backend != "jax":
        return {}
    env = {}
    if training.gpu_memory == "growth":
        env["XLA_PYTHON_CLIENT_PREALLOCATE"] = "false"  # JAX takes 75% of each GPU at start otherwise
    if training.device == "cpu":
        env["JAX_PLATFORMS"] = "cpu"
    return env


def visible_gpus(backend: str, tf) -> list[str]:
    if backend == "jax":
        import jax
        return [str(d) for d in jax.devices() if d.platform == "gpu"]
    return [d.name for d in tf.config.list_physical_devices("GPU")]


def apply_device(plan: DevicePlan, tf, gpu_memory="growth") -> str:
    """Make the plan true in TensorFlow (before any op runs) and return a readable device name."""
    if plan.hide_gpus or plan.backend == "jax":  # on JAX, TensorFlow only runs tf.data: keep it off the GPUs
        tf.config.set_visible_devices([], "GPU")
    else:
        limit_gpu_memory(tf, gpu_memory)
    if plan.backend == "jax":
        import jax
        devices = jax.devices()
        kind = devices[0].device_kind if devices[0].platform == "gpu" else devices[0].platform.upper()
        return f"JAX {kind}" + (f" x{len(devices)}" if len(devices) > 1 else "")
    if plan.is_gpu:
        gpu = tf.config.list_physical_devices("GPU")[0]
        details = tf.config.experimental.get_device_details(gpu)
        return f"GPU:0 ({details.get('device_name', gpu.name)})"
    return "CPU"


def limit_gpu_memory(tf, gpu_memory) -> None:
    """growth: allocate as needed (TensorFlow takes every GPU's whole memory at start otherwise, so a second
    run on the same GPU fails); a number: a logical device of that many MiB per GPU; all: TensorFlow's default."""
    if gpu_memory == "all":
        return
    try:
        for gpu in tf.config.list_physical_devices("GPU"):
            if gpu_memory == "growth":
                tf.config.experimental.set_memory_growth(gpu, True)
            else:
                tf.config.set_logical_device_configuration(
                    gpu, [tf.config.LogicalDeviceConfiguration(memory_limit=int(gpu_memory))])
    except RuntimeError as exc:  # TensorFlow already set its GPUs up in this process (a notebook's earlier run)
        print(f"note: training.gpu_memory: {gpu_memory} not applied, TensorFlow's GPUs are already set up in "
              f"this process ({exc})", file=sys.stderr)
