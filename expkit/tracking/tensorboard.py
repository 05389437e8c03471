"""What TensorBoard shows of a run beyond Keras' epoch scalars (written by the trainer):

- `tb/test`: the test metrics, tags `epoch_loss`, `epoch_accuracy`, ... at the last epoch's step, so
  the scalars tab shows them beside train and validation, and the HParams tab lists them as metrics
  (group `test`) and can sort runs by them;
- `tb/` (the run itself): text `config` (the resolved config.yaml) and `run.json` (rewritten when
  the run ends), and for image classifiers the images `confusion_matrix` (test split, rows the true
  class, normalised; the counts as text `confusion_matrix_counts`; one sigmoid output: two classes,
  threshold 0.5, or 0 on the logit when the loss reads logits; a class per time step: every step
  counted) and `first_layer` (the first layer's filters, a Conv2D's kernels or a Dense layer's
  units over the image, as `expkit plot --weights` draws them);
- `tb/train`: `batch_learning_rate` per optimizer step when a schedule changes the rate inside an
  epoch (Keras logs it once per epoch), computed from the schedule at each epoch's end, so no batch
  hook slows the steps; and the model's conceptual graph (tag `keras`, the Graphs tab), written at
  the start from the model's config (what Keras' write_graph writes first, without its batch hook).
"""
from __future__ import annotations

import contextlib
import json
import sys
from pathlib import Path

import numpy as np

from expkit.runstore import RunFolder
from expkit.tracking.filters import (confusion_image, confusion_markdown, confusion_matrix, filter_grid,
                                     first_layer_filters)

MAX_LR_POINTS = 200      # per epoch: a longer epoch is sampled evenly
MAX_CONFUSION = 10_000   # test samples predicted for the confusion matrix
SUFFIX = ".expkit"       # our event files beside Keras' in the same folders


def _writer(folder: Path):
    import tensorflow as tf
    folder.mkdir(parents=True, exist_ok=True)
    return tf.summary.create_file_writer(str(folder), filename_suffix=SUFFIX)


@contextlib.contextmanager
def _writing(folder: Path):
    """Summaries written inside go to one new event file in `folder`, closed (flushed) at the end."""
    writer = _writer(folder)
    try:
        with writer.as_default():
            yield
    finally:
        writer.close()


def _code(text: str) -> str:
    """Markdown that TensorBoard's text tab shows verbatim: every line indented as code."""
    return "\n".join("    " + line for line in text.splitlines())


def write_test_scalars(run_dir: Path, test: dict, step: int) -> None:
    import tensorflow as tf
    if not test:
        return
    with _writing(RunFolder(run_dir).tb_dir / "test"):
        for name, value in test.items():
            tf.summary.scalar(f"epoch_{name}", float(value), step=step)


def write_run_text(run_dir: Path) -> None:
    """The resolved config and run.json as text; called again when run.json changes (the run ended)."""
    import tensorflow as tf
    folder = RunFolder(run_dir)
    with _writing(folder.tb_dir):
        if folder.config_yaml.is_file():
            tf.summary.text("config", _code(folder.config_yaml.read_text(encoding="utf-8")), step=0)
        info = folder.read_json(folder.run_json)
        if info is not None:
            tf.summary.text("run.json", _code(json.dumps(info, indent=2)), step=0)


def write_end_images(run_dir: Path, model, splits, step: int) -> None:
    """For an image classifier: the confusion matrix on the test split and the first layer's filters.
    Pictures are a view of a finished run: one that cannot be drawn is a note, never a failed run."""
    try:
        _write_end_images(run_dir, model, splits, step)
    except Exception as exc:
        print(f"note: TensorBoard images skipped ({type(exc).__name__}: {exc})", file=sys.stderr)


def _write_end_images(run_dir: Path, model, splits, step: int) -> None:
    import tensorflow as tf
    prep = splits.preprocessor
    if prep is None or prep.kind != "image" or splits.decoding is not None:
        return
    with _writing(RunFolder(run_dir).tb_dir):
        found = first_layer_filters(model.layers, prep.raw_shape if len(prep.shape) == 1 else prep.shape)
        if found is not None:
            description, filters = found
            tf.summary.image("first_layer", filter_grid(filters)[None], step=step,
                             description=f"The first layer's weights: {description}; grey is 0.")
        if splits.task != "classification" or splits.x_test is None or not splits.num_classes:
            return
        x, y = splits.x_test[:MAX_CONFUSION], np.asarray(splits.y_test[:MAX_CONFUSION])
        scores = np.asarray(model.predict(x, batch_size=256, verbose=0))
        found = labels_and_predictions(y, scores, splits.num_classes, bool(getattr(model.loss, "from_logits", False)))
        if found is None:
            return
        counts = confusion_matrix(*found)
        tf.summary.image("confusion_matrix", confusion_image(counts)[None], step=step,
                         description="Test split: rows the true class, columns the prediction, "
                         "each row as fractions (dark: most of that class).")
        tf.summary.text("confusion_matrix_counts", confusion_markdown(counts, splits.class_names), step=step)


