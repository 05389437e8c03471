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

DEFAULT_KEYS, logged by a run outside a sweep (a sweep's runs log its varying keys): the optimizer, its
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
import math
import os
import types
import typing
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import annotated_types
from pydantic import BaseModel, Discriminator, Tag

from expkit.config.experiment import ExperimentConfig

LR_KEY = "compile.optimizer.learning_rate"
SCHEDULE_KEY = "compile.optimizer.learning_rate.schedule"
LAYERS_KEY = "model.num_layers"
DEFAULT_KEYS = ("compile.optimizer.name", LR_KEY, SCHEDULE_KEY, "compile.loss.name", "training.batch_size",
                "training.epochs", "experiment.seed", LAYERS_KEY, "model.regularization.l1",
                "model.regularization.l2", "model.regularization.dropout", "model.regularization.batch_norm",
                "model.initializer.name", "dataset.name")
SWEEP_ENV = "EXPKIT_SWEEP_HPARAMS"  # set by `expkit sweep` for each training process
HPARAMS_SUFFIX = ".hparams"         # tb/events.out.tfevents.*.hparams holds the session summary
BOUNDS = {annotated_types.Gt: "gt", annotated_types.Ge: "ge", annotated_types.Lt: "lt", annotated_types.Le: "le"}
Domain = dict  # {"values": [...]} or {"min": lo, "max": hi}


def keras_default_learning_rate(optimizer: str) -> float:
    """Keras' own default, for a config that leaves learning_rate unset (checked in the tests)."""
    return 0.01 if optimizer == "sgd" else 0.001


# ---- values -------------------------------------------------------------------------------------

def _lookup(data: Any, key: str) -> Any:
    for part in key.split("."):
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _peak_rate(schedule: dict) -> float | None:
    if schedule.get("schedule") == "piecewise_constant":
        return max(schedule["values"])
    names = ("warmup_target", "initial_learning_rate", "learning_rate", "max_learning_rate")
    return next((schedule[n] for n in names if schedule.get(n) is not None), None)


def config_value(config: dict, key: str) -> Any:
    """The value of a dotted key in a resolved config, the derived keys of DEFAULT_KEYS included."""
    if key == LAYERS_KEY:
        return len(_lookup(config, "model.layers") or [])
    rate = _lookup(config, LR_KEY)
    if key == SCHEDULE_KEY:
        return rate["schedule"] if isinstance(rate, dict) else "constant"
    if key == LR_KEY and isinstance(rate, dict):
        return _peak_rate(rate)
    if key == LR_KEY and rate is None:
        return keras_default_learning_rate(_lookup(config, "compile.optimizer.name"))
    return _lookup(config, key)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def hparam_value(value: Any, domain: Domain | None = None) -> bool | int | float | str | None:
    """A value TensorBoard accepts (bool, int, float, str) of its domain's type; lists and mappings as
    text. None stays None: the key is left out of that run."""
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()  # numpy scalars
    if value is None or not isinstance(value, (bool, int, float, str)):
        return None if value is None else _text(value)
    items = (domain or {}).get("values") or [(domain or {}).get("min")]
    if isinstance(items[0], str):
        return _text(value)
    if _is_number(items[0]) and _is_number(value):
        return int(value) if isinstance(items[0], int) and float(value).is_integer() else float(value)
    return value


def _discrete(values) -> Domain | None:
    """Distinct values of one type: bools, numbers (floats if any is), or else all as text."""
    vals = [hparam_value(v) for v in values if v is not None]
    if vals and all(_is_number(v) for v in vals) and any(isinstance(v, float) for v in vals):
        vals = [float(v) for v in vals]
    elif not (all(isinstance(v, bool) for v in vals) or all(_is_number(v) for v in vals)):
        vals = [_text(v) for v in vals]
    return {"values": sorted(set(vals))} if vals else None


def _interval(low, high, integer: bool) -> Domain:
    return {"min": int(low), "max": int(high)} if integer else {"min": float(low), "max": float(high)}


# ---- domains from the schema --------------------------------------------------------------------

def _members(tp, meta=()) -> list[tuple[Any, tuple]]:
    """Each alternative of a type with its metadata: Annotated unwrapped, unions flattened, None dropped."""
    origin = typing.get_origin(tp)
    if origin is typing.Annotated:
        base, *extra = typing.get_args(tp)
        return _members(base, (*meta, *extra))
    if origin is typing.Union or origin is types.UnionType:
        return [m for arg in typing.get_args(tp) for m in _members(arg, meta)]
    return [] if tp is type(None) else [(tp, tuple(meta))]


def _is_model(tp) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _shape(tp) -> str:
    if _is_model(tp) or tp is dict or typing.get_origin(tp) is dict:
        return "mapping"
    return "list" if typing.get_origin(tp) in (list, tuple) else "scalar"


def _fits(tp, meta, data: dict) -> bool:
    """Whether a union member is the one a mapping picks: by the layer union's tag, or the schedule's kind."""
    tag = next((m.tag for m in meta if isinstance(m, Tag)), None)
    pick = next((m.discriminator for m in meta if isinstance(m, Discriminator)), None)
    if tag is not None and callable(pick):
        return pick(data) == tag
    field = next((m.discriminator for m in meta if isinstance(getattr(m, "discriminator", None), str)), None)
    if field and _is_model(tp) and field in tp.model_fields:
        return data.get(field) in typing.get_args(tp.model_fields[field].annotation)
    return True


def _narrow(members: list, data: Any) -> list:
    """The alternatives that fit the config's value here (its shape, then its member of a
    discriminated union); all of them when none fits."""
    if data is None:
        return members
    shape = "mapping" if isinstance(data, dict) else "list" if isinstance(data, list) else "scalar"
    kept = [m for m in members if _shape(m[0]) == shape] or members
    return ([m for m in kept if _fits(*m, data)] or kept) if shape == "mapping" else kept


def schema_types(key: str, config: dict | None = None) -> list[tuple[Any, tuple]]:
    """The types (with their bounds metadata) the schema allows at a dotted key, walking the pydantic
    models from ExperimentConfig, list items by index. At a union (layer types, schedules) the config's
    value picks the member; without a config, every member that has the key counts."""
    current, data = [(ExperimentConfig, ())], config
    for part in key.split("."):
        following = []
        for tp, meta in _narrow([m for t, x in current for m in _members(t, x)], data):
            origin, args = typing.get_origin(tp), [a for a in typing.get_args(tp) if a is not Ellipsis]
            if origin in (list, tuple) and part.isdigit():
                if origin is list or len(args) == 1:
                    following.append((args[0], ()))
                elif int(part) < len(args):
                    following.append((args[int(part)], ()))
            elif _is_model(tp) and part in tp.model_fields:
                field = tp.model_fields[part]
                following.append((field.annotation, tuple(field.metadata)))
        if not following:
            return []
        current, data = following, _lookup(data, part)
    return [m for t, x in current for m in _members(t, x)]


def _bounds(tp, meta) -> tuple[float | None, float | None]:
    low = high = None
    step = 1 if tp is int else 0  # an exclusive bound on an int moves to the next int
    for item in meta:
        kind = BOUNDS.get(type(item))
        if kind in ("gt", "ge"):
            low = getattr(item, kind) + (step if kind == "gt" else 0)
        elif kind in ("lt", "le"):
            high = getattr(item, kind) - (step if kind == "lt" else 0)
    return low, high


def _schema_domain(members: list, values: list) -> Domain | None:
    if members and all(typing.get_origin(tp) is Literal or tp is bool for tp, _ in members):
        return _discrete(v for tp, _ in members for v in (typing.get_args(tp) if tp is not bool else (False, True)))
    if not members or not all(tp in (int, float) for tp, _ in members):
        return None
    ends = [_bounds(tp, meta) for tp, meta in members]
    low = None if any(lo is None for lo, _ in ends) else min(lo for lo, _ in ends)
    high = None if any(hi is None for _, hi in ends) else max(hi for _, hi in ends)
    seen = [v for v in values if _is_number(v) and math.isfinite(v)]
    if seen:  # an open end takes the values seen: a RealInterval needs finite ends
        low = min(seen) if low is None else min(low, *seen)
        high = max(seen) if high is None else max(high, *seen)
    if low is None or high is None:
        return None
    return _interval(low, high, integer=all(tp is int for tp, _ in members))


def domain_for(key: str, values=(), *, sweep: Domain | None = None, config: dict | None = None) -> Domain | None:
    """The HParams domain of a dotted key, or None (an hparam without a domain).

    `sweep` (a grid's {"values": [...]} or a random range's {"min", "max"}) overrides the schema.
    Otherwise the config schema decides: Literal and bool fields give every allowed value; int and float
    fields their bounds (ge/gt/le/lt), an open end replaced by the extreme of `values` (the values seen);
    anything else (free text, mappings, mixed unions) none. `config` picks the member of a union on the
    way (the layer's type, the schedule's kind); a path it lacks takes every member that has it."""
    values = [hparam_value(v) for v in values]
    if sweep is not None:
        if "values" in sweep:
            return _discrete(sweep["values"])
        return _interval(sweep["min"], sweep["max"], all(isinstance(v, int) and _is_number(v)
                                                          for v in [sweep["min"], sweep["max"], *values]))
    if key == LAYERS_KEY:
        field = ExperimentConfig.model_fields["model"].annotation.model_fields["layers"]
        low = next((m.min_length for m in field.metadata if isinstance(m, annotated_types.MinLen)), 0)
        return _interval(low, max([low, *values]), integer=True)
    members = schema_types(key, config) or schema_types(key)
    if values and all(isinstance(v, (bool, int, float, str)) for v in values):
        members = [m for m in members if _shape(m[0]) == "scalar"]
    domain = _schema_domain(members, values)
    if key == SCHEDULE_KEY and domain is not None:
        domain = _discrete(["constant", *domain["values"]])
    return domain


# ---- what a run logs ----------------------------------------------------------------------------

def hparams_for_run(config: dict, sweep_keys: list[str] | None = None,
                    sweep_domains: dict | None = None) -> tuple[dict, dict]:
    """(values, domains) for a resolved config: the sweep's varying keys for a sweep's run, else
    DEFAULT_KEYS. A key whose value is unset (None) is left out."""
    values, domains = {}, {}
    for key in sweep_keys or DEFAULT_KEYS:
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
    compiled metrics, under the names Keras logs them by, in `train` and `validation`."""
    from expkit.model.compiling import METRIC_CLASSES  # plain data; imports no Keras
    names = ["loss"] + [METRIC_CLASSES.get(m, (None, m))[1] for m in _lookup(config, "compile.metrics") or []]
    return [(f"epoch_{name}", group) for name in dict.fromkeys(names) for group in ("train", "validation")]


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
    from expkit.tfenv import quiet_native_stderr
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
    return any((Path(run_dir) / "tb").glob(f"*tfevents*{HPARAMS_SUFFIX}"))


def log_run_hparams(run_dir: Path, sweep_keys: list[str] | None = None, sweep_domains: dict | None = None) -> bool:
    """Log a run folder's hyperparameters for the HParams dashboard, from its config.json (the trainer
    calls this; it works on old runs too). False, writing nothing, when the run already has them."""
    from expkit.runs import read_run
    run_dir = Path(run_dir)
    if has_hparams(run_dir):
        return False
    run = read_run(run_dir)
    values, domains = hparams_for_run(run.config, sweep_keys, sweep_domains)
    started = run.info.get("start_time")
    (run_dir / "tb").mkdir(exist_ok=True)
    write_hparams(run_dir / "tb", values, domains, metrics_for(run.config), trial_id=run.id,
                  start_time_secs=datetime.fromisoformat(started).timestamp() if started else None)
    return True
