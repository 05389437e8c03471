"""The `compile:` section: loss, metrics, optimizer and learning-rate schedule."""
from __future__ import annotations

from typing import Annotated, Any, Literal, Union

from pydantic import ConfigDict, Discriminator, Field, Tag, field_validator, PositiveFloat, PositiveInt, model_validator

from expkit.config.base import KeyProblem, NamedSpec, Spec
from expkit.config.catalog import CATALOG
from expkit.config.components import keras_snake
from expkit.config.plugin_specs import PluginLoss, PluginMetric, PluginSchedule, plugin_or
from expkit.errors import suggest

AutoSteps = PositiveInt | Literal["auto"]


class ExponentialDecay(Spec):
    schedule: Literal["exponential_decay"] = Field(description="lr = initial * decay_rate ** (step / decay_steps).")
    initial_learning_rate: PositiveFloat = Field(description="Learning rate at step 0.")
    decay_steps: PositiveInt = Field(description="Steps per decay period.")
    decay_rate: PositiveFloat = Field(description="Factor per decay period.")
    staircase: bool = Field(False, description="Decay in whole periods (a staircase) instead of smoothly.")


class CosineDecay(Spec):
    schedule: Literal["cosine_decay"] = Field(description=(
        "Optional linear warm-up from initial_learning_rate to warmup_target, then cosine decay to alpha * peak."))
    initial_learning_rate: float = Field(ge=0, description="Learning rate at step 0.")
    decay_steps: AutoSteps = Field("auto", description="Steps of the cosine phase; auto: all training steps less warm-up.")
    alpha: float = Field(0.0, ge=0, le=1, description="Final learning rate as a fraction of the peak.")
    warmup_target: PositiveFloat | None = Field(None, description="Peak learning rate reached after the warm-up.")
    warmup_steps: int = Field(0, ge=0, description="Steps of linear warm-up.")


class PiecewiseConstant(Spec):
    schedule: Literal["piecewise_constant"] = Field(description="values[i] while step < boundaries[i].")
    boundaries: list[PositiveInt] = Field(min_length=1, description="Step numbers where the rate changes, increasing.")
    values: list[PositiveFloat] = Field(min_length=2, description="One more value than boundaries.")

    @model_validator(mode="after")
    def _lengths(self):
        if len(self.values) != len(self.boundaries) + 1:
            raise KeyProblem("values", f"piecewise_constant needs one more value than boundaries, got "
                             f"{len(self.boundaries)} boundaries and {len(self.values)} values")
        if list(self.boundaries) != sorted(set(self.boundaries)):
            raise KeyProblem("boundaries", f"boundaries must increase strictly, got {self.boundaries}")
        return self


class LinearWarmup(Spec):
    schedule: Literal["linear_warmup"] = Field(description="Linear ramp from 0 to learning_rate, then constant.")
    learning_rate: PositiveFloat = Field(description="Rate reached at the end of the warm-up.")
    warmup_steps: PositiveInt = Field(description="Steps of the ramp.")


class OneCycle(Spec):
    schedule: Literal["one_cycle"] = Field(description=(
        "Smith's one-cycle policy (as PyTorch's OneCycleLR, cosine annealing): from max/div_factor up "
        "to max_learning_rate over pct_start of the steps, then down to max/(div_factor*final_div_factor)."))
    max_learning_rate: PositiveFloat = Field(description="Peak learning rate.")
    total_steps: AutoSteps = Field("auto", description="Length of the cycle; auto: all training steps.")
    pct_start: float = Field(0.3, gt=0, lt=1, description="Fraction of the cycle spent increasing.")
    div_factor: PositiveFloat = Field(25.0, description="Initial rate = max_learning_rate / div_factor.")
    final_div_factor: PositiveFloat = Field(1e4, description="Final rate = initial rate / final_div_factor.")


Schedule = Annotated[Union[ExponentialDecay, CosineDecay, PiecewiseConstant, LinearWarmup, OneCycle],
                     Field(discriminator="schedule")]
