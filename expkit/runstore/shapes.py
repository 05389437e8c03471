"""The types of the values compare, diff, sweep and plot read from a run folder, checked once when the
run is read: a hand-edited or half-written file (an integer start_time, a list where a mapping belongs)
becomes one line naming the file and the key, instead of a TypeError deep inside a command."""
from __future__ import annotations

from pathlib import Path

from expkit.runstore.folder import BadRun

_TEXT = ("id", "name", "status", "start_time", "end_time", "host", "device", "error")
_WHOLE = ("format_version", "seed", "pid", "epochs_run")
_NUMBER = ("duration_seconds",)
_RESULT_WHOLE = ("params", "epochs_run", "best_epoch")
_RESULT_NUMBER = ("training_seconds", "samples_per_second")
_SECTIONS = ("experiment", "dataset", "model", "compile", "training")


def _is_whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def check_run(path: Path, info: dict, config: dict, results: dict | None) -> None:
    """BadRun for the first value whose type no reader expects."""
    def bad(file: str, key: str, expected: str, value) -> BadRun:
        return BadRun(f"{path}: {file}: {key} must be {expected}, got {_short(value)}; the file was edited "
                      "or written by something else: restore it, or move the folder out of the runs folder")

    for keys, test, expected in ((_TEXT, lambda v: isinstance(v, str), "text"),
                                 (_WHOLE, _is_whole, "a whole number"), (_NUMBER, _is_number, "a number")):
        for key in keys:
            if info.get(key) is not None and not test(info[key]):
                raise bad("run.json", key, expected, info[key])
    for key in _SECTIONS:
        if key in config and not isinstance(config[key], dict):
            raise bad("config", key, "a mapping", config[key])
    seed = config.get("experiment", {}).get("seed")
    if seed is not None and not _is_whole(seed):
        raise bad("config", "experiment.seed", "a whole number", seed)
    for key, value in (results or {}).items():
        if key in ("train", "val", "test", "samples"):
            if not isinstance(value, dict):
                raise bad("results.json", key, "a mapping of metric names to numbers", value)
            for name, number in value.items():
                if number is not None and not _is_number(number):
                    raise bad("results.json", f"{key}.{name}", "a number", number)
        elif value is not None and key in _RESULT_WHOLE and not _is_whole(value):
            raise bad("results.json", key, "a whole number", value)
        elif value is not None and key in _RESULT_NUMBER and not _is_number(value):
            raise bad("results.json", key, "a number", value)


def _short(value) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."
