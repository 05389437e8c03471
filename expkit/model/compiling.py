"""Optimizer, schedule, loss and metrics from the `compile:` section."""
from __future__ import annotations

from expkit.config.experiment import ExperimentConfig
from expkit.config.optim import OPTIMIZER_CLASSES, OptimizerSpec
from expkit.errors import BuildError

LOSS_CLASSES = {"binary_crossentropy": "BinaryCrossentropy", "categorical_crossentropy": "CategoricalCrossentropy",
                "sparse_categorical_crossentropy": "SparseCategoricalCrossentropy",
                "binary_focal_crossentropy": "BinaryFocalCrossentropy",
                "categorical_focal_crossentropy": "CategoricalFocalCrossentropy"}
# Metrics whose string form Keras does not accept, or names differently in the logs.
METRIC_CLASSES = {"rmse": ("RootMeanSquaredError", "rmse"), "root_mean_squared_error": ("RootMeanSquaredError", "rmse"),
                  "auc": ("AUC", "auc"), "precision": ("Precision", "precision"), "recall": ("Recall", "recall"),
                  "r2_score": ("R2Score", "r2_score")}


def make_schedule(keras, lr, steps_per_epoch: int | None, epochs: int):
    """A float, or a Keras LearningRateSchedule with 'auto' step counts resolved from the run's length."""
    if lr is None or isinstance(lr, (int, float)):
        return lr
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


def make_loss(keras, cfg: ExperimentConfig):
    loss = cfg.compile.loss
    options = {k: v for k, v in (("from_logits", loss.from_logits), ("label_smoothing", loss.label_smoothing))
               if v is not None}
    if not options:
        return loss.name
    return getattr(keras.losses, LOSS_CLASSES[loss.name])(**options)


def make_metrics(keras, cfg: ExperimentConfig) -> list:
    metrics = []
    for name in cfg.compile.metrics:
        if name in METRIC_CLASSES:
            cls, log_name = METRIC_CLASSES[name]
            metrics.append(getattr(keras.metrics, cls)(name=log_name))
        else:
            metrics.append(name)
    return metrics


def compile_model(model, cfg: ExperimentConfig, *, steps_per_epoch: int | None, jit_compile: bool) -> None:
    keras = __import__("keras")
    try:
        model.compile(optimizer=make_optimizer(keras, cfg.compile.optimizer, steps_per_epoch, cfg.training.epochs),
                      loss=make_loss(keras, cfg), metrics=make_metrics(keras, cfg),
                      steps_per_execution=cfg.training.steps_per_execution, jit_compile=jit_compile)
    except (ValueError, TypeError) as exc:
        raise BuildError(f"compile: Keras rejected the loss, metrics or optimizer: {exc}") from None
