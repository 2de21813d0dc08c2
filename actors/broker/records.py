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


def _casts(record_type: type) -> tuple[tuple[str, Any], ...]:
    """Each field's name and cast (None: kept as given), read once per record type: a poll
    converts every struct it reads, and ``dataclasses.fields`` is most of that cost."""
    found = _FIELD_CASTS.get(record_type)
    if found is None:
        found = tuple((field.name, _CASTS.get(str(field.type)))
                      for field in dataclasses.fields(record_type))
        _FIELD_CASTS[record_type] = found
    return found


_FIELD_CASTS: dict[type, tuple[tuple[str, Any], ...]] = {}


def record_from_mapping(record_type: type[_RecordT], values: Mapping[str, Any]) -> _RecordT:
    """Build ``record_type`` from a struct's ``_asdict()``, casting each field to its type.

    Fields the mapping lacks take the record's default (or fail if it has none), so a terminal
    build that adds fields does not break the adapter.
    """
    kwargs: dict[str, Any] = {}
    for name, cast in _casts(record_type):
        if name not in values:
            continue
        value = values[name]
        kwargs[name] = cast(value) if cast is not None else value
    return record_type(**kwargs)