SCHEDULES = ("exponential_decay", "cosine_decay", "piecewise_constant", "linear_warmup", "one_cycle")
# A number, one of Keras' (or expkit's) schedules, or a loaded plugin's: {schedule: its name, ...}.
LearningRate = plugin_or("schedules", PositiveFloat | Schedule | None, PluginSchedule, SCHEDULES, key="schedule")

OPTIMIZERS = ("sgd", "adam", "adamw", "rmsprop", "adagrad", "adadelta", "nadam", "adamax", "lion")
OPTIMIZER_CLASSES = {"sgd": "SGD", "adam": "Adam", "adamw": "AdamW", "rmsprop": "RMSprop",
                     "adagrad": "Adagrad", "adadelta": "Adadelta", "nadam": "Nadam",
                     "adamax": "Adamax", "lion": "Lion"}
# Arguments each optimizer takes besides learning_rate and clipping (Keras' own names).
OPTIMIZER_ARGS = {
    "sgd": {"momentum", "nesterov", "weight_decay"},
    "adam": {"beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay"},
    "adamw": {"beta_1", "beta_2", "epsilon", "amsgrad", "weight_decay"},
    "rmsprop": {"rho", "momentum", "epsilon", "centered", "weight_decay"},
    "adagrad": {"initial_accumulator_value", "epsilon", "weight_decay"},
    "adadelta": {"rho", "epsilon", "weight_decay"},
    "nadam": {"beta_1", "beta_2", "epsilon", "weight_decay"},
    "adamax": {"beta_1", "beta_2", "epsilon", "weight_decay"},
    "lion": {"beta_1", "beta_2", "weight_decay"},
}
CLIPPING = ("clipnorm", "clipvalue", "global_clipnorm")


class OptimizerSpec(NamedSpec):
    name: Literal[OPTIMIZERS] = Field("adam", description="Optimizer: " + ", ".join(OPTIMIZERS) + ".")  # type: ignore[valid-type]
    learning_rate: LearningRate = Field(None, description=(  # type: ignore[valid-type]
        "A number, or a schedule (exponential_decay, cosine_decay, piecewise_constant, linear_warmup, "
        "one_cycle, or a plugin's). Default: Keras' default for the optimizer (0.01 for sgd, 0.001 for most others)."))
    momentum: float | None = Field(None, ge=0, lt=1, description="sgd, rmsprop: momentum.")
    nesterov: bool | None = Field(None, description="sgd: Nesterov momentum.")
    beta_1: float | None = Field(None, ge=0, lt=1, description="adam family, lion: decay of the first moment.")
    beta_2: float | None = Field(None, ge=0, lt=1, description="adam family, lion: decay of the second moment.")
    epsilon: float | None = Field(None, gt=0, description="Small constant for numerical stability.")
    amsgrad: bool | None = Field(None, description="adam, adamw: the AMSGrad variant.")
    rho: float | None = Field(None, ge=0, lt=1, description="rmsprop, adadelta: decay of the squared-gradient average.")
    centered: bool | None = Field(None, description="rmsprop: centered variant.")
    initial_accumulator_value: float | None = Field(None, ge=0, description="adagrad: starting accumulator.")
    weight_decay: float | None = Field(None, ge=0, description="Decoupled weight decay (default 0.004 for adamw).")
    clipnorm: PositiveFloat | None = Field(None, description="Clip each gradient to this norm.")
    clipvalue: PositiveFloat | None = Field(None, description="Clip each gradient element to [-v, v].")
    global_clipnorm: PositiveFloat | None = Field(None, description="Clip all gradients together to this global norm.")

    @model_validator(mode="after")
    def _arguments_fit(self):
        allowed = OPTIMIZER_ARGS[self.name]
        given = {k for k in self.model_fields_set if k not in ("name", "learning_rate", *CLIPPING)
                 and getattr(self, k) is not None}
        if given - allowed:
            extra = sorted(given - allowed)
            raise KeyProblem(extra[0], f"optimizer '{self.name}' does not take {', '.join(extra)}; "
                             f"it takes learning_rate, {', '.join(sorted(allowed))} and clipping "
                             f"({', '.join(CLIPPING)})")
        clipping = [k for k in CLIPPING if getattr(self, k) is not None]
        if len(clipping) > 1:
            raise KeyProblem(clipping[-1], "set only one of clipnorm, clipvalue and global_clipnorm")
        return self

    def keras_kwargs(self) -> dict[str, Any]:
        """Constructor arguments except learning_rate (which may be a schedule)."""
        return {k: getattr(self, k) for k in sorted(OPTIMIZER_ARGS[self.name] | set(CLIPPING))
                if getattr(self, k) is not None}


