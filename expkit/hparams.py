"""TensorBoard HParams for run folders: what each run logs, and where it goes.

Where the summaries go (read from tensorboard/plugins/hparams/backend_context.py and
list_session_groups.py, TensorBoard 2.21, and checked against a live server):

- The session start summary (`hp.hparams`) goes in the run's own log dir, `runs/<run>/tb`. TensorBoard
  then treats that run as one session, and the scalars of every run below it as its metrics: group =
  the subfolder (`train`, `validation`), tag = the scalar's tag (`epoch_loss`, `epoch_accuracy`).
- The experiment summary (`hp.hparams_config`) lists the hparams, their domains and the metrics. The
  plugin reads *one*: with several under a logdir it takes the first run's (by run name) and uses it
  for every session, so the hparams and metrics that only other runs have vanish from the dashboard
  (also tensorflow/tensorboard#5596). With none, it builds the experiment from all the sessions: the
  union of their hparams, the type each hparam's values share, domains from the values seen (strings
  and bools: the distinct values; numbers: the [min, max] seen), and as metrics every scalar tag in
  the sessions' subfolders.

So run folders get the session summary only, in a file of its own (`tb/*.hparams`). `tensorboard
--logdir runs` then shows every run, single runs and sweep runs together, and `tensorboard --logdir
runs/<sweep>` shows that sweep alone: an experiment summary written per run or per sweep would break
the first. The cost: domains are those seen, not the schema's. `write_hparams(experiment_dir=...)`
writes the full experiment summary (schema and sweep domains, exactly our metrics) for a logdir that
holds nothing but the runs it describes, such as a copy of one sweep; never inside `runs/`.

Every value is logged as bool, int, float or str, with the same type in every run: TensorBoard turns
an hparam whose values mix types into strings for all runs (no interval, no numeric axis). That is why
a learning-rate schedule logs its peak rate as `compile.optimizer.learning_rate` and its kind as
`compile.optimizer.learning_rate.schedule` ("constant" without one), instead of one mixed column.

Domains are plain data in the sweep's own format ({"values": [...]} or {"min": a, "max": b}; ints
for an integer interval), so computing them needs no TensorFlow: importing the hparams API imports
TensorFlow (3-4 s). Only the functions that write import it.
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

DEFAULT_KEYS = (
    "compile.optimizer.name",                      # all optimizers (Discrete)
    "compile.optimizer.learning_rate",             # the constant rate, or a schedule's peak; Keras' default if unset
    "compile.optimizer.learning_rate.schedule",    # "constant" or the schedule's kind
    "compile.loss.name",
    "training.batch_size",
    "training.epochs",
    "experiment.seed",
    "model.num_layers",                            # len(model.layers)
    "model.regularization.l1",
    "model.regularization.l2",
    "model.regularization.dropout",
    "model.regularization.batch_norm",
    "model.initializer.name",
    "dataset.name",
)
"""Logged for a run that is not part of a sweep: what usually differs between single runs. A sweep's
runs log the sweep's varying keys instead (`hparams_for_run`)."""

LR_KEY = "compile.optimizer.learning_rate"
SCHEDULE_KEY = "compile.optimizer.learning_rate.schedule"
LAYERS_KEY = "model.num_layers"
SWEEP_ENV = "EXPKIT_SWEEP_HPARAMS"  # set by `expkit sweep` for each training process
HPARAMS_SUFFIX = ".hparams"         # tb/events.out.tfevents.*.hparams holds the session summary
# Keras' own defaults, used when the config leaves learning_rate unset (checked in the tests).
KERAS_DEFAULT_LEARNING_RATE = {"sgd": 0.01}
KERAS_DEFAULT_LEARNING_RATE_OTHERS = 0.001
BOUNDS = {annotated_types.Gt: "gt", annotated_types.Ge: "ge", annotated_types.Lt: "lt", annotated_types.Le: "le"}

Domain = dict  # {"values": [...]} or {"min": lo, "max": hi}


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
    kind = schedule.get("schedule")
    if kind == "piecewise_constant":
        return max(schedule["values"])
    if kind == "cosine_decay" and schedule.get("warmup_target") is not None:
        return schedule["warmup_target"]
    for name in ("initial_learning_rate", "learning_rate", "max_learning_rate"):
        if schedule.get(name) is not None:
            return schedule[name]
    return None


