"""Which device a run uses. The choice is a pure function so tests can stand in for the device list."""
from __future__ import annotations

from dataclasses import dataclass

from expkit.errors import ExpkitError


@dataclass(frozen=True)
class DevicePlan:
    device: str            # a TensorFlow device string, '/GPU:0' or '/CPU:0'
    hide_gpus: bool        # training.device: cpu with GPUs present: make them invisible to TensorFlow
    jit_compile: bool
    mixed_precision: bool

    @property
    def is_gpu(self) -> bool:
        return "GPU" in self.device


def choose_device(requested: str, gpus: list[str], jit_compile="auto", mixed_precision="auto") -> DevicePlan:
    """Pick the device from TensorFlow's list of GPUs, and resolve the 'auto' speed options for it.

    jit_compile auto: XLA on a GPU, off on the CPU (measured 4-5x slower there on small models).
    mixed_precision auto: on a GPU only (TensorFlow's guide: float16 speeds up GPUs of compute
    capability 7.0 and newer and slows CPUs down).
    """
    if requested == "gpu" and not gpus:
        raise ExpkitError("training.device is gpu, but TensorFlow sees no GPU: set training.device: auto "
                          "(or cpu), or check the CUDA install with "
                          "python -c \"import tensorflow as tf; print(tf.config.list_physical_devices('GPU'))\"")
    use_gpu = bool(gpus) and requested in ("auto", "gpu")
    device = "/GPU:0" if use_gpu else "/CPU:0"
    return DevicePlan(
        device=device, hide_gpus=requested == "cpu" and bool(gpus),
        jit_compile=use_gpu if jit_compile == "auto" else bool(jit_compile),
        mixed_precision=use_gpu if mixed_precision == "auto" else bool(mixed_precision))


def apply_device(plan: DevicePlan, tf) -> str:
    """Make the plan true in TensorFlow (before any op runs) and return a readable device name."""
    if plan.hide_gpus:
        tf.config.set_visible_devices([], "GPU")
    if plan.is_gpu:
        gpu = tf.config.list_physical_devices("GPU")[0]
        details = tf.config.experimental.get_device_details(gpu)
        return f"GPU:0 ({details.get('device_name', gpu.name)})"
    return "CPU"
