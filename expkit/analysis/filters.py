"""`--filter` expressions for compare: `test.accuracy>0.9`, `model.layers.1.units=128`, `status!=failed`."""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from expkit.analysis.values import is_number
from expkit.errors import ExpkitError



@dataclass(frozen=True)
class Filter:
    """One `KEY OP VALUE` condition, e.g. test.accuracy>0.9 or compile.optimizer.name!=sgd."""

    key: str
    op: str
    value: Any
    text: str

    def matches(self, record) -> bool:
        actual = record.get(self.key)
        if self.op in ("=", "=="):
            return _equal(actual, self.value)
        if self.op == "!=":
            return not _equal(actual, self.value)
        if not _comparable(actual, self.value):
            return False
        return {">": actual > self.value, ">=": actual >= self.value,
                "<": actual < self.value, "<=": actual <= self.value}[self.op]


_FILTER = re.compile(r"^\s*(?P<key>[^=!<>\s][^=!<>]*?)\s*(?P<op>!=|>=|<=|==|=|>|<)\s*(?P<value>.*?)\s*$")


def normalize_key(key: str) -> str:
    """model.layers[1].units -> model.layers.1.units (the diff's spelling is accepted too)."""
    return re.sub(r"\[(\d+)\]", r".\1", key.strip()).strip(".")


def parse_filter(text: str) -> Filter:
    match = _FILTER.match(text)
    if not match:
        raise ExpkitError(f"--filter {text!r}: expected KEY OP VALUE with OP one of = != > >= < <=, "
                          "e.g. 'test.accuracy>0.9' or 'compile.optimizer.name=adam'")
    return Filter(normalize_key(match["key"]), match["op"], _scalar(match["value"]), text)


def _scalar(raw: str) -> Any:
    """A filter value as YAML reads it (128 -> int, 0.5 -> float, true, null), '1e-3' as a float too."""
    if raw == "":
        return ""
    import yaml
    try:
        value = yaml.safe_load(raw)
    except yaml.YAMLError:
        return raw
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return value
    return value


def _equal(actual: Any, wanted: Any) -> bool:
    if isinstance(actual, list) and not isinstance(wanted, list):
        return any(_equal(item, wanted) for item in actual)  # tags=cnn: the list holds it
    if is_number(actual) and is_number(wanted):
        return math.isclose(actual, wanted, rel_tol=1e-9, abs_tol=0.0) or actual == wanted
    if isinstance(actual, str) and not isinstance(wanted, str) and wanted is not None:
        return actual == json.dumps(wanted) or actual == str(wanted)
    return actual == wanted


def _comparable(actual: Any, wanted: Any) -> bool:
    return (is_number(actual) and is_number(wanted)) or (isinstance(actual, str) and isinstance(wanted, str))
