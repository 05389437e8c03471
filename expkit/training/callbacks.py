"""Callbacks from the `training.callbacks` section, and the metrics.csv writer."""
from __future__ import annotations

import csv
import io
import os
import time
from pathlib import Path

from expkit.config.training import CallbacksConfig
from expkit.runstore import RunFolder, save_atomic, write_atomic


def current_learning_rate(model) -> float:
    import keras
    return float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))


def make_metrics_csv(keras, path: Path, initial_epoch: int = 0):
    """On resume from `initial_epoch`, rows past it (written after the state the run resumes from)
    are dropped first, so each epoch appears exactly once."""
    columns = keep_epochs(path, initial_epoch)

    class MetricsCSV(keras.callbacks.Callback):
        """One row per epoch, flushed and fsynced at once, so a crashed run keeps every finished epoch."""

        def __init__(self):
            super().__init__()
            self.columns = columns
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
                f.flush()
                os.fsync(f.fileno())

    return MetricsCSV()


def keep_epochs(path: Path, epochs: int) -> list[str] | None:
    """Keep metrics.csv's rows of epochs 1..`epochs` (rewritten atomically); returns its columns, or
    None when no row is left (the file is then removed and the next row writes a new header)."""
    if not path.is_file():
        return None
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.reader(f)
        header = next(reader, None)
        rows = [row for row in reader if header and len(row) == len(header) and _epoch(row[0]) <= epochs]
    if not header or not rows or epochs == 0:
        path.unlink()
        return None
    lines = io.StringIO()
    writer = csv.writer(lines, lineterminator="\r\n")  # csv.DictWriter's default, as the appends use
    writer.writerows([header, *rows])
    write_atomic(path, lines.getvalue())
    return header


def _epoch(text: str) -> float:
    try:
        return float(text)
    except ValueError:
        return float("inf")


def _train_first(item):
    key = item[0]
    return (key.startswith("val_"), key != "loss" and key != "val_loss", key)


def make_checkpoint(keras, path: Path, spec):
    """ModelCheckpoint(save_best_only) that never destroys the best model so far: Keras saves in place,
    so a kill during the save of a new best left neither the old file nor the new one. Here the new
    model is written beside it and renamed over it (runstore.save_atomic)."""

    class AtomicModelCheckpoint(keras.callbacks.ModelCheckpoint):
        best_epoch = 0  # 1-based; 0: none saved yet

        def _save_model(self, epoch, batch, logs):
            filepath = self._get_file_path(epoch, batch, logs)
            if self._should_save_model(epoch, batch, logs, filepath):
                save_atomic(Path(filepath), lambda tmp: self.model.save(tmp, overwrite=True))
                self.best_epoch = epoch + 1

    return AtomicModelCheckpoint(str(path), save_best_only=True, **spec.model_dump())


def make_callbacks(keras, cfg: CallbacksConfig, run_dir: Path, initial_epoch: int = 0, live=None) -> list:
    """Keras runs batch hooks synchronously (blocking every step) unless each callback says it is
    async-safe. TensorBoard writing per epoch does nothing in its batch hook, and TerminateOnNaN only
    sets model.stop_training, so both are marked async-safe: the steps then run back to back, as in
    a plain `model.fit` without callbacks."""
    folder = RunFolder(run_dir)
    from expkit.model.plugin_models import make_plugin_object
    # Plugins' callbacks first: what they add to an epoch's logs is then in metrics.csv and TensorBoard.
    callbacks = [make_plugin_object(spec) for spec in cfg.plugins]
    callbacks.append(make_metrics_csv(keras, folder.metrics_csv, initial_epoch))
    if live is not None:  # tracking.mlflow: each epoch's metrics.csv row, once it is written
        callbacks.append(live.callback(keras))
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
    # a schedule's rate per step; the model graph unless Keras writes it (write_graph: with a batch hook)
    callbacks.append(make_learning_rate_logger(keras, run_dir, graph=not tb.write_graph))
    if cfg.terminate_on_nan:
        callbacks.append(TerminateOnNaN())
    if cfg.early_stopping:
        callbacks.append(keras.callbacks.EarlyStopping(**cfg.early_stopping.model_dump()))
    if cfg.reduce_lr_on_plateau:
        callbacks.append(keras.callbacks.ReduceLROnPlateau(**cfg.reduce_lr_on_plateau.model_dump()))
    if cfg.checkpoint:
        callbacks.append(make_checkpoint(keras, folder.best_model_file, cfg.checkpoint))
    from expkit.tracking.trial import trial_callback, trial_from_env
    report = trial_callback(keras, trial_from_env())  # a search trial: the objective to Optuna, each epoch
    if report is not None:
        callbacks.append(report)
    return callbacks
