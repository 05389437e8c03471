"""Callbacks from the `training.callbacks` section, and the metrics.csv writer."""
from __future__ import annotations

import csv
import time
from pathlib import Path

from expkit.config.training import CallbacksConfig
from expkit.runstore import RunFolder


def current_learning_rate(model) -> float:
    import keras
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def make_metrics_csv(keras, path: Path):
    class MetricsCSV(keras.callbacks.Callback):
        """One row per epoch, flushed at once, so a crashed run keeps every finished epoch."""

        def __init__(self):
            super().__init__()
            self.columns = None
            self.started = 0.0

        def on_epoch_begin(self, epoch, logs=None):
            self.started = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds = time.perf_counter() - self.started
            logs = dict(logs or {})
            logs.pop("learning_rate", None)
            row = {"epoch": epoch + 1, **{k: float(v) for k, v in sorted(logs.items(), key=_train_first)},
                   "learning_rate": current_learning_rate(self.model), "epoch_seconds": round(seconds, 4)}
            new = self.columns is None
            if new:
                self.columns = list(row)
            with path.open("a", newline="") as f:
                writer = csv.DictWriter(f, fieldnames=self.columns, extrasaction="ignore")
                if new:
                    writer.writeheader()
                writer.writerow(row)

    return MetricsCSV()


def _train_first(item):
    key = item[0]
    return (key.startswith("val_"), key != "loss" and key != "val_loss", key)


def make_callbacks(keras, cfg: CallbacksConfig, run_dir: Path) -> list:
    """Keras runs batch hooks synchronously (blocking every step) unless each callback says it is
    async-safe. TensorBoard writing per epoch does nothing in its batch hook, and TerminateOnNaN only
    sets model.stop_training, so both are marked async-safe: the steps then run back to back, as in
    a plain `model.fit` without callbacks."""
    folder = RunFolder(run_dir)
    callbacks = [make_metrics_csv(keras, folder.metrics_csv)]
    tb = cfg.tensorboard
    epoch_only = tb.update_freq == "epoch" and tb.profile_batch == 0 and not tb.write_graph

    class TensorBoard(keras.callbacks.TensorBoard):
        async_safe = epoch_only

    class TerminateOnNaN(keras.callbacks.TerminateOnNaN):
        async_safe = True

    callbacks.append(TensorBoard(
        log_dir=str(folder.tb_dir), update_freq=tb.update_freq, histogram_freq=tb.histogram_freq,
        write_graph=tb.write_graph, profile_batch=tb.profile_batch))
    from expkit.tracking.tensorboard import make_learning_rate_logger
    callbacks.append(make_learning_rate_logger(keras, run_dir))  # a schedule's rate per step
    if cfg.terminate_on_nan:
        callbacks.append(TerminateOnNaN())
    if cfg.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(**cfg.early_stopping.model_dump()))
    if cfg.reduce_lr_on_plateau:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(**cfg.reduce_lr_on_plateau.model_dump()))
    if cfg.checkpoint:
        callbacks.append(keras.callbacks.ModelCheckpoint(
            str(folder.best_model_file), save_best_only=True, **cfg.checkpoint.model_dump()))
    return callbacks