def labels_and_predictions(y: np.ndarray, scores: np.ndarray, num_classes: int,
                           from_logits: bool = False) -> tuple[np.ndarray, np.ndarray, int] | None:
    """(true class, predicted class, number of classes) per sample, or per time step when the targets hold a
    class per step ((N, T) indices or (N, T, classes) one-hot against (N, T, classes) scores: every step
    counts once). The highest score of a softmax; for one sigmoid output (a binary classifier) class 1
    above probability 0.5, which is a logit above 0 when the loss reads logits (`from_logits`). None for
    any other output."""
    one_hot = y.ndim == scores.ndim and y.shape[-1] > 1
    labels = y.argmax(axis=-1) if one_hot else y
    if scores.ndim == 3 and labels.ndim == 2 and scores.shape[:2] == labels.shape:  # a class per time step
        scores, labels = scores.reshape(-1, scores.shape[-1]), labels.reshape(-1)
    if scores.ndim != 2:
        return None
    labels = labels.reshape(len(labels))
    if scores.shape[1] == 1 and num_classes in (1, 2):
        return labels, (scores[:, 0] > (0.0 if from_logits else 0.5)).astype("int64"), 2
    if scores.shape[1] == num_classes:
        return labels, scores.argmax(axis=-1), num_classes
    return None


MAX_GRAPH_BYTES = 4_000_000  # a model config larger than this is not worth the event file


def write_model_graph(writer_folder: Path, model) -> None:
    """The conceptual graph TensorBoard draws from a Keras model's JSON config (plugin graph_keras_model,
    as keras.callbacks.TensorBoard(write_graph=True) writes it)."""
    import tensorflow as tf
    try:
        config = model.to_json()
    except Exception:  # a model that does not serialize has no conceptual graph: nothing to draw
        return
    if len(config) > MAX_GRAPH_BYTES:
        return
    metadata = tf.compat.v1.SummaryMetadata()
    metadata.plugin_data.plugin_name = "graph_keras_model"
    metadata.plugin_data.content = b"1"
    with _writing(writer_folder):
        tf.summary.write(tag="keras", tensor=tf.constant(config), step=0, metadata=metadata)


def make_learning_rate_logger(keras, run_dir: Path, graph: bool = True):
    """A callback writing `batch_learning_rate` for the steps of each epoch when a schedule sets the
    rate (nothing for a constant rate: Keras' epoch_learning_rate says everything), and, with `graph`,
    the model's conceptual graph when training starts."""
    schedules = keras.optimizers.schedules.LearningRateSchedule
    folder = RunFolder(run_dir).tb_dir / "train"

    class LearningRateLogger(keras.callbacks.Callback):
        async_safe = True  # nothing runs per batch

        def __init__(self):
            super().__init__()
            self.done = 0
            self.writer = None

        def on_train_begin(self, logs=None):
            if graph:
                write_model_graph(folder, self.model)

        def on_epoch_end(self, epoch, logs=None):
            import tensorflow as tf
            schedule = getattr(self.model.optimizer, "_learning_rate", None)
            if not isinstance(schedule, schedules):
                return
            now = int(keras.ops.convert_to_numpy(self.model.optimizer.iterations))
            steps = np.unique(np.linspace(self.done, max(self.done, now - 1), MAX_LR_POINTS).astype("int64"))
            try:  # Keras' schedules are elementwise: one call for every step
                rates = keras.ops.convert_to_numpy(schedule(keras.ops.convert_to_tensor(steps)))
            except Exception:  # one that is not (a plugin's): step by step
                rates = np.array([float(keras.ops.convert_to_numpy(schedule(int(s)))) for s in steps])
            self.writer = self.writer or _writer(folder)
            with self.writer.as_default():
                for step, rate in zip(steps, np.broadcast_to(rates, steps.shape)):
                    tf.summary.scalar("batch_learning_rate", float(rate), step=int(step))
            self.writer.flush()
            self.done = now

        def on_train_end(self, logs=None):
            if self.writer is not None:
                self.writer.close()

    return LearningRateLogger()
