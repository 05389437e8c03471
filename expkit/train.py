"""train: a loaded config -> a complete run folder (config.yaml, run.json, metrics.csv, results.json, model.keras, tb/).

Everything that can be wrong with the input (config, data, shapes) is found before the run folder
exists, so a bad input leaves nothing behind. From then on run.json says what happened.
"""
from __future__ import annotations

import math
import signal
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from expkit.config.experiment import ExperimentConfig
from expkit.config.loader import LoadedConfig, resolved_data
from expkit.device import DevicePlan, apply_device, choose_device
from expkit.errors import BuildError, DataError
from expkit.runstore import RunRecord, create_run_dir, now, write_atomic, write_json
from expkit.tfenv import import_keras

CLASS_LOSSES = {"sparse_categorical_crossentropy", "categorical_crossentropy",
                "categorical_focal_crossentropy"}


class TrainingFailed(Exception):
    """Training itself failed (not the input). Exit code 1."""

    exit_code = 1


@dataclass
class Prepared:
    keras: object
    plan: DevicePlan
    device_name: str
    splits: object
    model: object


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
    loss = cfg.compile.loss.name
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


def prepare(loaded: LoadedConfig, *, load_data: bool = True) -> Prepared:
    """Device, seeds, data and model: every input error surfaces here, before anything is written."""
    from expkit.data import describe_input, load_splits
    cfg = loaded.config
    keras = import_keras()
    import tensorflow as tf
    plan = choose_device(cfg.training.device, [d.name for d in tf.config.list_physical_devices("GPU")],
                         cfg.training.jit_compile, cfg.training.mixed_precision)
    device_name = apply_device(plan, tf)
    keras.utils.set_random_seed(cfg.experiment.seed)
    if cfg.training.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy("mixed_float16" if plan.mixed_precision else "float32")
    first = first_layer_type(cfg)
    try:
        if load_data:
            splits = load_splits(cfg.dataset, cfg.experiment.seed, first)
            shape, classes, steps = splits.input_shape, splits.num_classes, _steps(splits, cfg)
        else:
            splits = None
            shape, classes, _task = describe_input(cfg.dataset, first)
            steps = None
    except DataError as exc:
        key = "path" if cfg.dataset.path else "name"
        where = loaded.source.locate(("dataset", key))
        raise DataError(f"{where or loaded.file}: dataset.{key}: {exc}") from None
    model = build_for(cfg, keras, shape, classes, steps, loaded.source.locate, plan)
    return Prepared(keras, plan, device_name, splits, model)


def build_for(cfg, keras, data_shape, num_classes, steps_per_epoch, locate, plan: DevicePlan):
    from expkit.model.builder import build_model
    shapes = input_shapes_for(cfg, tuple(data_shape) if data_shape else None, locate)
    model = build_model(cfg, shapes, steps_per_epoch=steps_per_epoch, locate=locate,
                        jit_compile=plan.jit_compile)
    check_outputs(cfg, model, num_classes, locate)
    return model


