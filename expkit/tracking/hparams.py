"""TensorBoard HParams for run folders: what each run logs, and where.

Where the summaries go (tensorboard/plugins/hparams/backend_context.py and list_session_groups.py,
TensorBoard 2.21, checked against a live server with both loaders):

- The session start summary (`hp.hparams`) goes in the run's log dir, `runs/<run>/tb`: that run is then
  one session, and the scalars of the runs below it are its metrics, group = subfolder (`train`,
  `validation`), tag = scalar tag (`epoch_loss`, `epoch_accuracy`, ...).
- The experiment summary (`hp.hparams_config`: hparams, domains, metrics) is read once per logdir:
  with several, the plugin takes the first run's (by name) for every session, so hparams and metrics
  that only other runs have vanish (also tensorflow/tensorboard#5596). With none, it builds the
  experiment from all sessions: the union of their hparams, one type per hparam, domains from the
  values seen (strings, bools: the distinct values; numbers: [min, max]) and every scalar tag in the
  sessions' subfolders as a metric. Schema domains do not survive that.

So a run folder gets the session summary only, in a file of its own (`tb/*.hparams`): `tensorboard
--logdir runs` shows single runs and sweep runs together, `tensorboard --logdir runs/<sweep>` one
sweep; a summary per run or per sweep would break the first. `write_hparams(experiment_dir=...)`
adds the experiment summary (schema and sweep domains, exactly our metrics) for a logdir holding only
the runs it describes (a copy of one sweep), never inside `runs/`.

DEFAULT_KEYS, logged by every run (a sweep's runs add the keys it varies): the optimizer, its
learning rate (constant, or a schedule's peak; Keras' default when unset) and the schedule's kind
("constant" without one), the loss, batch size, epochs, seed, number of layers (`model.num_layers`),
model-wide l1/l2/dropout/batch_norm, the initializer and the dataset: what differs between single runs
of one task. Each hparam has one type in every run, as TensorBoard turns a column of mixed types into
text for all runs (no interval, no numeric axis): hence the rate and the schedule kind apart.

Domains are plain data in the sweep's format ({"values": [...]} or {"min": a, "max": b}, ints for an
integer interval): importing the hparams API imports TensorFlow (3-4 s), so only the writers do.
"""
from __future__ import annotations

import json
import os
from datetime import datetime
from pathlib import Path
from typing import Any

from expkit.runstore import RunFolder, read_run
from expkit.tracking.domains import (  # noqa: F401  (domain_for, hparam_value, schema_types: re-exported)
    LAYERS_KEY, LR_KEY, SCHEDULE_KEY, Domain, domain_for, lookup, hparam_value, schema_types)

DEFAULT_KEYS = ("compile.optimizer.name", LR_KEY, SCHEDULE_KEY, "compile.loss.name", "training.batch_size",
                "training.epochs", "experiment.seed", LAYERS_KEY, "model.regularization.l1",
                "model.regularization.l2", "model.regularization.dropout", "model.regularization.batch_norm",
                "model.initializer.name", "dataset.name")
SWEEP_ENV = "EXPKIT_SWEEP_HPARAMS"  # set by `expkit sweep` for each training process
HPARAMS_SUFFIX = ".hparams"         # tb/events.out.tfevents.*.hparams holds the session summary


def keras_default_learning_rate(optimizer: str) -> float:
    """Keras' own default, for a config that leaves learning_rate unset (checked in the tests)."""
    return 0.01 if optimizer == "sgd" else 0.001


# ---- values -------------------------------------------------------------------------------------

def _peak_rate(schedule: dict) -> float | None:
    if schedule.get("schedule") == "piecewise_constant":
        return max(schedule["values"])
    names = ("warmup_target", "initial_learning_rate", "learning_rate", "max_learning_rate")
    return next((schedule[n] for n in names if schedule.get(n) is not None), None)


def config_value(config: dict, key: str) -> Any:
    """The value of a dotted key in a resolved config, the derived keys of DEFAULT_KEYS included."""
    if key == LAYERS_KEY:
        return len(lookup(config, "model.layers") or [])
    rate = lookup(config, LR_KEY)
    if key == SCHEDULE_KEY:
        return rate["schedule"] if isinstance(rate, dict) else "constant"
    if key == LR_KEY and isinstance(rate, dict):
        return _peak_rate(rate)
    if key == LR_KEY and rate is None:
        return keras_default_learning_rate(lookup(config, "compile.optimizer.name"))
    return lookup(config, key)


# ---- what a run logs ----------------------------------------------------------------------------

def hparams_for_run(config: dict, sweep_keys: list[str] | None = None,
                    sweep_domains: dict | None = None) -> tuple[dict, dict]:
    """(values, domains) for a resolved config: DEFAULT_KEYS, then a sweep's varying keys for a sweep's
    run (every run of one logdir has the same columns filled). A key whose value is unset (None) is left out."""
    values, domains = {}, {}
    for key in dict.fromkeys([*DEFAULT_KEYS, *(sweep_keys or [])]):
        raw = config_value(config, key)
        if raw is None:
            continue
        domain = domain_for(key, [raw], sweep=(sweep_domains or {}).get(key), config=config)
        values[key] = hparam_value(raw, domain)
        if domain is not None:
            domains[key] = domain
    return values, domains