LOSSES = ("mean_squared_error", "mse", "mean_absolute_error", "mae", "mean_absolute_percentage_error",
          "mape", "mean_squared_logarithmic_error", "msle", "huber", "log_cosh", "binary_crossentropy",
          "binary_focal_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
          "categorical_focal_crossentropy", "hinge", "squared_hinge", "categorical_hinge",
          "kl_divergence", "poisson", "cosine_similarity")
METRICS = ("accuracy", "binary_accuracy", "categorical_accuracy", "sparse_categorical_accuracy",
           "top_k_categorical_accuracy", "sparse_top_k_categorical_accuracy", "mean_squared_error",
           "mse", "mean_absolute_error", "mae", "mean_absolute_percentage_error", "mape",
           "root_mean_squared_error", "rmse", "auc", "precision", "recall",
           "binary_crossentropy", "categorical_crossentropy", "sparse_categorical_crossentropy",
           "cosine_similarity", "r2_score")
ABBREVIATIONS = {"mse": "mean_squared_error", "mae": "mean_absolute_error", "mape": "mean_absolute_percentage_error",
                 "msle": "mean_squared_logarithmic_error", "rmse": "root_mean_squared_error"}
# Every loss and metric class of the installed Keras, by snake_case name (catalogue): Huber, AUC, TruePositives...
STRING_LOSSES, STRING_METRICS = LOSSES, METRICS  # Keras takes these as strings; logs keep their names
LOSS_CLASSES = {keras_snake(n): n for n in CATALOG["losses"]}
METRIC_CLASSES = {keras_snake(n): n for n in CATALOG["metrics"]}
LOSSES += tuple(n for n in LOSS_CLASSES if n not in LOSSES)
# expkit's own losses (model/native.py), with their arguments: keras.io's siamese contrastive loss.
NATIVE_LOSSES = {"contrastive": {"margin"}}
LOSSES += tuple(NATIVE_LOSSES)
METRICS += tuple(n for n in METRIC_CLASSES if n not in METRICS)
MetricName = Literal[METRICS]  # type: ignore[valid-type]


def _keras_arguments(spec, kind: str, classes: dict, table: dict, skip: set) -> None:
    """The keys besides `name` must be arguments of the Keras class (Huber's delta, AUC's curve)."""
    cls = classes.get(ABBREVIATIONS.get(spec.name, spec.name))
    allowed = set(table[cls]["args"]) - skip if cls else set(NATIVE_LOSSES.get(spec.name, ()))
    for key in spec.model_extra or {}:
        if key not in allowed:
            hint = suggest(key, sorted(allowed)) or (f"; it takes {', '.join(sorted(allowed))}" if allowed
                                                     else f"; {kind} '{spec.name}' takes no arguments")
            raise KeyProblem(key, f"unknown key '{key}' for {kind} '{spec.name}'{hint}")


