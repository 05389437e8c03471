"""train: a loaded config -> a complete run folder (config.yaml, run.json, metrics.csv, results.json, model.keras, tb/).

Everything that can be wrong with the input (config, data, shapes) is found before the run folder
exists, so a bad input leaves nothing behind. From then on run.json says what happened.
"""
from __future__ import annotations

import signal
from dataclasses import dataclass
from pathlib import Path

from expkit.backend import import_keras
from expkit.config.experiment import ExperimentConfig
from expkit.config.loader import LoadedConfig, resolved_data
from expkit.errors import DataError, ExpkitError, TrainingFailed
from expkit.model.device import DevicePlan, apply_device, backend_env, choose_device, visible_gpus
from expkit.model.distribution import Distribution, cluster_settings, initialize_processes, make_distribution
from expkit.runstore import RunFolder, RunRecord, create_run_dir, identify, now, write_atomic, write_json
from expkit.training.checks import check_outputs, class_steps, first_layer_type, input_shapes_for
from expkit.training.fit import fit_and_evaluate
from expkit.tracking.trial import trial_from_env, trial_record


@dataclass
class Prepared:
    keras: object
    plan: DevicePlan
    device_name: str
    splits: object
    model: object
    distribution: Distribution


def prepare(loaded: LoadedConfig, *, load_data: bool = True) -> Prepared:
    """Device, seeds, data and model: every input error surfaces here, before anything is written."""
    from expkit.data.describe import describe_model_input
    from expkit.data.multi import (effective_dataset, load_for_model, named_input_shapes, takes_raw_inputs,
                                   uses_named_arrays)
    cfg = loaded.config
    if cfg.tracking is not None and cfg.tracking.mlflow is not None:  # before anything is written
        from expkit.tracking.mlflow import require_mlflow
        require_mlflow("tracking.mlflow")
    cluster = cluster_settings(cfg.training)  # several processes: checked before Keras loads
    keras = import_keras(cfg.training.backend, backend_env(cfg.training))
    initialize_processes(cluster, keras)
    import tensorflow as tf
    plan = choose_device(cfg.training.device, visible_gpus(cfg.training.backend, tf),
                         cfg.training.jit_compile, cfg.training.mixed_precision, cfg.training.backend)
    device_name = apply_device(plan, tf, cfg.training.gpu_memory)
    distribution = make_distribution(cfg.training, plan, keras, loaded.source.locate, cluster)
    keras.utils.set_random_seed(cfg.experiment.seed)
    if cfg.training.deterministic:
        tf.config.experimental.enable_op_determinism()
    keras.mixed_precision.set_global_policy("mixed_float16" if plan.mixed_precision else "float32")
    first = first_layer_type(cfg)
    try:
        if load_data:
            splits = load_for_model(cfg, first)
            shape, classes, steps = _shape(splits), splits.num_classes, _steps(splits, cfg)
        else:  # validate --build, summary: the model training would build, with its preprocessing front
            splits = front = None
            if uses_named_arrays(cfg):
                shape, classes = named_input_shapes(cfg), None
            else:
                shape, classes, _task, front = describe_model_input(effective_dataset(cfg), first,
                                                                    raw_inputs=takes_raw_inputs(cfg))
                written = cfg.model.input_shape or (cfg.model.inputs[0].shape if cfg.model.inputs else None)
                if written and tuple(written) != tuple(shape):
                    front = None  # the dataset only stands in (validate --build): the written shape is the input
            steps = None
    except DataError as exc:
        key = "path" if cfg.dataset.path else "name"
        where = loaded.source.locate(("dataset", key))
        raise DataError(f"{where or loaded.file}: dataset.{key}: {exc}") from None
    if splits is not None:
        front = splits.preprocessor if getattr(splits.preprocessor, "in_model", False) else None
    with distribution.scope():  # variables are mirrored / laid out over the devices as they are made
        model = build_for(cfg, keras, shape, classes, steps, loaded.source.locate, plan, front, class_steps(splits))
    if splits is not None:
        from expkit.model.adapt import adapt_layers
        adapt_layers(model, cfg, splits)  # TextVectorization's vocabulary: from the training split only
    return Prepared(keras, plan, distribution.describe(device_name), splits, model, distribution)


def _shape(splits):
    """One sample's shape, or {input name: shape} for named arrays."""
    x = splits.x_train
    return getattr(x, "shapes", None) or splits.input_shape