def _steps(splits, cfg: ExperimentConfig) -> int:
    return max(1, -(-len(splits.x_train) // cfg.training.batch_size))


def _interrupt_on_sigterm() -> None:
    def handler(signum, frame):
        raise KeyboardInterrupt
    try:
        signal.signal(signal.SIGTERM, handler)
    except ValueError:  # not the main thread
        pass


def train(loaded: LoadedConfig, runs_dir: Path) -> Path:
    """Train and evaluate; returns the run folder. Raises TrainingFailed or KeyboardInterrupt after
    recording the outcome in run.json."""
    cfg = loaded.config
    started = now()
    ready = prepare(loaded)
    keras, splits, model = ready.keras, ready.splits, ready.model
    import tensorflow as tf

    run_dir = create_run_dir(Path(runs_dir), cfg.experiment.name, started)
    write_atomic(run_dir / "config.yaml", loaded.to_yaml())
    # The same resolved config as JSON: compare reads thousands of runs, and JSON parses ~50x faster.
    write_json(run_dir / "config.json", resolved_data(cfg))
    record = RunRecord(run_dir, cfg.experiment.name, cfg.experiment.seed, started, ready.device_name,
                       {"tensorflow": tf.__version__, "keras": keras.__version__})
    print(f"run folder: {run_dir}\ndevice: {ready.device_name}; {model.count_params():,} parameters; "
          f"{len(splits.x_train):,} training samples", flush=True)
    _interrupt_on_sigterm()
    try:
        from expkit.hparams import log_run_hparams, sweep_hparams_from_env
        log_run_hparams(run_dir, *sweep_hparams_from_env())  # the HParams dashboard's row for this run
        results = _fit_and_evaluate(ready, cfg, run_dir)
    except KeyboardInterrupt:
        record.finish("interrupted", error="interrupted (Ctrl-C or SIGTERM)")
        raise
    except Exception as exc:  # a training failure is recorded, whatever it is
        record.finish("failed", error=f"{type(exc).__name__}: {exc}")
        raise TrainingFailed(f"training failed: {type(exc).__name__}: {exc} (recorded in {run_dir / 'run.json'})") from exc
    record.finish("completed", epochs_run=results["epochs_run"])
    return run_dir


def _fit_and_evaluate(ready: Prepared, cfg: ExperimentConfig, run_dir: Path) -> dict:
    from expkit.callbacks import make_callbacks
    from expkit.data import make_pipelines
    import tensorflow as tf
    keras, splits, model = ready.keras, ready.splits, ready.model
    train_ds, val_ds, test_ds = make_pipelines(
        splits, cfg.training.batch_size, cfg.experiment.seed, cache=cfg.dataset.cache,
        shuffle=cfg.training.shuffle, shuffle_buffer=cfg.dataset.shuffle_buffer, input_names=column_inputs(cfg, splits))
    verbose = cfg.training.verbose
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    callbacks = make_callbacks(keras, cfg.training.callbacks, run_dir)
    with tf.device(ready.plan.device):
        t0 = time.perf_counter()
        # shuffle=False: the tf.data pipeline already reshuffles every epoch with the seed.
        history = model.fit(train_ds, validation_data=val_ds, epochs=cfg.training.epochs,
                            callbacks=callbacks, verbose=verbose, shuffle=False)
        seconds = time.perf_counter() - t0
        test = model.evaluate(test_ds, return_dict=True, verbose=0) if test_ds is not None else {}
    last_loss = history.history.get("loss", [0.0])[-1]
    if not math.isfinite(last_loss):
        raise FloatingPointError(f"the loss became {last_loss} (NaN or infinite): lower the learning rate "
                                 "or check the data's scaling")
    model.save(run_dir / "model.keras")
    if splits.preprocessor is not None:  # predict and serve prepare new inputs with it
        write_json(run_dir / "preprocessing.json", splits.preprocessor.to_json())
    final = {k: float(v[-1]) for k, v in history.history.items() if k != "learning_rate"}
    epochs_run = len(history.epoch)
    results = {
        "train": {k: v for k, v in final.items() if not k.startswith("val_")},
        "val": {k[4:]: v for k, v in final.items() if k.startswith("val_")},
        "test": {k: float(v) for k, v in test.items()},
        "params": int(model.count_params()),
        "epochs_run": epochs_run,
        "training_seconds": round(seconds, 3),
        "samples_per_second": round(len(splits.x_train) * epochs_run / seconds, 1) if seconds else None,
        "samples": {"train": len(splits.x_train), "val": 0 if splits.x_val is None else len(splits.x_val),
                    "test": 0 if splits.x_test is None else len(splits.x_test)},
        "data_source": splits.source,
    }
    write_json(run_dir / "results.json", results)
    summary = ", ".join(f"{split} {k} {v:.4f}" for split in ("val", "test") for k, v in results[split].items())
    print(f"done in {seconds:.1f} s ({results['samples_per_second']} samples/s); {summary}", flush=True)
    return results
