"""Optimizer, schedule, loss and metrics from the `compile:` section."""
from __future__ import annotations

from expkit.config.experiment import ExperimentConfig
from expkit.config.optim import ABBREVIATIONS, STRING_LOSSES, OPTIMIZER_CLASSES, LossSpec, OptimizerSpec
from expkit.config.optim import METRIC_CLASSES as KERAS_METRICS, STRING_METRICS as PLAIN_METRICS
from expkit.config.plugin_specs import PluginSpec
from expkit.errors import BuildError
from expkit.model.plugin_models import make_plugin_object

# Metrics whose string form Keras does not accept, or names differently in the logs.
METRIC_CLASSES = {"rmse": ("RootMeanSquaredError", "rmse"), "root_mean_squared_error": ("RootMeanSquaredError", "rmse"),
                  "auc": ("AUC", "auc"), "precision": ("Precision", "precision"), "recall": ("Recall", "recall"),
                  "r2_score": ("R2Score", "r2_score")}
# The names Keras accepts as strings for a metric (the rest are built from their class).
STRING_METRICS = set(PLAIN_METRICS) - set(METRIC_CLASSES)


def logged_metric_names(compile_section: dict | None) -> list[str]:
    """The names Keras logs the compiled metrics under, from a resolved config's `compile` (plain data).
    Several outputs: Keras prefixes each output's loss and metrics with its name (title_loss)."""
    compile_section = compile_section or {}
    metrics = compile_section.get("metrics") or []
    groups = metrics.items() if isinstance(metrics, dict) else [(None, metrics)]
    names = []
    if isinstance(compile_section.get("loss"), dict) and "name" not in compile_section["loss"]:
        names += [f"{output}_loss" for output in compile_section["loss"]]
    for output, items in groups:
        for item in items:
            name = item if isinstance(item, str) else item.get("name", "")
            logged = METRIC_CLASSES.get(name, (None, name))[1]
            names.append(f"{output}_{logged}" if output else logged)
    return names


def make_schedule(keras, lr, steps_per_epoch: int | None, epochs: int):
    """A float, or a Keras LearningRateSchedule with 'auto' step counts resolved from the run's length."""
    if lr is None or isinstance(lr, (int, float)):
        return lr
    if isinstance(lr, PluginSpec):  # a plugin's schedule, built with the config's arguments
        return make_plugin_object(lr)
    from expkit.model import schedules
    total = (steps_per_epoch or 1) * epochs
    kind = lr.schedule
    if kind == "exponential_decay":
        return keras.optimizers.schedules.ExponentialDecay(
            lr.initial_learning_rate, lr.decay_steps, lr.decay_rate, staircase=lr.staircase)
    if kind == "cosine_decay":
        steps = lr.decay_steps if lr.decay_steps != "auto" else max(1, total - lr.warmup_steps)
        return keras.optimizers.schedules.CosineDecay(
            lr.initial_learning_rate, steps, alpha=lr.alpha, warmup_target=lr.warmup_target,
            warmup_steps=lr.warmup_steps)
    if kind == "piecewise_constant":
        return keras.optimizers.schedules.PiecewiseConstantDecay(list(lr.boundaries), list(lr.values))
    if kind == "linear_warmup":
        # Keras' own warm-up, held at the target by alpha=1 (its ramp reaches the rate one step later
        # than expkit's old LinearWarmup, which stays registered so saved models still load).
        return keras.optimizers.schedules.CosineDecay(0.0, 1, alpha=1.0, warmup_target=lr.learning_rate,
                                                      warmup_steps=lr.warmup_steps)
    if kind == "one_cycle":
        steps = lr.total_steps if lr.total_steps != "auto" else total
        return schedules.OneCycle(lr.max_learning_rate, steps, lr.pct_start, lr.div_factor, lr.final_div_factor)
    raise AssertionError(f"schedule {kind} has no builder")


def make_optimizer(keras, spec: OptimizerSpec, steps_per_epoch: int | None, epochs: int):
    kwargs = spec.keras_kwargs()
    lr = make_schedule(keras, spec.learning_rate, steps_per_epoch, epochs)
    if lr is not None:
        kwargs["learning_rate"] = lr
    return getattr(keras.optimizers, OPTIMIZER_CLASSES[spec.name])(**kwargs)


def _one_loss(keras, loss: LossSpec):
    if isinstance(loss, PluginSpec):  # a plugin's loss class, built with the config's arguments
        return make_plugin_object(loss)
    if loss.name == "contrastive":  # expkit's own (model/native.py)
        from expkit.model.native import ContrastiveLoss
        return ContrastiveLoss(**loss.keras_kwargs())
    options = {k: v for k, v in (("from_logits", loss.from_logits), ("label_smoothing", loss.label_smoothing))
               if v is not None}
    options.update(loss.keras_kwargs())
    if not options and loss.name in STRING_LOSSES:
        return loss.name
    return getattr(keras.losses, loss.keras_class())(**options)


def make_loss(keras, cfg: ExperimentConfig):
    loss = cfg.compile.loss
    if isinstance(loss, dict):
        return {output: _one_loss(keras, spec) for output, spec in loss.items()}
    return _one_loss(keras, loss)


def _one_metric(keras, item):
    if isinstance(item, PluginSpec):  # a plugin's metric class, built with the config's arguments
        return make_plugin_object(item)
    name = item if isinstance(item, str) else item.name
    kwargs = {} if isinstance(item, str) else item.keras_kwargs()
    if name in METRIC_CLASSES:
        cls, log_name = METRIC_CLASSES[name]
        return getattr(keras.metrics, cls)(**{"name": log_name, **kwargs})
    if name in STRING_METRICS and not kwargs:
        return name
    return getattr(keras.metrics, KERAS_METRICS[ABBREVIATIONS.get(name, name)])(**kwargs)


def make_metrics(keras, cfg: ExperimentConfig):
    metrics = cfg.compile.metrics
    if isinstance(metrics, dict):
        return {output: [_one_metric(keras, m) for m in items] for output, items in metrics.items()}
    return [_one_metric(keras, m) for m in metrics]


def compile_model(model, cfg: ExperimentConfig, *, steps_per_epoch: int | None, jit_compile: bool) -> None:
    keras = __import__("keras")
    try:
        model.compile(optimizer=make_optimizer(keras, cfg.compile.optimizer, steps_per_epoch, cfg.training.epochs),
                      loss=make_loss(keras, cfg), metrics=make_metrics(keras, cfg),
                      loss_weights=dict(cfg.compile.loss_weights) if cfg.compile.loss_weights else None,
                      steps_per_execution=cfg.training.steps_per_execution, jit_compile=jit_compile)
    except (ValueError, TypeError) as exc:
        raise BuildError(f"compile: Keras rejected the loss, metrics or optimizer: {exc}") from None
