"""The `model:` section: a plain layer stack, or a graph of named nodes."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, PositiveInt, field_validator, model_validator

from expkit.config.base import Spec, require_unique_names
from expkit.config.components import InitializerSpec, RegularizationSpec
from expkit.config.layers import MERGE_TYPES, AnyLayer, LayerSpec


class InputSpec(Spec):
    name: str = Field(pattern=r"^[A-Za-z_][A-Za-z0-9_]*$", description="Name layers use in `inputs:` to read it.")
    shape: list[PositiveInt | None] | None = Field(None, description=(
        "Shape of one sample, without the batch axis; default: inferred from the dataset (single input only)."))
    dtype: Literal["float32", "int32"] = Field("float32", description="int32 for token ids (Embedding).")


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
    initializer: InitializerSpec = Field(default_factory=lambda: InitializerSpec(name="glorot_uniform"), description=(
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
            layer.inputs or layer.type in MERGE_TYPES for layer in self.layers)

    def node_names(self) -> list[str]:
        return [node_name(i, layer) for i, layer in enumerate(self.layers)]

    def wiring_problems(self) -> list[tuple[str, str]]:
        """(path, message) for every reference to a node that does not exist before it."""
        problems = []
        known = [i.name for i in self.inputs or []] or ["input"]
        names = self.node_names()
        for i, (layer, name) in enumerate(zip(self.layers, names)):
            if name in known:
                problems.append((f"model.layers[{i}].name", f"name '{name}' is used twice"))
            for ref in layer.inputs or []:
                if ref not in known:
                    later = " (layers can only read nodes defined above them)" if ref in names else ""
                    from expkit.errors import suggest
                    problems.append((f"model.layers[{i}].inputs",
                                     f"no node named '{ref}' before this layer{later}{suggest(ref, known)}"))
            count = len(layer.inputs) if layer.inputs else 1
            if layer.type in MERGE_TYPES and layer.inputs is not None and count < 2:
                problems.append((f"model.layers[{i}].inputs", f"{layer.type} merges two or more nodes, got {count}"))
            if layer.type not in MERGE_TYPES and count > 1:
                problems.append((f"model.layers[{i}].inputs",
                                 f"{layer.type} reads one node, got {count}; merge them first with Concatenate or Add"))
            known.append(name)
        for j, out in enumerate(self.outputs or []):
            if out not in names:
                from expkit.errors import suggest
                problems.append((f"model.outputs[{j}]", f"no layer named '{out}'{suggest(out, names)}"))
        return problems
