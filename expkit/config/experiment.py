"""The whole experiment: five sections, plus checks that span them."""
from __future__ import annotations

from pydantic import Field

from expkit.config.base import Spec
from expkit.config.dataset import SYNTHETIC_DATASETS, DatasetConfig
from expkit.config.limits import human, over_memory
from expkit.config.model import ModelConfig
from expkit.config.optim import CompileConfig
from expkit.config.sweep import SweepConfig
from expkit.config.tracking import TrackingConfig
from expkit.config.training import TrainingConfig


class PublishedResult(Spec):
    value: float | tuple[float, float] = Field(description=(
        "The figure published for this experiment, or a [low, high] range, e.g. 0.925 or [0.95, 0.98]."))
    metric: str = Field("test.accuracy", description=(
        "The `expkit compare` column it compares with, e.g. test.accuracy or test.root_mean_squared_error."))
    source: str = Field("", description="Where the figure comes from (paper, tutorial, benchmark table).")


class ExperimentInfo(Spec):
    name: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9_.-]*$", description=(
        "Short name used in the run folder's name (letters, digits, _ . -). Default: the config file's name."))
    seed: int = Field(0, ge=0, description="Seeds Python, NumPy, TensorFlow, the data split and shuffling.")
    description: str = Field("", description="What this experiment tests.")
    tags: list[str] = Field(default_factory=list, description="Free labels for finding runs later.")
    published: PublishedResult | None = Field(None, description=(
        "The result published for this experiment, shown by `expkit compare` beside what the run got."))


class ExperimentConfig(Spec):
    experiment: ExperimentInfo = Field(description="Name, seed, description and tags.")
    dataset: DatasetConfig = Field(description="Where the data comes from and how it is prepared.")
    model: ModelConfig = Field(description="The layer stack or graph, initializer and regularization.")
    compile: CompileConfig = Field(description="Loss, metrics and optimizer.")
    training: TrainingConfig = Field(default_factory=TrainingConfig, description="Epochs, batches, device, callbacks.")
    sweep: SweepConfig | None = Field(None, description=(
        "Variants that `expkit sweep` runs (grid, random, variants, seeds); `expkit train` ignores it."))
    tracking: TrackingConfig | None = Field(None, description=(
        "Experiment trackers the run logs to while it trains (tracking.mlflow)."))


def cross_checks(cfg: ExperimentConfig, valid: set[str] | None = None) -> list[tuple[str, str]]:
    """(path, message) for settings that are each valid but do not work together. `valid`: the sections
    that validated (all when None); a check runs when every section it reads is among them."""
    def ready(*sections):
        return valid is None or valid.issuperset(sections)

    problems = list(cfg.model.wiring_problems()) if ready("model") else []
    if ready("compile", "model"):
        problems += _per_output_problems(cfg)
    if ready("training"):
        problems += cfg.training.distribution_problems()
    if ready("dataset") and cfg.dataset.name in SYNTHETIC_DATASETS:
        problems += _synthetic_size(cfg.dataset)
    if ready("compile", "dataset"):
        one_loss = not isinstance(cfg.compile.loss, dict)
        loss, labels = (cfg.compile.loss.name if one_loss else None), cfg.dataset.labels
        # An npz/npy file says itself what its targets are (one-hot floats per step of a sequence, say):
        # for those the data decides, in training/checks.py.
        from_file = cfg.dataset.name in ("npz", "npy")
        if loss == "categorical_crossentropy" and labels == "sparse" and not from_file:
            problems.append(("compile.loss", "categorical_crossentropy needs one-hot labels, but dataset.labels "
                             "is sparse: use sparse_categorical_crossentropy, or set dataset.labels: one_hot"))
        if loss == "sparse_categorical_crossentropy" and labels == "one_hot":
            problems.append(("compile.loss", "sparse_categorical_crossentropy needs integer labels, but "
                             "dataset.labels is one_hot: use categorical_crossentropy, or set dataset.labels: sparse"))
    if ready("compile", "training"):
        schedule = not isinstance(cfg.compile.optimizer.learning_rate, (float, int, type(None)))
        if cfg.training.callbacks.reduce_lr_on_plateau and schedule:
            problems.append(("training.callbacks.reduce_lr_on_plateau", "cannot change a learning-rate schedule: "
                             "use a constant compile.optimizer.learning_rate, or remove reduce_lr_on_plateau"))
    if ready("training", "dataset") and cfg.dataset.sample_weight is not None and cfg.training.class_weight:
        problems.append(("training.class_weight", "Keras takes class weights or per-example weights, not both, and "
                         f"dataset.sample_weight '{cfg.dataset.sample_weight}' already weights every example: "
                         "remove one (fold the class weights into the weight column)"))
    if ready("training", "dataset"):
        data = cfg.dataset
        has_val = data.validation_split > 0 or data.validation_size or data.name in ("npz", "npy")
        for key in ("early_stopping", "reduce_lr_on_plateau", "checkpoint"):
            spec = getattr(cfg.training.callbacks, key)
            if spec and spec.monitor.startswith("val_") and not has_val:
                problems.append((f"training.callbacks.{key}.monitor", f"watches '{spec.monitor}' but there is no "
                                 "validation split: set dataset.validation_split (e.g. 0.1) or monitor a training metric"))
    return problems


def _per_output_problems(cfg: ExperimentConfig) -> list[tuple[str, str]]:
    """Per-output loss, loss_weights and metrics name the model's outputs, and only a model with several."""
    from expkit.errors import suggest
    outputs = list(cfg.model.outputs or [])
    problems = []
    for key, name in cfg.compile.per_output_keys():
        if len(outputs) < 2:
            problems.append((key, "a per-output setting needs a model with several outputs (model.outputs: "
                                  f"[a, b]); this model has one: write a single {key.split('.')[1]} instead"))
            break
        if name not in outputs:
            problems.append((key, f"no model output named '{name}'{suggest(name, outputs)}; "
                                  f"model.outputs are {', '.join(outputs)}"))
    if isinstance(cfg.compile.loss, dict) and len(outputs) > 1:
        missing = [o for o in outputs if o not in cfg.compile.loss]
        if missing:
            problems.append(("compile.loss", f"no loss for output{'s' * (len(missing) > 1)} {', '.join(missing)}: "
                                             "give every output in model.outputs a loss"))
    return problems


def _synthetic_size(data) -> list[tuple[str, str]]:
    """A synthetic set is generated in memory as float64, then copied ~3 times while it is prepared."""
    floats = {"series": 2 * (data.sequence_length or 50), "linear": data.features + 1}.get(data.name, 3)
    need = data.samples * floats * 8 * 4
    too_big = over_memory(need)
    if not too_big:
        return []
    return [("dataset.samples", f"{data.samples:,} samples of '{data.name}' need about {human(need)}, {too_big}; "
             "use fewer samples")]
