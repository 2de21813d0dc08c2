"""A short, bounded text for any value, that never raises: what log lines say about messages.

A message that reaches a log line may be anything a peer sent: a list nested 950 deep makes
``str()`` raise ``RecursionError``, and a large one makes a log line of megabytes. Thespian's
``PoisonMessage`` calls ``str()`` of what it wraps. :func:`brief` walks values with
:mod:`reprlib` limits (depth, items per container, characters per string), looks inside
dataclasses and poison messages itself instead of calling their ``__repr__``, cuts the result
to a length, and turns any failure into a placeholder naming the type.
"""

from __future__ import annotations

import dataclasses
import reprlib
from typing import Any

from thespian.actors import PoisonMessage

__all__ = ["brief", "brief_error"]

DEFAULT_LIMIT = 300


class _BoundedRepr(reprlib.Repr):
    def __init__(self) -> None:
        super().__init__()
        self.maxlevel = 4
        self.maxtuple = self.maxlist = self.maxarray = self.maxset = self.maxfrozenset = 8
        self.maxdeque = self.maxdict = 8
        self.maxstring = 80
        self.maxlong = 40
        self.maxother = 80

    def repr1(self, x: Any, level: int) -> str:
        if isinstance(x, PoisonMessage):
            if level <= 0:
                return "Poison<...>"
            return f"Poison<{self.repr1(x.poisonMessage, level - 1)}>"
        if dataclasses.is_dataclass(x) and not isinstance(x, type):
            return self._dataclass(x, level)
        return super().repr1(x, level)

    def _dataclass(self, x: Any, level: int) -> str:
        name = type(x).__name__
        if level <= 0:
            return f"{name}(...)"
        fields = dataclasses.fields(x)
        shown = [f"{field.name}={self.repr1(getattr(x, field.name, None), level - 1)}"
                 for field in fields[:self.maxdict]]
        if len(fields) > self.maxdict:
            shown.append("...")
        return f"{name}({', '.join(shown)})"

    def repr_instance(self, x: Any, level: int) -> str:
        try:
            text = repr(x)
        except Exception:  # RecursionError, or a __repr__ that raises
            return f"<{_type_name(x)}>"
        if len(text) > self.maxother:
            half = max(0, (self.maxother - 3) // 2)
            text = text[:half] + "..." + text[len(text) - half:]
        return text


_REPR = _BoundedRepr()


def brief(value: Any, limit: int = DEFAULT_LIMIT) -> str:
    """``value`` as at most ``limit`` characters of text; never raises."""
    try:
        text = _REPR.repr(value)
    except Exception as error:  # RecursionError, a __repr__ that raises, …
        text = f"<{_type_name(value)}: unprintable ({type(error).__name__})>"
    if len(text) > limit:
        text = text[: max(0, limit - 3)] + "..."
    return text


def brief_error(error: BaseException, limit: int = DEFAULT_LIMIT) -> str:
    """``"TypeName: message"`` for an exception, bounded like :func:`brief`; never raises."""
    try:
        text = f"{type(error).__name__}: {error}"
    except Exception:
        text = f"{_type_name(error)}: <unprintable>"
    if len(text) > limit:
        text = text[: max(0, limit - 3)] + "..."
    return text


def _type_name(value: Any) -> str:
    try:
        return type(value).__name__
    except Exception:
        return "object"
