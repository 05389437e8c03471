"""The `model:` section: a plain layer stack, or a graph of named nodes."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from expkit.config.base import Spec, require_unique_names
from expkit.config.components import Initializer, InitializerSpec, RegularizationSpec
from expkit.config.catalog import NATIVE_MERGES, call_info, tensor_slots
from expkit.config.layers import MERGE_TYPES, AnyLayer, LayerSpec, SharedLayer
from expkit.errors import suggest


class InputSpec(Spec):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Name layers use in `inputs:` to read it.")
    shape: list[PositiveInt | None] | None = Field(None, description=(
        "Shape of one sample, without the batch axis; default: inferred from the dataset (single input only)."))
    dtype: Literal["float32", "int32", "string"] = Field("float32", description=(
        "int32 for token ids (Embedding), string for raw text (TextVectorization)."))


def node_name(index: int, layer: LayerSpec) -> str:
    """The name a layer gets in Keras: its own, or its position and type, so errors point at the YAML."""
    from expkit.config.layers import snake_case
    return layer.name or f"layer_{index}_{snake_case(layer.type)}"


class ModelConfig(Spec):
    input_shape: list[PositiveInt | None] | None = Field(None, description=(
        "Shape of one input sample without the batch axis, e.g. [28, 28, 1]; default: inferred from the dataset."))
    inputs: list[InputSpec] | None = Field(None, description=(
        "Graph form: the named model inputs. Layers then read them through `inputs:`."))
    layers: list[AnyLayer] = Field(min_length=1, description=(  # type: ignore[valid-type]
        "The layers in order. Each reads the layer before it unless it names its `inputs`."))
    outputs: list[str] | None = Field(None, description=(
        "Graph form: names of the layers whose outputs are the model's outputs; default: the last layer."))
    initializer: Initializer = Field(default_factory=lambda: InitializerSpec(name="glorot_uniform"), description=(
        "Kernel initializer of every Dense, Conv, Embedding and recurrent layer unless the layer sets its own."))
    regularization: RegularizationSpec = Field(default_factory=RegularizationSpec, description=(
        "Model-wide L1/L2, dropout and batch norm; see the README for where each goes."))

    @field_validator("inputs")
    @classmethod
    def _unique_inputs(cls, value):
        return require_unique_names(value, "input")

    @model_validator(mode="after")
    def _not_both_shapes(self):
        if self.inputs and self.input_shape:
            raise ValueError("set either input_shape (one input) or inputs (graph form), not both")
        return self

    @property
    def is_sequential(self) -> bool:
        """A single-input plain stack: no named inputs, no explicit wiring, one output."""
        return (not self.inputs or len(self.inputs) == 1) and not self.outputs and not any(
            layer.inputs or layer.type in MERGE_TYPES or isinstance(layer, SharedLayer) for layer in self.layers)

    def node_names(self) -> list[str]:
        return [node_name(i, layer) for i, layer in enumerate(self.layers)]

    def wiring_problems(self) -> list[tuple[str, str]]:
        """(path, message) for every reference to a node that does not exist before it, and every
        layer fed more (or other) tensors than Keras' call signature takes."""
        problems = []
        known = [i.name for i in self.inputs or []] or ["input"]
        names = self.node_names()
        types = {}
        for i, (layer, name) in enumerate(zip(self.layers, names)):
            where = f"model.layers[{i}]"
            if name in known:
                problems.append((f"{where}.name", f"name '{name}' is used twice"))
            for ref in layer.input_names():
                if ref not in known:
                    later = " (layers can only read nodes defined above them)" if ref in names else ""
                    problems.append((f"{where}.inputs", f"no node named '{ref}' before this layer{later}"
                                     f"{suggest(ref, known)}"))
            kind = layer.type
            if isinstance(layer, SharedLayer):
                shared = layer.shared_names()
                for ref in shared:
                    if ref not in types:
                        problems.append((f"{where}.share", f"no layer named '{ref}' above this one to share"
                                         f"{suggest(ref, list(types))}"))
                kind = types.get(shared[0], kind)
            problems += _call_problems(where, layer, kind)
            known.append(name)
            types[name] = kind
        for j, out in enumerate(self.outputs or []):
            if out not in names:
                problems.append((f"model.outputs[{j}]", f"no layer named '{out}'{suggest(out, names)}"))
        return problems


def _call_problems(where: str, layer: LayerSpec, kind: str) -> list[tuple[str, str]]:
    """Does the layer's Keras call signature take the tensors (and flags) it is given?"""
    problems = []
    slots = tensor_slots(kind)
    count = len(layer.input_names()) if layer.inputs else 1
    if isinstance(layer.inputs, dict):
        if slots is None:
            problems.append((f"{where}.inputs", f"{kind} merges a list of nodes: write inputs: [a, b], not a mapping"))
        for key in layer.inputs:
            if slots is not None and key not in slots:
                problems.append((f"{where}.inputs.{key}", f"{kind} has no call argument '{key}'"
                                 f"{suggest(key, slots)}; it reads {', '.join(slots)}"))
    elif kind in NATIVE_MERGES and count != NATIVE_MERGES[kind]:
        problems.append((f"{where}.inputs", f"{kind} measures between {NATIVE_MERGES[kind]} nodes, got {count}: "
                                            "write inputs: [a, b]"))
    elif kind in MERGE_TYPES and layer.inputs is not None and count < 2:
        problems.append((f"{where}.inputs", f"{kind} merges two or more nodes, got {count}"))
    elif slots is not None and count > 1 and count > len(slots):
        several = f"it reads {', '.join(slots)}" if len(slots) > 1 else "merge them first with Concatenate or Add"
        reads = "one node" if len(slots) == 1 else f"{len(slots)} nodes"
        problems.append((f"{where}.inputs", f"{kind} reads {reads}, got {count}; {several}"))
    flags = call_info(kind)["flags"]
    for key in layer.call or {}:
        if key not in flags:
            options = ", ".join(flags) or "none"
            problems.append((f"{where}.call.{key}", f"{kind} has no call argument '{key}'{suggest(key, list(flags))}"
                             f" (its non-tensor call arguments: {options})"))
    return problems
