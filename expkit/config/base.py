"""The base of every config model: strict, frozen, documented."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict, model_validator


class Spec(BaseModel):
    """A config section. Unknown keys are errors; values never change after validation."""

    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=True)


class NamedSpec(Spec):
    """A component picked by `name` with optional arguments; a bare string is shorthand for {name: ...}."""

    @model_validator(mode="before")
    @classmethod
    def _from_string(cls, data):
        return {"name": data} if isinstance(data, str) else data


class KeyProblem(ValueError):
    """A model validator's complaint about one of its keys, so the error points at that key's line."""

    def __init__(self, key: str, message: str):
        super().__init__(message)
        self.key = key


def require_unique_names(items, what: str):
    """A validator's check that every item's `name` is used once: '<what> names must be unique'."""
    names = [item.name for item in items or []]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise ValueError(f"{what} names must be unique, got {', '.join(dupes)} twice")
    return items
