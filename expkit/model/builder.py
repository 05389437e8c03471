"""build_model: a validated ExperimentConfig -> a compiled keras.Model.

Layers are made with Keras' own namespace (`getattr(keras.layers, spec.type)`) and named after
their position in the YAML (layer_3_dense), so a shape error points at the line a user wrote.

Where model-wide regularization goes (see also the README):
- l1/l2: kernel regularizer of every Dense, Conv1D, Conv2D and recurrent layer, output layer included.
- batch_norm: after each *hidden* Dense/Conv layer (every one but the last weighted layer), between
  the layer and its activation: Dense(activation=None) -> BatchNormalization -> Activation.
- dropout: at the end of each hidden Dense/Conv block. A block is the layer plus the pooling,
  BatchNormalization and Activation layers directly after it; no dropout is added where the
  next layer already is a Dropout.
"""
from __future__ import annotations

from typing import Callable

from expkit.config.experiment import ExperimentConfig
from expkit.config.catalog import call_info, is_merge
from expkit.config.layers import POOLING_TYPES, WEIGHTED_TYPES, KernelSpec, LayerSpec, SharedLayer
from expkit.config.model import node_name
from expkit.errors import BuildError, Location
from expkit.model.compiling import compile_model
from expkit.model.layer_factory import make_layer
from expkit.model.preprocessing import front_layers, raw_input_shape, with_front
from expkit.backend import import_keras

BLOCK_TAIL = POOLING_TYPES | {"BatchNormalization", "Activation"}
DROPOUT_TYPES = {"Dropout", "SpatialDropout1D", "SpatialDropout2D"}
Locate = Callable[[tuple], "Location | None"]


def build_model(cfg: ExperimentConfig, input_shapes: dict[str, tuple], *, steps_per_epoch: int | None = None,
                locate: Locate = lambda path: None, compile: bool = True, jit_compile: bool = False,
                front=None):
    """`input_shapes` maps each model input's name ('input' for a plain stack) to one sample's shape.

    `front`: the data's fitted preprocessing (data.Preprocessor); when given, the single model input
    takes raw samples and `model/preprocessing.py`'s layers come first."""
    keras = import_keras()
    plan = _plan(cfg)
    if cfg.model.is_sequential:
        model = _sequential(keras, cfg, plan, next(iter(input_shapes.values())), locate, front)
    else:
        model = _functional(keras, cfg, plan, input_shapes, locate, front)
    if compile:
        compile_model(model, cfg, steps_per_epoch=steps_per_epoch, jit_compile=jit_compile)
    return model


def _plan(cfg: ExperimentConfig) -> list[dict]:
    """For each YAML layer: its name and what regularization to insert after it."""
    layers = cfg.model.layers
    weighted = [i for i, l in enumerate(layers) if l.type in WEIGHTED_TYPES and l.type != "Embedding"]
    outputs = set(cfg.model.outputs or [])
    last = weighted[-1] if weighted else None
    plan = []
    for i, layer in enumerate(layers):
        name = node_name(i, layer)
        reg = cfg.model.regularization
        if isinstance(layer, KernelSpec) and layer.regularization:
            reg = layer.regularization.over(reg)
        hidden = (layer.type in {"Dense", "Conv1D", "Conv2D"} and i != last and name not in outputs)
        plan.append({"name": name, "reg": reg, "batch_norm": hidden and reg.batch_norm,
                     "dropout_after": None})
    for i, entry in enumerate(plan):
        if layers[i].type in {"Dense", "Conv1D", "Conv2D"} and i != last and entry["reg"].dropout > 0 \
                and plan[i]["name"] not in outputs:
            end = i
            while cfg.model.is_sequential and end + 1 < len(layers) and layers[end + 1].type in BLOCK_TAIL:
                end += 1
            following = layers[end + 1].type if end + 1 < len(layers) else None
            if following not in DROPOUT_TYPES:
                plan[end]["dropout_after"] = (entry["reg"].dropout, layers[i].type)
    return plan


def _chain(keras, cfg: ExperimentConfig, i: int, entry: dict, input_shape=None) -> list:
    """The Keras layers one YAML layer becomes: itself, then inserted batch norm, activation, dropout."""
    spec = cfg.model.layers[i]
    if entry.get("float32") and spec.dtype is None:  # an output of a mixed-precision model: see _functional
        spec = spec.model_copy(update={"dtype": "float32"})
    name = entry["name"]
    activation = getattr(spec, "activation", None)
    split = entry["batch_norm"] and activation not in (None, "linear")
    chain = [make_layer(keras, spec, name, cfg, entry["reg"], no_activation=split, input_shape=input_shape)]
    if entry["batch_norm"]:
        chain.append(keras.layers.BatchNormalization(name=f"{name}_batch_norm"))
        if split:
            chain.append(keras.layers.Activation(activation, name=f"{name}_activation"))
    return chain


def _dropout(keras, entry: dict):
    rate, _ = entry["dropout_after"]
    return keras.layers.Dropout(rate, name=f"{entry['name']}_dropout")


def _fail(locate: Locate, i: int, spec: LayerSpec, exc: Exception) -> BuildError:
    where = locate(("model", "layers", i))
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    prefix = f"{where}: " if where else ""
    return BuildError(f"{prefix}model.layers[{i}] ({spec.type}): cannot build this layer: {text}")


