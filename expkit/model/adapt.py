"""Adapting preprocessing layers (TextVectorization, StringLookup, Normalization, ...) on the training
split, so their state (a vocabulary, a mean) is learned from training data only and saved in
model.keras with the weights: predict and serve read raw text as training did."""
from __future__ import annotations

from expkit.config.model import node_name
from expkit.errors import BuildError

ADAPTABLE = {"TextVectorization", "StringLookup", "IntegerLookup", "Discretization", "Normalization"}
# Arguments that already give the layer its state: nothing to adapt then.
STATE_ARGS = ("vocabulary", "mean", "variance", "bin_boundaries")


def _source(cfg, index: int, spec, x_train):
    """The training array feeding layer `index`: it must read a model input directly."""
    reads = spec.input_names()
    inputs = {i.name for i in cfg.model.inputs or []}
    if isinstance(x_train, dict):
        if len(reads) == 1 and reads[0] in x_train:
            return x_train[reads[0]]
        if not reads and index == 0 and len(x_train) and len(inputs) == 1:
            return next(iter(x_train.values()))
    elif index == 0 or (len(reads) == 1 and reads[0] in inputs | {"input"}):
        return x_train
    raise BuildError(f"model.layers[{index}] ({spec.type}) learns its state from the training data (adapt), "
                     "so it must read a model input directly: put it first, or set its inputs to a model input")


def adapt_layers(model, cfg, splits) -> list[str]:
    """Adapt every adaptable layer that has no state written in the config; returns their names."""
    adapted = []
    for index, spec in enumerate(cfg.model.layers):
        if spec.type not in ADAPTABLE or any(getattr(spec, a, None) is not None for a in STATE_ARGS):
            continue
        data = _source(cfg, index, spec, splits.x_train)
        if hasattr(data, "tf_dataset"):  # a streamed split (tfrecord): one pass over its samples, batch by batch
            reads = spec.input_names()
            data = data.tf_dataset(reads[0] if reads else None)
        model.get_layer(node_name(index, spec)).adapt(data)
        adapted.append(node_name(index, spec))
    return adapted