def build_for(cfg, keras, data_shape, num_classes, steps_per_epoch, locate, plan: DevicePlan, front=None,
              label_steps: int | None = None):
    from expkit.model.budget import check_model_size
    from expkit.model.builder import build_model
    if isinstance(data_shape, dict):  # named arrays: each input its own, unless the config writes it
        shapes = {i.name: tuple(i.shape) if i.shape else data_shape.get(i.name) for i in cfg.model.inputs}
    else:
        shapes = input_shapes_for(cfg, tuple(data_shape) if data_shape else None, locate)
    check_model_size(lambda: build_model(cfg, shapes, locate=locate, compile=False), cfg,
                     cfg.training.batch_size, locate)  # before a weight is allocated
    model = build_model(cfg, shapes, steps_per_epoch=steps_per_epoch, locate=locate,
                        jit_compile=plan.jit_compile, front=front)
    check_outputs(cfg, model, num_classes, locate, label_steps)
    return model


def _steps(splits, cfg: ExperimentConfig) -> int:
    return max(1, -(-len(splits.x_train) // cfg.training.batch_size))


def _jax_version(cfg: ExperimentConfig) -> dict:
    if cfg.training.backend != "jax":
        return {}
    import jax
    return {"jax": jax.__version__}


_STOP_REQUESTED = {"signal": None}


def _interrupt_on_sigterm() -> None:
    """SIGTERM (and Ctrl-C) stop training as KeyboardInterrupt. The signal is remembered, because code it
    lands in (a TensorFlow op, a data pipeline) may turn the interrupt into another exception on its
    way out: that run was still stopped, not failed."""
    def handler(signum, frame):
        _STOP_REQUESTED["signal"] = signum
        raise KeyboardInterrupt
    try:
        signal.signal(signal.SIGTERM, handler)
        if signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            signal.signal(signal.SIGINT, handler)
    except ValueError:  # not the main thread
        pass


def train(loaded: LoadedConfig, runs_dir: Path, run_dir: Path | None = None) -> Path:
    """Train and evaluate; returns the run folder (a new one in `runs_dir`, or exactly `run_dir`, which
    must not hold a run yet: a sweep names its children's folders). Raises TrainingFailed or
    KeyboardInterrupt after recording the outcome in run.json."""
    cfg = loaded.config
    started = now()
    ready = prepare(loaded)
    keras, splits, model = ready.keras, ready.splits, ready.model
    outputs = list(cfg.model.outputs or [])
    if len(outputs) > 1 and not isinstance(splits.y_train, dict):
        # Found before the run folder exists: a bad input leaves nothing behind.
        raise DataError(f"{loaded.file}: model.outputs: the model has {len(outputs)} outputs ({', '.join(outputs)}) "
                        f"but dataset '{cfg.dataset.name}' gives one target per sample: use an .npz file with one "
                        f"array per input and output ({', '.join(f'{o}_train' for o in outputs)}, ...)")
    import tensorflow as tf
    identity, fingerprint = identify(cfg)  # what a sweep matches this run by (config keys, data content)
    try:
        if run_dir is None:
            run_dir = create_run_dir(Path(runs_dir), cfg.experiment.name, started)
        else:
            run_dir = Path(run_dir)
            run_dir.mkdir(parents=True, exist_ok=True)  # a sweep made it, to put train.log in it
            if RunFolder(run_dir).is_run:
                raise ExpkitError(f"{run_dir}: already holds a run (run.json); give a new folder, or "
                                  f"`expkit resume {run_dir}` to continue it")
        folder = RunFolder(run_dir)
        write_atomic(folder.config_yaml, loaded.to_yaml())
        # The same resolved config as JSON: compare reads thousands of runs, and JSON parses ~50x faster.
        write_json(folder.config_json, resolved_data(cfg))
        record = RunRecord(run_dir, cfg.experiment.name, cfg.experiment.seed, started, ready.device_name,
                           {"tensorflow": tf.__version__, "keras": keras.__version__, **_jax_version(cfg)},
                           details={**ready.distribution.record(cfg.training.backend), "identity": identity,
                                    "data_fingerprint": fingerprint, **trial_record(trial_from_env(), "running")},
                           config_file=loaded.file)
    except OSError as exc:
        raise ExpkitError(f"{run_dir or runs_dir}: cannot write the run folder ({exc.strerror or exc}): "
                          "give a writable --runs-dir with free space") from None
    print(f"run folder: {run_dir}\ndevice: {ready.device_name}; {model.count_params():,} parameters; "
          f"{len(splits.x_train):,} training samples", flush=True)
    return _attempt(ready, cfg, run_dir, record, None)


def resume(run_dir: Path) -> Path:
    """Continue an interrupted, killed (stale) or failed run in its own folder, from the end of its last
    finished epoch (its state.npz), with the config it was started with (its config.yaml)."""
    from expkit.config import load_config
    from expkit.runstore import clean_temp_files, read_run
    from expkit.training.state import load_state
    run_dir = Path(run_dir)
    run = read_run(run_dir)
    if run.status == "completed":
        raise ExpkitError(f"{run_dir}: the run already completed; nothing to resume")
    if run.status == "running":
        raise ExpkitError(f"{run_dir}: the run is still running (pid {run.info.get('pid')} on "
                          f"{run.info.get('host')}); stop it first, or wait for it to end")
    folder = RunFolder(run_dir)
    _hold_resume_lock(run_dir)
    loaded = load_config(folder.config_yaml)
    started = now()
    ready = prepare(loaded)
    clean_temp_files(run_dir)  # what a kill during a save left behind
    state = load_state(folder.state_file)
    try:
        record = RunRecord.reopen(run_dir, started, initial_epoch=state.epoch if state else 0)
    except OSError as exc:
        raise ExpkitError(f"{folder.run_json}: cannot write ({exc.strerror or exc}): free some space or make "
                          "the folder writable") from None
    print(f"run folder: {run_dir}\nresuming {run.status} run from "
          + (f"the end of epoch {state.epoch}" if state else "the start (no epoch had finished)"), flush=True)
    return _attempt(ready, loaded.config, run_dir, record, state)


_locks: list = []  # open lock files, held until this process ends


def _hold_resume_lock(run_dir: Path) -> None:
    """One `expkit resume` of a run at a time: an flock on .resume.lock, released when this process ends
    (however it ends)."""
    import fcntl
    try:
        lock = open(run_dir / ".resume.lock", "a")
    except OSError as exc:
        raise ExpkitError(f"{run_dir}: cannot write in the run folder ({exc.strerror or exc}): make it writable "
                          "to resume the run") from None
    try:
        fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        lock.close()
        raise ExpkitError(f"{run_dir}: another `expkit resume` of this run is under way; wait for it") from None
    _locks.append(lock)


def _attempt(ready: Prepared, cfg: ExperimentConfig, run_dir: Path, record: RunRecord, state) -> Path:
    from expkit.tracking.mlflow_live import start_live_tracking
    live = start_live_tracking(cfg, run_dir)  # tracking.mlflow: params now, each epoch, the outcome at the end
    try:
        return _fit_and_record(ready, cfg, run_dir, record, state, live)
    finally:
        if live is not None:
            live.finish()  # run.json holds the outcome by now, whatever it is


def _fit_and_record(ready: Prepared, cfg: ExperimentConfig, run_dir: Path, record: RunRecord, state, live) -> Path:
    folder = RunFolder(run_dir)
    _interrupt_on_sigterm()
    try:
        if state is None and len(record.data["attempts"]) == 1:
            from expkit.tracking.hparams import log_run_hparams, sweep_hparams_from_env
            log_run_hparams(run_dir, *sweep_hparams_from_env())  # the HParams dashboard's row for this run
        results = fit_and_evaluate(ready, cfg, run_dir, state, live)
    except KeyboardInterrupt:
        _finish(record, "interrupted", error="interrupted (Ctrl-C or SIGTERM)", **_trial_state(record, "interrupted"))
        raise
    except Exception as exc:  # a training failure is recorded, whatever it is
        if _STOP_REQUESTED["signal"] is not None:  # an interrupt that surfaced as another exception
            _finish(record, "interrupted", error=f"interrupted (signal {_STOP_REQUESTED['signal']}; "
                    f"{type(exc).__name__} on the way out)", **_trial_state(record, "interrupted"))
            raise KeyboardInterrupt from exc
        note = _finish(record, "failed", error=f"{type(exc).__name__}: {exc}", **_trial_state(record, "failed"))
        raise TrainingFailed(f"training failed: {type(exc).__name__}: {exc} "
                             + (note or f"(recorded in {folder.run_json}; `expkit resume {run_dir}` continues it)")) from exc
    # Pruned by a search: stopped early on purpose, not a failure; its results are real.
    status = "pruned" if results.get("pruned_at_epoch") else "completed"
    note = _finish(record, status, epochs_run=results["epochs_run"], **_trial_state(record, status))
    if note:
        raise TrainingFailed(f"training completed but {note}")
    from expkit.tracking.tensorboard import write_run_text
    write_run_text(run_dir)  # the resolved config and the final run.json, in TensorBoard's text tab
    if not cfg.training.keep_state:
        folder.state_file.unlink(missing_ok=True)
    return run_dir


def _trial_state(record: RunRecord, status: str) -> dict:
    """A search trial's run.json entry follows the run's status (tracking.trial)."""
    trial = record.data.get("trial")
    return {"trial": {**trial, "state": status}} if trial else {}


def _finish(record: RunRecord, status: str, **fields) -> str | None:
    """Record the outcome; on a disk-full or read-only error, a note saying so instead of a traceback."""
    try:
        record.finish(status, **fields)
    except OSError as exc:
        return f"(run.json could not be updated: {exc.strerror or exc})"
    return None