def _sequential(keras, cfg, plan, input_shape, locate, front=None):
    model = keras.Sequential(name=cfg.experiment.name)
    dtype = cfg.model.inputs[0].dtype if cfg.model.inputs else "float32"
    model.add(keras.Input(shape=raw_input_shape(front) if front else tuple(input_shape), name="input", dtype=dtype))
    for layer in front_layers(keras, front) if front else []:
        model.add(layer)
    for i, entry in enumerate(plan):
        spec = cfg.model.layers[i]
        try:
            shape = model.layers[-1].output.shape[1:] if model.layers else tuple(input_shape)
            for layer in _chain(keras, cfg, i, entry, shape):
                model.add(layer)
            if entry["dropout_after"]:
                model.add(_dropout(keras, entry))
        except (ValueError, TypeError, KeyError) as exc:
            raise _fail(locate, i, spec, exc) from None
    if _mixed(keras) and not _is_float32(model.outputs[0]):
        model.add(_float32_output(keras, "output"))
    return model


def _call(layer, kind: str, spec: LayerSpec, nodes: dict, previous):
    """Call a layer on the nodes it reads, as Keras' call signature takes them: a merge or Attention
    gets a list, MultiHeadAttention its tensors by argument name; `call:` adds the non-tensor arguments."""
    flags = dict(spec.call or {})
    info = call_info(kind)
    if isinstance(spec.inputs, dict):
        named = {slot: nodes[ref] for slot, ref in spec.inputs.items()}
        if info["list_of"]:
            order = [slot for slot in info["list_of"] if slot in named]
            return layer([named[slot] for slot in order], **flags)
        return layer(**named, **flags)
    sources = [nodes[n] for n in spec.inputs] if spec.inputs else [previous]
    if is_merge(kind) or info["list_of"]:
        return layer(sources, **flags)
    return layer(*sources, **flags)


def _is_float32(tensor) -> bool:
    return str(getattr(tensor, "dtype", "")).endswith("float32")


def _mixed(keras) -> bool:
    return keras.mixed_precision.global_policy().compute_dtype == "float16"


def _float32_output(keras, name: str):
    # Keras' mixed-precision guide: keep the model's outputs (softmax, loss) in float32.
    return keras.layers.Activation("linear", dtype="float32", name=f"{name}_float32")


def _functional(keras, cfg, plan, input_shapes, locate, front=None):
    specs = cfg.model.inputs or []
    front = front if len(specs) <= 1 else None  # several inputs: the data feeds them prepared
    inputs = {}
    for j, spec in enumerate(specs or [None]):
        name = spec.name if spec else "input"
        shape = (spec.shape if spec and spec.shape else None) or input_shapes.get(name)
        if shape is None:
            where = locate(("model", "inputs", j))
            raise BuildError(f"{where or 'model.inputs'}: model.inputs[{j}] ('{name}') needs a shape: "
                             "set shape: [...] (it can only be inferred for a single input)")
        shape = raw_input_shape(front) if front else shape
        inputs[name] = keras.Input(shape=tuple(shape), name=name, dtype=spec.dtype if spec else "float32")
    previous = with_front(keras, next(iter(inputs.values())), front)
    nodes = {**inputs, next(iter(inputs)): previous}
    if _mixed(keras) and len(cfg.model.outputs or []) > 1:
        # Several outputs keep their names (targets and per-output losses are keyed by them), so each
        # output layer itself computes in float32 instead of gaining a float32 layer after it.
        for entry in plan:
            entry["float32"] = entry["name"] in cfg.model.outputs
    chains: dict[str, tuple[str, list]] = {}  # node name -> (its Keras type, the Keras layers it made)
    for i, entry in enumerate(plan):
        spec = cfg.model.layers[i]
        try:
            if isinstance(spec, SharedLayer):  # the same layer objects again: the same weights
                kind = chains[spec.shared_names()[0]][0]
                chain = [layer for n in spec.shared_names() for layer in chains[n][1]]
            else:
                kind = spec.type
                first = nodes[spec.input_names()[0]] if spec.inputs else previous
                chain = _chain(keras, cfg, i, entry, first.shape[1:]) + (
                    [_dropout(keras, entry)] if entry["dropout_after"] else [])
            x = _call(chain[0], kind, spec, nodes, previous)
            for layer in chain[1:]:
                x = layer(x)
        except (ValueError, TypeError, KeyError) as exc:
            raise _fail(locate, i, spec, exc) from None
        chains[entry["name"]] = (kind, chain)
        nodes[entry["name"]] = previous = x
    names = list(cfg.model.outputs) if cfg.model.outputs else [plan[-1]["name"]]
    outputs = [nodes[n] for n in names]
    if _mixed(keras):
        outputs = [o if _is_float32(o) else _float32_output(keras, n)(o) for n, o in zip(names, outputs)]
    return keras.Model(inputs=list(inputs.values()) if len(inputs) > 1 else next(iter(inputs.values())),
                       outputs=outputs if len(outputs) > 1 else outputs[0], name=cfg.experiment.name)