class _ClassSpec(NamedSpec):
    """A Keras loss or metric by snake_case name or class name, with its constructor arguments."""

    model_config = ConfigDict(extra="allow", frozen=True, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _snake(cls, data):
        if isinstance(data, dict) and isinstance(data.get("name"), str) and data["name"][:1].isupper():
            data = {**data, "name": keras_snake(data["name"])}
        return data

    def keras_kwargs(self) -> dict[str, Any]:
        return dict(self.model_extra or {})


class LossSpec(_ClassSpec):
    name: Literal[LOSSES] = Field(description=(  # type: ignore[valid-type]
        "Keras loss name (snake_case, or the class name): " + ", ".join(LOSSES) + ". Any other key is an argument "
        "of Keras' loss class, e.g. {name: huber, delta: 2.0}. contrastive is expkit's own: keras.io's siamese "
        "loss on a predicted distance (labels 0 similar, 1 different), {name: contrastive, margin: 1.0}."))
    from_logits: bool | None = Field(None, description=(
        "Crossentropy losses: the model outputs raw scores (no softmax/sigmoid on the last layer)."))
    label_smoothing: float | None = Field(None, ge=0, lt=1, description="Crossentropy losses: label smoothing.")

    @model_validator(mode="after")
    def _crossentropy_only(self):
        if "crossentropy" not in self.name and (self.from_logits is not None or self.label_smoothing is not None):
            key = "from_logits" if self.from_logits is not None else "label_smoothing"
            raise KeyProblem(key, f"from_logits and label_smoothing apply to crossentropy losses, not '{self.name}'")
        if self.name.startswith("sparse") and self.label_smoothing is not None:
            raise KeyProblem("label_smoothing", "sparse_categorical_crossentropy takes no label_smoothing: use one-hot labels "
                             "(dataset.labels: one_hot) with categorical_crossentropy")
        _keras_arguments(self, "loss", LOSS_CLASSES, CATALOG["losses"], {"from_logits", "label_smoothing", "name"})
        margin = (self.model_extra or {}).get("margin", 1.0)
        if self.name == "contrastive" and (isinstance(margin, bool) or not isinstance(margin, (int, float))
                                           or not margin > 0):
            raise KeyProblem("margin", f"contrastive's margin must be a number > 0, got {margin!r}")
        return self

    def keras_class(self) -> str | None:
        return LOSS_CLASSES.get(ABBREVIATIONS.get(self.name, self.name))


class MetricSpec(_ClassSpec):
    name: MetricName = Field(description=(
        "Keras metric name (snake_case, or the class name), e.g. auc, precision, true_positives. Any other key is an "
        "argument of Keras' metric class, e.g. {name: auc, curve: PR} or {name: precision, thresholds: 0.7}."))

    @model_validator(mode="after")
    def _arguments(self):
        _keras_arguments(self, "metric", METRIC_CLASSES, CATALOG["metrics"], {"name"})
        return self


Metric = plugin_or("metrics", MetricName | MetricSpec, PluginMetric, METRICS)  # or a plugin's
OneLoss = plugin_or("losses", LossSpec, PluginLoss, LOSSES)  # Keras' loss, or a plugin's


def _loss_form(value) -> str:
    return "per_output" if isinstance(value, dict) and "name" not in value else "one"


Loss = Annotated[Union[Annotated[OneLoss, Tag("one")], Annotated[dict[str, OneLoss], Tag("per_output")]],
                 Discriminator(_loss_form)]


class CompileConfig(Spec):
    loss: Loss = Field(description=(
        "The loss: a Keras loss name, or {name, ...its arguments}; for a model with several outputs, "
        "a mapping from each output's name (model.outputs) to its loss."))
    loss_weights: dict[str, float] | None = Field(None, description=(
        "Several outputs: each output's weight in the total loss (Keras' loss_weights); default 1 each."))
    metrics: list[Metric] | dict[str, list[Metric]] = Field(default_factory=list, description=(  # type: ignore[valid-type]
        "Metrics reported each epoch: names (" + ", ".join(STRING_METRICS) + ", and every other Keras metric "
        "class in snake_case), or {name, ...its arguments}; for several outputs, a mapping from output "
        "name to its list."))
    optimizer: OptimizerSpec = Field(default_factory=lambda: OptimizerSpec(name="adam"), description=(
        "The optimizer: a name, or {name, learning_rate, ...its arguments}."))

    @field_validator("loss", mode="before")
    @classmethod
    def _loss_form(cls, value):
        if not isinstance(value, (str, dict)):
            raise ValueError(f"must be a loss name (mse), a loss with its arguments ({{name: huber, delta: 1.0}}), "
                             f"or, for a model with several outputs, a mapping from each output's name to its loss "
                             f"({{priority: mse, department: sparse_categorical_crossentropy}}); got {value!r}")
        return value

    def per_output_keys(self) -> list[tuple[str, str]]:
        """(key, output name) of every per-output setting, to check against model.outputs."""
        keys = []
        for section in ("loss", "loss_weights", "metrics"):
            value = getattr(self, section)
            if isinstance(value, dict):
                keys += [(f"compile.{section}.{name}", name) for name in value]
        return keys
