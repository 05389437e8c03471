"""Shape and output checks between a config and its data, before anything is written."""
from __future__ import annotations

from expkit.config.experiment import ExperimentConfig
from expkit.errors import BuildError

CLASS_LOSSES = {"sparse_categorical_crossentropy", "categorical_crossentropy",
                "categorical_focal_crossentropy"}


def first_layer_type(cfg: ExperimentConfig) -> str:
    return cfg.model.layers[0].type


def column_inputs(cfg: ExperimentConfig, splits) -> list[str] | None:
    """The model's input names when the data's columns feed them one each (skipgram's word, context)."""
    inputs = cfg.model.inputs or []
    shape = tuple(splits.input_shape) if splits is not None else None
    return [i.name for i in inputs] if len(inputs) > 1 and shape == (len(inputs),) else None


def input_shapes_for(cfg: ExperimentConfig, data_shape: tuple | None, locate) -> dict[str, tuple]:
    """Each model input's shape: written in the config, else inferred from the data (one column each,
    shape [1], when the samples have as many columns as the model has inputs)."""
    if cfg.model.inputs:
        n = len(cfg.model.inputs)
        default = (1,) if n > 1 and data_shape == (n,) else data_shape
        return {i.name: tuple(i.shape) if i.shape else default for i in cfg.model.inputs}
    written = tuple(cfg.model.input_shape) if cfg.model.input_shape else None
    if written and data_shape and written != tuple(data_shape):
        where = locate(("model", "input_shape"))
        raise BuildError(f"{where or 'config'}: model.input_shape is {list(written)}, but the prepared data has "
                         f"samples of shape {list(data_shape)}: remove input_shape to infer it, or change "
                         "dataset.flatten / dataset.channel_axis")
    return {"input": written or data_shape}


def class_steps(splits) -> int | None:
    """T when the training targets hold a class per time step: indices (N, T) or one-hot (N, T, classes)."""
    y = getattr(splits, "y_train", None) if splits is not None else None
    if getattr(splits, "task", None) != "classification" or not hasattr(y, "ndim"):
        return None
    per_step = (y.ndim == 2 and y.dtype.kind in "iu") or y.ndim == 3
    return int(y.shape[1]) if per_step else None


def check_outputs(cfg: ExperimentConfig, model, num_classes: int | None, locate, steps: int | None = None) -> None:
    """The last layer must produce one score per class for a classification loss (at every step, when the
    targets hold a class per time step: `steps`)."""
    if isinstance(cfg.compile.loss, dict):
        return  # several outputs: Keras checks each output against its target
    loss = cfg.compile.loss.name
    if loss == "categorical_crossentropy" and num_classes and cfg.dataset.labels == "sparse":
        where = locate(("compile", "loss"))
        raise BuildError(f"{where or 'config'}: compile.loss: categorical_crossentropy needs one-hot labels, but "
                         f"'{cfg.dataset.path or cfg.dataset.name}' holds class indices: set dataset.labels: one_hot, "
                         "or use sparse_categorical_crossentropy")
    if steps and num_classes:
        _check_step_outputs(cfg, model, num_classes, steps, loss, locate)
        return
    if not num_classes or loss not in CLASS_LOSSES | {"binary_crossentropy"} or not cfg.model.is_sequential:
        return
    width = model.output_shape[-1]
    want = 1 if loss == "binary_crossentropy" and num_classes == 2 else num_classes
    if loss == "binary_crossentropy" and num_classes > 2:
        return
    if width != want:
        last = len(cfg.model.layers) - 1
        where = locate(("model", "layers", last))
        raise BuildError(f"{where or 'config'}: model.layers[{last}] outputs {width} values per sample, but "
                         f"{loss} on '{cfg.dataset.name}' needs {want} (the dataset has {num_classes} classes): "
                         f"set units: {want} on the last layer")


def _check_step_outputs(cfg: ExperimentConfig, model, num_classes: int, steps: int, loss: str, locate) -> None:
    """Sequence tagging: a (None, T, classes) output scored by a categorical loss at every step."""
    last = len(cfg.model.layers) - 1
    where = locate(("model", "layers", last)) or "config"
    shape = tuple(model.output_shape)
    if len(shape) != 3 or shape[1] not in (steps, None) or shape[-1] != num_classes:
        shown = "(" + ", ".join(str(d) for d in shape) + ")"
        raise BuildError(f"{where}: model.layers[{last}] outputs {shown}, but the targets hold a class per time "
                         f"step, shape (N, {steps}), so the model must output (None, {steps}, {num_classes}): a score "
                         f"per class at every step (return_sequences: true on the recurrent layers, then Dense "
                         f"units: {num_classes}); if the labels are one-hot rows instead, store class indices "
                         "(y.argmax(axis=-1)), shape (N,)")
    if loss.startswith("binary_"):
        where = locate(("compile", "loss")) or "config"
        raise BuildError(f"{where}: compile.loss: {loss} reads one 0/1 value per output, but the targets hold one "
                         f"of {num_classes} classes per time step: use sparse_categorical_crossentropy on a softmax "
                         f"output (or categorical_crossentropy with dataset.labels: one_hot)")
