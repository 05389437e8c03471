"""The `training:` section: epochs, batches, device, backend, distribution, speed options and callbacks."""
from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import Field, PositiveInt, field_validator

from expkit.config.base import Spec
from expkit.config.plugin_specs import PluginCallback

Mode = Literal["auto", "min", "max"]
DEVICE_PATTERN = r"^/?(?:job:[\w-]+/(?:replica:\d+/)?(?:task:\d+/)?)?(?:device:)?(?:[cC][pP][uU]|[gG][pP][uU]):\d+$"


class EarlyStoppingSpec(Spec):
    monitor: str = Field("val_loss", description="Metric to watch, e.g. val_loss or val_accuracy.")
    patience: int = Field(5, ge=0, description="Epochs without improvement before stopping.")
    min_delta: float = Field(0.0, ge=0, description="Smallest change that counts as an improvement.")
    mode: Mode = Field("auto", description="min, max, or auto (from the metric's name).")
    restore_best_weights: bool = Field(True, description="Roll back to the best epoch's weights when stopping.")


class ReduceLROnPlateauSpec(Spec):
    monitor: str = Field("val_loss", description="Metric to watch.")
    factor: float = Field(0.1, gt=0, lt=1, description="New rate = rate * factor.")
    patience: int = Field(3, ge=0, description="Epochs without improvement before reducing.")
    min_lr: float = Field(0.0, ge=0, description="Lower bound of the rate.")
    mode: Mode = Field("auto", description="min, max, or auto.")


class CheckpointSpec(Spec):
    monitor: str = Field("val_loss", description="Metric that decides the best epoch.")
    mode: Mode = Field("auto", description="min, max, or auto.")


class TensorBoardSpec(Spec):
    update_freq: Literal["epoch", "batch"] | PositiveInt = Field("epoch", description=(
        "How often scalars are written: epoch (default; per-step summaries can triple step time), "
        "batch, or every N batches."))
    histogram_freq: int = Field(0, ge=0, description="Write weight histograms every N epochs (0: never).")
    write_graph: bool = Field(False, description="Write the model graph (large files).")
    profile_batch: int = Field(0, ge=0, description="Profile this batch (0: never).")


class CallbacksConfig(Spec):
    tensorboard: TensorBoardSpec = Field(default_factory=TensorBoardSpec, description="TensorBoard logging (always on).")
    early_stopping: EarlyStoppingSpec | None = Field(None, description="Stop when the monitored metric stops improving.")
    reduce_lr_on_plateau: ReduceLROnPlateauSpec | None = Field(None, description=(
        "Lower the learning rate when the metric plateaus (not with a learning-rate schedule)."))
    checkpoint: CheckpointSpec | None = Field(None, description="Keep the best epoch's model as best.keras.")
    terminate_on_nan: bool = Field(True, description="Stop at once when the loss becomes NaN.")
    plugins: list[PluginCallback] = Field(default_factory=list, description=(
        "Callbacks loaded plugins declare, by name with their arguments ({name: gain_logger}); they run "
        "before expkit's own, so values they add to the epoch's logs reach metrics.csv and TensorBoard."))


