"""The training state at the end of each epoch, in one file (state.npz), so `expkit resume` continues a
run where it stopped and, with training.deterministic, ends exactly as an uninterrupted run.

One file written atomically (runstore.save_atomic) rather than Keras' BackupAndRestore: that callback
writes the weights and then the epoch number as two files, in place, so a kill between the two (or
during either) leaves a state that does not hold together. Here a kill leaves the previous epoch's
state or the new one, never a mix. What it holds:
  - every model variable (weights, batch-norm statistics, dropout seed generators) and every optimizer
    variable (iteration count, so the learning-rate schedule's position; the rate; moments);
  - the epochs finished, and whether a callback asked to stop;
  - EarlyStopping / ReduceLROnPlateau / ModelCheckpoint counters and bests (EarlyStopping's best weights too);
  - Python's and NumPy's global random states.
The data order is not stored: the training pipeline reshuffles from its seed at each new iterator, so
resuming at epoch k draws k iterators first (see fit.py).
"""
from __future__ import annotations

import json
import random
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from expkit.errors import ExpkitError
from expkit.runstore import save_atomic

STATE_VERSION = 1
CALLBACK_FIELDS = ("wait", "stopped_epoch", "best", "best_epoch", "cooldown_counter")


@dataclass
class TrainingState:
    epoch: int                                   # epochs finished
    stop_training: bool = False
    meta: dict = field(default_factory=dict)
    arrays: dict = field(default_factory=dict)   # name -> np.ndarray


def _numpy(value) -> np.ndarray:
    import keras
    return np.asarray(keras.ops.convert_to_numpy(value))


def capture(model, callbacks: list, epoch: int) -> TrainingState:
    """The state after `epoch` finished epochs (call from the last callback's on_epoch_end)."""
    arrays = {f"model/{i}": _numpy(v) for i, v in enumerate(model.variables)}
    arrays.update({f"optimizer/{i}": _numpy(v) for i, v in enumerate(model.optimizer.variables)})
    saved = {}
    for index, callback in enumerate(callbacks):
        values = {name: _plain(getattr(callback, name)) for name in CALLBACK_FIELDS if hasattr(callback, name)}
        if values:
            saved[str(index)] = values
        for i, weights in enumerate(getattr(callback, "best_weights", None) or []):
            arrays[f"callback/{index}/best_weights/{i}"] = np.asarray(weights)
    kind, keys, pos, has_gauss, gauss = np.random.get_state()
    arrays["numpy_random/keys"] = keys
    meta = {"version": STATE_VERSION, "epoch": epoch, "stop_training": bool(model.stop_training),
            "callbacks": saved, "python_random": random.getstate(),
            "numpy_random": [kind, int(pos), int(has_gauss), float(gauss)]}
    return TrainingState(epoch, bool(model.stop_training), meta, arrays)


def _plain(value):
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    return float(np.asarray(value))


def save_state(path: Path, state: TrainingState) -> None:
    meta = np.frombuffer(json.dumps(state.meta).encode("utf-8"), dtype=np.uint8)
    save_atomic(path, lambda tmp: np.savez(tmp, meta=meta, **state.arrays))


def load_state(path: Path) -> TrainingState | None:
    """The saved state, or None when the run has none (it never finished an epoch)."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
        meta = json.loads(arrays.pop("meta").tobytes().decode("utf-8"))
        epoch = int(meta["epoch"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ExpkitError(f"{path}: the training state is unreadable ({exc}); delete it to resume from "
                          "epoch 0") from None
    if meta.get("version") != STATE_VERSION:
        raise ExpkitError(f"{path}: training state version {meta.get('version')}, this expkit reads "
                          f"{STATE_VERSION}; resume it with the expkit that wrote it")
    return TrainingState(epoch, bool(meta.get("stop_training")), meta, arrays)


def restore_variables(model, state: TrainingState, where: Path) -> None:
    """Model and optimizer variables back as they were (the model is built from the same config)."""
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    for prefix, variables in (("model", model.variables), ("optimizer", model.optimizer.variables)):
        saved = sorted((k for k in state.arrays if k.startswith(prefix + "/")), key=lambda k: int(k.split("/")[1]))
        if len(saved) != len(variables):
            raise ExpkitError(f"{where}: the saved state has {len(saved)} {prefix} variables, the model built "
                              f"from the run's config.yaml has {len(variables)}: the config changed since")
        for key, variable in zip(saved, variables):
            value = state.arrays[key]
            if tuple(value.shape) != tuple(variable.shape):
                raise ExpkitError(f"{where}: {variable.path} has shape {list(value.shape)} in the saved state "
                                  f"but {list(variable.shape)} in the model: the config changed since")
            variable.assign(value)
    python = state.meta.get("python_random")
    if python:
        random.setstate((python[0], tuple(python[1]), python[2]))
    if "numpy_random/keys" in state.arrays:
        kind, pos, has_gauss, gauss = state.meta["numpy_random"]
        np.random.set_state((kind, state.arrays["numpy_random/keys"], pos, has_gauss, gauss))


def restore_callbacks(callbacks: list, state: TrainingState) -> None:
    """Counters and bests back into the callbacks (after their on_train_begin has reset them)."""
    for index, callback in enumerate(callbacks):
        for name, value in state.meta.get("callbacks", {}).get(str(index), {}).items():
            setattr(callback, name, value)
        prefix = f"callback/{index}/best_weights/"
        weights = sorted((k for k in state.arrays if k.startswith(prefix)), key=lambda k: int(k.rsplit("/", 1)[1]))
        if weights:
            callback.best_weights = [state.arrays[k] for k in weights]


def make_state_saver(keras, path: Path, restored: TrainingState | None):
    """The callback that goes LAST in the list: at each epoch's end the others have updated their
    counters, so the state it writes is the epoch's complete outcome."""

    class SaveTrainingState(keras.callbacks.Callback):
        def on_train_begin(self, logs=None):
            if restored is not None:
                restore_callbacks(self._others(), restored)

        def on_epoch_end(self, epoch, logs=None):
            save_state(path, capture(self.model, self._others(), epoch + 1))

        def _others(self) -> list:
            return self.all_callbacks

    saver = SaveTrainingState()
    saver.all_callbacks = []
    return saver