def config_value(config: dict, key: str) -> Any:
    """The value of a dotted key in a resolved config, including the derived keys of DEFAULT_KEYS."""
    if key == LAYERS_KEY:
        return len(_lookup(config, "model.layers") or [])
    if key in (LR_KEY, SCHEDULE_KEY):
        rate = _lookup(config, LR_KEY)
        if key == SCHEDULE_KEY:
            return rate["schedule"] if isinstance(rate, dict) else "constant"
        if isinstance(rate, dict):
            return _peak_rate(rate)
        if rate is None:
            name = _lookup(config, "compile.optimizer.name")
            return KERAS_DEFAULT_LEARNING_RATE.get(name, KERAS_DEFAULT_LEARNING_RATE_OTHERS)
    return _lookup(config, key)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True, default=str)


def hparam_value(value: Any, domain: Domain | None = None) -> bool | int | float | str | None:
    """A value TensorBoard accepts (bool, int, float, str), of the type of its domain; None stays None
    (the key is then left out of that run)."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, (list, dict, str)):
        value = value.item()  # numpy scalars
    if not isinstance(value, (bool, int, float, str)):
        return _text(value)
    kind = _domain_type(domain) if domain else None
    if kind is str:
        return _text(value)
    if kind in (int, float) and isinstance(value, (int, float)) and not isinstance(value, bool):
        return int(value) if kind is int and float(value).is_integer() else float(value)
    return value


def _domain_type(domain: Domain) -> type:
    items = domain["values"] if "values" in domain else [domain["min"], domain["max"]]
    return type(items[0]) if items else str


def _discrete(values) -> Domain | None:
    """Distinct values of one type: bools, numbers (float if any is), or else all as text."""
    vals = [v.item() if hasattr(v, "item") else v for v in values if v is not None]
    if not vals:
        return None
    if all(isinstance(v, bool) for v in vals):
        pass
    elif all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals):
        if any(isinstance(v, float) for v in vals):
            vals = [float(v) for v in vals]
    else:
        vals = [_text(v) for v in vals]
    return {"values": sorted(set(vals))}


def _interval(low, high, integer: bool) -> Domain:
    if integer:
        return {"min": int(low), "max": int(high)}
    return {"min": float(low), "max": float(high)}


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
    origin = typing.get_origin(tp)
    if _is_model(tp) or origin is dict or tp is dict:
        return "mapping"
    return "list" if origin in (list, tuple) else "scalar"


def _narrow(members: list, data: Any) -> list:
    """Keep the alternatives that fit the config's value here: its shape, then the layer type or
    schedule kind that picks one member of a discriminated union. Nothing fits: keep them all."""
    if data is None:
        return members
    shape = "mapping" if isinstance(data, dict) else "list" if isinstance(data, list) else "scalar"
    kept = [m for m in members if _shape(m[0]) == shape] or members
    if shape != "mapping":
        return kept
    picked = []
    for tp, meta in kept:
        tag = next((m.tag for m in meta if isinstance(m, Tag)), None)
        disc = next((m for m in meta if isinstance(m, Discriminator)), None)
        field = next((m.discriminator for m in meta if isinstance(getattr(m, "discriminator", None), str)), None)
        if tag is not None and disc is not None and callable(disc.discriminator):
            if disc.discriminator(data) == tag:
                picked.append((tp, meta))
        elif field and _is_model(tp) and field in tp.model_fields:
            if data.get(field) in typing.get_args(tp.model_fields[field].annotation):
                picked.append((tp, meta))
        else:
            picked.append((tp, meta))
    return picked or kept


def schema_types(key: str, config: dict | None = None) -> list[tuple[Any, tuple]]:
    """The types (with bounds metadata) the config schema allows at a dotted key, walking the pydantic
    models from ExperimentConfig; list items by index. At a union (the layer types, the schedules) the
    config's value picks the member; without a config, every member that has the key counts."""
    current = [(ExperimentConfig, ())]
    data = config
    for part in key.split("."):
        following = []
        for tp, meta in _narrow([m for t, x in current for m in _members(t, x)], data):
            origin = typing.get_origin(tp)
            if origin in (list, tuple) and part.isdigit():
                args = [a for a in typing.get_args(tp) if a is not Ellipsis]
                if origin is list or len(args) == 1:
                    following.append((args[0], ()))
                elif int(part) < len(args):
                    following.append((args[int(part)], ()))
            elif _is_model(tp) and part in tp.model_fields:
                field = tp.model_fields[part]
                following.append((field.annotation, tuple(field.metadata)))
        if not following:
            return []
        current = following
        data = _lookup(data, part) if data is not None else None
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
    if not members:
        return None
    if all(typing.get_origin(tp) is Literal or tp is bool for tp, _ in members):
        allowed = [v for tp, _ in members for v in (typing.get_args(tp) if tp is not bool else (False, True))]
        return _discrete(allowed)
    if not all(tp in (int, float) for tp, _ in members):
        return None
    ends = [_bounds(tp, meta) for tp, meta in members]
    low = None if any(lo is None for lo, _ in ends) else min(lo for lo, _ in ends)
    high = None if any(hi is None for _, hi in ends) else max(hi for _, hi in ends)
    seen = [v for v in values if isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)]
    if seen:  # an open end takes the values seen (a RealInterval needs finite ends)
        low = min(seen) if low is None else min(low, min(seen))
        high = max(seen) if high is None else max(high, max(seen))
    if low is None or high is None:
        return None
    return _interval(low, high, integer=all(tp is int for tp, _ in members))


