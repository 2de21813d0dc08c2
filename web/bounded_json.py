"""JSON request bodies parsed within limits, so no body can exhaust the parser or what follows.

Python's parser recurses once per nesting level (a list nested 1,000 deep raises
RecursionError, and one nested 950 deep parses but cannot be pickled to an actor), refuses
integers of more than 4,300 digits with a ValueError, and accepts ``NaN`` and ``1e999``, which
no JSON encoder can write back. :func:`loads` checks the nesting depth before parsing and every
number's length while parsing, rejects non-finite numbers, and raises :class:`JsonLimitError`
naming the limit. Pure: no aiohttp here.
"""

from __future__ import annotations

import json
import math
import re
from itertools import accumulate
from typing import Any, NoReturn

__all__ = ["MAX_DEPTH", "MAX_NUMBER_CHARS", "JsonLimitError", "loads"]

MAX_DEPTH = 32
MAX_NUMBER_CHARS = 100

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")


class JsonLimitError(ValueError):
    """A body that is not JSON, or exceeds a limit; ``limit`` names it (None: not JSON)."""

    def __init__(self, detail: str, limit: str | None = None) -> None:
        super().__init__(detail)
        self.limit = limit


def nesting_depth(text: str) -> int:
    """The deepest nesting of arrays and objects in ``text``, brackets inside strings aside.
    The string pattern ends literals where the parser does, so the parser never nests deeper
    than this, even in a text that turns out not to be JSON."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(1 if char in "[{" else -1 for char in brackets), default=0)


def _number_check(max_chars: int) -> tuple[Any, Any]:
    def parse_int(literal: str) -> int:
        if len(literal) > max_chars:
            raise JsonLimitError(f"a number has {len(literal)} characters; at most {max_chars} "
                                 "are allowed", "max_number_chars")
        return int(literal)

    def parse_float(literal: str) -> float:
        if len(literal) > max_chars:
            raise JsonLimitError(f"a number has {len(literal)} characters; at most {max_chars} "
                                 "are allowed", "max_number_chars")
        value = float(literal)
        if not math.isfinite(value):
            raise JsonLimitError(f"the number {literal} is out of range", "finite_numbers")
        return value

    return parse_int, parse_float


def _no_constant(name: str) -> NoReturn:
    raise JsonLimitError(f"{name} is not JSON", "finite_numbers")


def loads(data: bytes | str, *, max_depth: int = MAX_DEPTH,
          max_number_chars: int = MAX_NUMBER_CHARS) -> Any:
    """The JSON value in ``data`` (UTF-8), or :class:`JsonLimitError` saying what is wrong."""
    if isinstance(data, bytes):
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise JsonLimitError(f"the body is not UTF-8 (byte {error.start})") from None
    else:
        text = data
    depth = nesting_depth(text)
    if depth > max_depth:
        raise JsonLimitError(f"the body nests {depth} levels deep; at most {max_depth} are "
                             "allowed", "max_depth")
    parse_int, parse_float = _number_check(max_number_chars)
    try:
        return json.loads(text, parse_int=parse_int, parse_float=parse_float,
                          parse_constant=_no_constant)
    except JsonLimitError:
        raise
    except (json.JSONDecodeError, RecursionError, ValueError) as error:
        raise JsonLimitError(f"the body is not JSON: {error}"[:300]) from None
