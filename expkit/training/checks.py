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


def check_outputs(cfg: ExperimentConfig, model, num_classes: int | None, locate) -> None:
    """The last layer must produce one score per class for a classification loss."""
    if isinstance(cfg.compile.loss, dict):
        return  # several outputs: Keras checks each output against its target
    loss = cfg.compile.loss.name
    if loss == "categorical_crossentropy" and num_classes and cfg.dataset.labels == "sparse":
        where = locate(("compile", "loss"))
        raise BuildError(f"{where or 'config'}: compile.loss: categorical_crossentropy needs one-hot labels, but "
                         f"'{cfg.dataset.path or cfg.dataset.name}' holds class indices: set dataset.labels: one_hot, "
                         "or use sparse_categorical_crossentropy")
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