def metrics_for(config: dict) -> list[tuple[str, str]]:
    """(tag, group) of each scalar Keras' TensorBoard callback writes per epoch: the loss and the
    compiled metrics, under the names Keras logs them by, in `train` and `validation`, and the test
    metrics the trainer writes under `test` (tracking/tensorboard.py)."""
    from expkit.model.compiling import logged_metric_names  # plain data; imports no Keras
    names = ["loss"] + logged_metric_names(lookup(config, "compile"))
    return [(f"epoch_{name}", group) for name in dict.fromkeys(names) for group in ("train", "validation", "test")]


def sweep_hparams_from_env(environ=None) -> tuple[list[str] | None, dict | None]:
    """The keys and domains `expkit sweep` passes to each training process; (None, None) outside one."""
    raw = (os.environ if environ is None else environ).get(SWEEP_ENV)
    if not raw:
        return None, None
    try:
        data = json.loads(raw)
        return list(data["keys"]), dict(data.get("domains") or {})
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"{SWEEP_ENV} must hold JSON like {{\"keys\": [...], \"domains\": {{...}}}}, "
                         f"got {raw[:200]!r} ({exc})") from None


# ---- writing ------------------------------------------------------------------------------------

def _hparams_api():
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from expkit.backend import quiet_native_stderr
    with quiet_native_stderr():
        import tensorflow as tf
        from tensorboard.plugins.hparams import api as hp
        tf.config.list_physical_devices("GPU")  # the CUDA probe logs here once, not at the first write
    return tf, hp


def as_hp_domain(domain: Domain | None):
    """hp.Discrete, hp.IntInterval or hp.RealInterval for a domain; None for None."""
    if domain is None:
        return None
    _, hp = _hparams_api()
    if "values" in domain:
        return hp.Discrete(domain["values"])
    if isinstance(domain["min"], int) and isinstance(domain["max"], int):
        return hp.IntInterval(domain["min"], domain["max"])
    return hp.RealInterval(float(domain["min"]), float(domain["max"]))


def write_hparams(tb_dir: Path, values: dict[str, Any], domains: dict[str, Any] | None = None,
                  metrics: list | None = None, trial_id: str | None = None, *,
                  experiment_dir: Path | None = None, start_time_secs: float | None = None) -> None:
    """Write a run's session summary (`hp.hparams`) into `tb_dir`, the folder above its `train` and
    `validation` event folders; values take their domain's type. `trial_id` names the session group
    (default: a hash of the values). The experiment summary (`hp.hparams_config` with the domains and
    `metrics`, (tag, group) pairs or hp.Metric) goes to `experiment_dir` only when given: the root of
    a logdir holding nothing but the runs it describes (module docstring: never inside `runs/`)."""
    tf, hp = _hparams_api()
    domains = domains or {}
    clean = {k: hparam_value(v, domains.get(k)) for k, v in values.items()}
    clean = {k: v for k, v in clean.items() if v is not None}
    writer = tf.summary.create_file_writer(str(tb_dir), filename_suffix=HPARAMS_SUFFIX)
    with writer.as_default():
        hp.hparams(clean, trial_id=trial_id, start_time_secs=start_time_secs)
    writer.close()
    if experiment_dir is not None:
        hparams = [hp.HParam(k, as_hp_domain(domains.get(k))) for k in clean]
        metric_list = [m if isinstance(m, hp.Metric) else hp.Metric(m[0], group=m[1]) for m in metrics or []]
        writer = tf.summary.create_file_writer(str(experiment_dir), filename_suffix=HPARAMS_SUFFIX)
        with writer.as_default():
            hp.hparams_config(hparams=hparams, metrics=metric_list)
        writer.close()


def has_hparams(run_dir: Path) -> bool:
    return any(RunFolder(run_dir).tb_dir.glob(f"*tfevents*{HPARAMS_SUFFIX}"))


def log_run_hparams(run_dir: Path, sweep_keys: list[str] | None = None, sweep_domains: dict | None = None) -> bool:
    """Log a run folder's hyperparameters for the HParams dashboard, from its config.json (the trainer
    calls this; it works on old runs too). False, writing nothing, when the run already has them."""
    run_dir = Path(run_dir)
    if has_hparams(run_dir):
        return False
    run = read_run(run_dir)
    values, domains = hparams_for_run(run.config, sweep_keys, sweep_domains)
    started = run.info.get("start_time")
    tb_dir = RunFolder(run_dir).tb_dir
    tb_dir.mkdir(exist_ok=True)
    write_hparams(tb_dir, values, domains, metrics_for(run.config), trial_id=run.id,
                  start_time_secs=datetime.fromisoformat(started).timestamp() if started else None)
    return True
