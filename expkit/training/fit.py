"""model.fit, test evaluation, the saved model and results.json for one prepared run (a new one, or
one resumed from its training state)."""
from __future__ import annotations

import math
import sys
import time
from pathlib import Path

from expkit.config.experiment import ExperimentConfig
from expkit.runstore import RunFolder, read_metrics, save_atomic, write_json
from expkit.training.checks import column_inputs
from expkit.training.results import epoch_results


def fit_and_evaluate(ready, cfg: ExperimentConfig, run_dir: Path, state=None, live=None) -> dict:
    """Train (from `state`, a TrainingState, when resuming), evaluate, save; returns results.json's data.
    `live`: a tracker logging each epoch (tracking.mlflow_live)."""
    from expkit.training.callbacks import make_callbacks
    from expkit.training.state import make_state_saver, restore_variables
    from expkit.data import make_pipelines
    from expkit.data.pipeline import epoch_keyed_train_pipeline
    from expkit.data.multi import NamedArrays, make_named_pipelines
    keras, splits, model = ready.keras, ready.splits, ready.model
    folder = RunFolder(run_dir)
    if isinstance(splits.x_train, NamedArrays):  # one array per named model input and output
        train_ds, val_ds, test_ds = make_named_pipelines(
            splits, cfg.training.batch_size, cfg.experiment.seed, shuffle=cfg.training.shuffle,
            shuffle_buffer=cfg.dataset.shuffle_buffer)
    else:
        train_ds, val_ds, test_ds = make_pipelines(
            splits, cfg.training.batch_size, cfg.experiment.seed, cache=cfg.dataset.cache,
            shuffle=cfg.training.shuffle, shuffle_buffer=cfg.dataset.shuffle_buffer,
            input_names=column_inputs(cfg, splits), cache_dir=cfg.dataset.cache_dir)
    train_ds, val_ds, test_ds = ready.distribution.even_batches(
        (train_ds, val_ds, test_ds), [None if x is None else len(x) for x in (splits.x_train, splits.x_val, splits.x_test)])
    verbose = cfg.training.verbose
    if verbose == "auto":
        verbose = 1 if sys.stdout.isatty() else 2
    initial_epoch = state.epoch if state is not None else 0
    callbacks = make_callbacks(keras, cfg.training.callbacks, run_dir, initial_epoch, live)
    saver = make_state_saver(keras, folder.state_file, state)
    saver.all_callbacks = list(callbacks)
    epochs = cfg.training.epochs
    if state is not None:
        restore_variables(model, state, folder.state_file)
        if state.stop_training:  # a callback had stopped the run: fit only ends it (restores best weights)
            epochs = initial_epoch
        print(f"resuming at epoch {initial_epoch + 1} of {cfg.training.epochs}", flush=True)
    steps = None
    if (cfg.training.deterministic and cfg.training.shuffle and getattr(splits, "decoding", None) is None
            and not isinstance(splits.x_train, NamedArrays)):
        # Each epoch's order from (seed, epoch) alone, so a resumed run sees the same batches as one never
        # interrupted; the default pipeline's reshuffles cannot be replayed from an epoch number.
        train_ds, steps = epoch_keyed_train_pipeline(splits, cfg.training.batch_size, cfg.experiment.seed,
                                                     initial_epoch, max(epochs, initial_epoch + 1),
                                                     column_inputs(cfg, splits))
        train_ds = ready.distribution.even_batches((train_ds,), [len(splits.x_train)])[0]
    with ready.distribution.placement():
        t0 = time.perf_counter()
        # shuffle=False: the tf.data pipeline already reshuffles every epoch with the seed.
        history = model.fit(train_ds, validation_data=val_ds, epochs=epochs, initial_epoch=initial_epoch,
                            steps_per_epoch=steps, callbacks=[*callbacks, saver], verbose=verbose, shuffle=False,
                            class_weight=getattr(splits, "class_weight", None))
        seconds = time.perf_counter() - t0
        test = model.evaluate(test_ds, return_dict=True, verbose=0) if test_ds is not None else {}
    last_loss = history.history.get("loss", [0.0])[-1] if history.history else 0.0
    if not math.isfinite(last_loss):
        raise FloatingPointError(f"the loss became {last_loss} (NaN or infinite): lower the learning rate "
                                 "or check the data's scaling")
    save_atomic(folder.model_file, model.save)  # a kill mid-save leaves the old file or none, never half
    if splits.preprocessor is not None:  # predict and serve prepare new inputs with it
        write_json(folder.preprocessing_json, splits.preprocessor.to_json())
    elif getattr(splits, "named_unit_scaled", None) is not None:  # named arrays: which inputs were / 255
        write_json(folder.preprocessing_json, {"named_inputs": True, "unit_scaled": list(splits.named_unit_scaled)})
    pruned_at = next((cb.pruned_at_epoch for cb in callbacks if getattr(cb, "pruned_at_epoch", None)), None)
    rows = read_metrics(folder.metrics_csv)
    epochs_run = len(rows)
    fitted = len(history.epoch)
    results = {
        **epoch_results(rows, callbacks),
        "test": {k: float(v) for k, v in test.items()},
        "params": int(model.count_params()),
        "epochs_run": epochs_run,
        "training_seconds": round(seconds, 3),
        "samples_per_second": round(len(splits.x_train) * fitted / seconds, 1) if seconds and fitted else None,
        "samples": {"train": len(splits.x_train), "val": 0 if splits.x_val is None else len(splits.x_val),
                    "test": 0 if splits.x_test is None else len(splits.x_test)},
        "data_source": splits.source,
        **({"pruned_at_epoch": pruned_at} if pruned_at else {}),
    }
    if getattr(splits, "class_weight", None):
        names = splits.class_names or [str(i) for i in range(len(splits.class_weight))]
        results["class_weight"] = {names[i]: round(w, 6) for i, w in splits.class_weight.items()}
    if initial_epoch:
        results["resumed_at_epoch"] = initial_epoch + 1  # training_seconds covers this attempt only
    write_json(folder.results_json, results)
    from expkit.tracking.tensorboard import write_end_images, write_test_scalars
    write_test_scalars(run_dir, results["test"], step=epochs_run - 1)  # beside the last epoch's scalars
    write_end_images(run_dir, model, splits, step=epochs_run - 1)
    summary = ", ".join(f"{split} {k} {v:.4f}" for split in ("val", "test") for k, v in results[split].items())
    print(f"done in {seconds:.1f} s ({results['samples_per_second']} samples/s); {summary}", flush=True)
    return results
