"""Turning a terminal's structs into Ensemble's records (``messages.books``, ``messages.market``).

The gateway calls :func:`record_from_mapping` on every struct the MetaTrader5 module (or
mt5linux, or the simulator) returns, at once, so nothing downstream holds a struct or a proxy.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

__all__ = ["record_from_mapping"]

_CASTS: dict[str, Any] = {"int": int, "float": float, "str": str, "bool": bool}
_RecordT = TypeVar("_RecordT")


def record_from_mapping(record_type: type[_RecordT], values: Mapping[str, Any]) -> _RecordT:
    """Build ``record_type`` from a struct's ``_asdict()``, casting each field to its type.

    Fields the mapping lacks take the record's default (or fail if it has none), so a terminal
    build that adds fields does not break the adapter.
    """
    kwargs: dict[str, Any] = {}
    for field in dataclasses.fields(record_type):  # type: ignore[arg-type]
        if field.name not in values:
            continue
        cast = _CASTS.get(str(field.type))
        value = values[field.name]
        kwargs[field.name] = cast(value) if cast is not None else value
    return record_type(**kwargs)