def domain_for(key: str, values=(), *, sweep: Domain | None = None, config: dict | None = None) -> Domain | None:
    """The HParams domain of a dotted key, or None (log it without a domain).

    `sweep` (the sweep's {"values": grid} or {"min", "max"} of a random range) overrides the schema.
    Otherwise it comes from the config schema: Literal and bool fields give every allowed value; int and
    float fields their bounds (ge/gt/le/lt), an open end replaced by the extreme of `values` (the values
    seen); anything else (free strings, mappings, mixed unions) has none. `config` picks the member of
    a union (the layer's type, the schedule's kind) along the way; a path the config does not have
    (learning_rate.schedule under a constant rate) takes every member that has it."""
    values = [hparam_value(v) for v in values]
    if sweep is not None:
        if "values" in sweep:
            return _discrete(sweep["values"])
        integer = all(isinstance(v, int) and not isinstance(v, bool) for v in [sweep["min"], sweep["max"], *values])
        return _interval(sweep["min"], sweep["max"], integer)
    if key == LAYERS_KEY:
        field = ExperimentConfig.model_fields["model"].annotation.model_fields["layers"]
        low = next((m.min_length for m in field.metadata if isinstance(m, annotated_types.MinLen)), 0)
        return _interval(low, max([low, *values]), integer=True)
    members = schema_types(key, config) or schema_types(key)  # a key this config lacks: any member's
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
    DEFAULT_KEYS. Keys whose value is unset (None) are left out."""
    sweep_domains = sweep_domains or {}
    values, domains = {}, {}
    for key in sweep_keys or DEFAULT_KEYS:
        raw = config_value(config, key)
        if raw is None:
            continue
        domain = domain_for(key, [raw], sweep=sweep_domains.get(key), config=config)
        values[key] = hparam_value(raw, domain)
        if domain is not None:
            domains[key] = domain
    return values, domains


def metrics_for(config: dict) -> list[tuple[str, str]]:
    """(tag, group) of each scalar Keras' TensorBoard callback writes per epoch: loss and the compiled
    metrics under the names Keras logs them by, in `train` and `validation`."""
    from expkit.model.compiling import METRIC_CLASSES  # plain data; imports no Keras
    names = ["loss"] + [METRIC_CLASSES.get(m, (None, m))[1] for m in _lookup(config, "compile.metrics") or []]
    return [(f"epoch_{name}", group) for name in dict.fromkeys(names) for group in ("train", "validation")]


def sweep_hparams_from_env(environ=None) -> tuple[list[str] | None, dict | None]:
    """The sweep keys and domains `expkit sweep` passes to each of its training processes, or (None,
    None) outside a sweep."""
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
    """hp.Discrete, hp.IntInterval or hp.RealInterval for a domain (None for None)."""
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
    """Write this run's session summary (`hp.hparams`) into `tb_dir`, the folder above its `train` and
    `validation` event folders. `trial_id` names the session group (default: a hash of the values).

    The experiment summary (`hp.hparams_config`: the domains, and `metrics` as (tag, group) pairs or
    hp.Metric) is written only when `experiment_dir` is given: the root of a logdir holding only
    the runs it describes (see the module docstring for why never inside `runs/`)."""
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
    """Log a run folder's hyperparameters for the HParams dashboard from its config.json (the trainer
    calls this; it can also be run on old runs). Returns False, writing nothing, when the run already
    has them."""
    from expkit.runs import read_run
    run_dir = Path(run_dir)
    if has_hparams(run_dir):
        return False
    run = read_run(run_dir)
    values, domains = hparams_for_run(run.config, sweep_keys, sweep_domains)
    started = run.info.get("start_time")
    start = datetime.fromisoformat(started).timestamp() if started else None
    (run_dir / "tb").mkdir(exist_ok=True)
    write_hparams(run_dir / "tb", values, domains, metrics_for(run.config), trial_id=run.id, start_time_secs=start)
    return True
