"""One walker over the config schema's type annotations, used by the error mapping, the reference and
the HParams domains: Annotated unwrapped (its metadata kept), Optional/Union and `X | Y` flattened."""
from __future__ import annotations

import types
import typing
from typing import Any


def is_union(tp) -> bool:
    origin = typing.get_origin(tp)
    return origin is typing.Union or origin is types.UnionType


def type_members(tp, meta: tuple = (), keep_none: bool = True) -> list[tuple[Any, tuple]]:
    """Each alternative of `tp` with the Annotated metadata that applies to it."""
    if typing.get_origin(tp) is typing.Annotated:
        base, *extra = typing.get_args(tp)
        lazy = [m for m in extra if hasattr(m, "resolved_type")]  # a layer class derived on first use
        if lazy:
            rest = tuple(m for m in extra if m is not lazy[0])  # the union's Tag stays with it
            return type_members(lazy[0].resolved_type(), (*meta, *rest), keep_none)
        return type_members(base, (*meta, *extra), keep_none)
    if is_union(tp):
        return [m for arg in typing.get_args(tp) for m in type_members(arg, meta, keep_none)]
    return [] if tp is type(None) and not keep_none else [(tp, tuple(meta))]