class TrainingConfig(Spec):
    epochs: PositiveInt = Field(10, description="Number of passes over the training data.")
    batch_size: PositiveInt = Field(32, description=(
        "Samples per gradient step: the GLOBAL batch, split evenly over the replicas when training.distribution "
        "is mirrored or data_parallel (64 over 2 GPUs: 32 per GPU)."))
    shuffle: bool = Field(True, description="Reshuffle the training data every epoch (seeded).")
    device: Literal["auto", "cpu", "gpu"] = Field("auto", description=(
        "auto: the first GPU TensorFlow sees, else the CPU; cpu: force the CPU; gpu: fail if there is none."))
    backend: Literal["tensorflow", "jax"] = Field("tensorflow", description=(
        "Keras' backend for this run (set before Keras is imported; needs the jax extra for jax). "
        "The data still flows through tf.data; the saved model.keras loads on either backend."))
    distribution: Literal["none", "mirrored", "data_parallel"] = Field("none", description=(
        "none: one device; mirrored: TensorFlow's MirroredStrategy over every visible GPU (or training.devices); "
        "data_parallel: Keras' DataParallel over every JAX device (backend: jax). The batch stays global."))
    devices: list[str] | None = Field(None, min_length=1, description=(
        "The devices MirroredStrategy mirrors over, e.g. [/gpu:0, /gpu:1] (default: every visible GPU)."))
    gpu_memory: Literal["growth", "all"] | PositiveInt = Field("growth", description=(
        "growth: take GPU memory as needed (parallel runs can share a GPU); all: TensorFlow's default, every "
        "GPU's memory at start; a number: at most that many MiB per GPU (TensorFlow only)."))
    deterministic: bool = Field(False, description=(
        "Turn on TensorFlow's op determinism: bit-identical reruns, somewhat slower."))
    steps_per_execution: PositiveInt = Field(1, description=(
        "Batches run per call into the compiled graph; 32-64 speeds small models up several times."))
    jit_compile: Literal["auto"] | bool = Field("auto", description=(
        "XLA compilation. auto: on with a GPU, off on the CPU (where XLA measured 4-5x slower)."))
    mixed_precision: Literal["auto"] | bool = Field("auto", description=(
        "float16 compute with float32 weights. auto: on with a GPU, off on the CPU."))
    verbose: Literal["auto", 0, 1, 2] = Field("auto", description=(
        "Keras progress: auto = a progress bar on a terminal, one line per epoch otherwise."))
    keep_state: bool = Field(False, description=(
        "Keep state.npz (the last epoch's weights, optimizer and callback state, which `expkit resume` "
        "continues from) in the run folder when the run completes; by default it is removed then."))
    class_weight: Literal["balanced"] | dict[str | int, Annotated[float, Field(ge=0)]] | None = Field(None, description=(
        "Weights of the classes in the training loss (Keras' fit class_weight): balanced (n_samples / "
        "(n_classes * the class's count), from the training split), or {class name or index: weight}, "
        "others 1. The weights used are in results.json."))
    callbacks: CallbacksConfig = Field(default_factory=CallbacksConfig, description="Callbacks.")

    @field_validator("devices")
    @classmethod
    def _tensorflow_devices(cls, devices):
        for device in devices or []:
            if not re.match(DEVICE_PATTERN, device):
                raise ValueError(f"'{device}' is not a TensorFlow device: write /gpu:N or /cpu:N, e.g. [/gpu:0, /gpu:1]")
        return devices

    def distribution_problems(self) -> list[tuple[str, str]]:
        """(path, message) for backend, distribution and device settings that do not work together."""
        problems = []
        if self.distribution == "mirrored" and self.backend == "jax":
            problems.append(("training.distribution", "mirrored is TensorFlow's MirroredStrategy, but training.backend "
                             "is jax: use distribution: data_parallel on JAX, or backend: tensorflow"))
        if self.distribution == "data_parallel" and self.backend != "jax":
            problems.append(("training.distribution", "data_parallel is Keras' JAX DataParallel, but training.backend "
                             "is tensorflow: set backend: jax, or use distribution: mirrored on TensorFlow"))
        if self.devices and self.distribution != "mirrored":
            problems.append(("training.devices", f"lists the devices of distribution: mirrored, but distribution is "
                             f"{self.distribution}: set training.distribution: mirrored, or remove training.devices"))
        if self.distribution == "mirrored" and self.steps_per_execution > 1:
            # Keras 3.15's multi-step loop under MirroredStrategy fails ("You must feed a value for placeholder
            # tensor ... while/cond/Placeholder"); one step per call works.
            problems.append(("training.steps_per_execution", f"is {self.steps_per_execution}, but Keras' fit under "
                             "MirroredStrategy fails with more than one step per execution: set "
                             "training.steps_per_execution: 1"))
        if self.backend == "jax" and not isinstance(self.gpu_memory, str):
            problems.append(("training.gpu_memory", f"a limit in MiB ({self.gpu_memory}) is TensorFlow's; JAX has no "
                             "such setting: use growth or all (or set XLA_PYTHON_CLIENT_MEM_FRACTION yourself)"))
        return problems
