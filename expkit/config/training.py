"""The `training:` section: epochs, batches, device, speed options and callbacks."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt

from expkit.config.base import Spec

Mode = Literal["auto", "min", "max"]


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


class TrainingConfig(Spec):
    epochs: PositiveInt = Field(10, description="Number of passes over the training data.")
    batch_size: PositiveInt = Field(32, description="Samples per gradient step.")
    shuffle: bool = Field(True, description="Reshuffle the training data every epoch (seeded).")
    device: Literal["auto", "cpu", "gpu"] = Field("auto", description=(
        "auto: the first GPU TensorFlow sees, else the CPU; cpu: force the CPU; gpu: fail if there is none."))
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
    callbacks: CallbacksConfig = Field(default_factory=CallbacksConfig, description="Callbacks.")
