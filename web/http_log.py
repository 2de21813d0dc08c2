"""aiohttp's server log, with malformed requests logged once a minute per client, untraced.

aiohttp logs every request it cannot parse (a bad request line, a header too long) at ERROR
with a full traceback, so a scanner sending garbage fills the log. Given to the server as its
``logger``, :class:`MalformedRequestLog` writes one WARNING line without a traceback per client
address per minute, saying how many it left out since; everything else passes through.
"""

from __future__ import annotations

import logging
import time
from collections import OrderedDict
from collections.abc import Callable, MutableMapping
from typing import Any

from aiohttp.http_exceptions import HttpProcessingError

__all__ = ["MalformedRequestLog"]

INTERVAL_S = 60.0
MAX_CLIENTS_TRACKED = 4096


class MalformedRequestLog(logging.LoggerAdapter):  # type: ignore[type-arg]
    def __init__(self, logger: logging.Logger, interval_s: float = INTERVAL_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(logger, {})
        self.interval_s = interval_s
        self._clock = clock
        self._last: OrderedDict[str, tuple[float, int]] = OrderedDict()  # client → (at, left out)

    def process(self, msg: Any, kwargs: MutableMapping[str, Any]) -> tuple[Any, Any]:
        return msg, kwargs

    def log(self, level: int, msg: Any, *args: Any, **kwargs: Any) -> None:
        error = kwargs.get("exc_info")
        if not isinstance(error, HttpProcessingError):
            self.logger.log(level, msg, *args, **kwargs)
            return
        client = str(args[0]) if args else "?"
        now = self._clock()
        last = self._last.get(client)
        if last is not None and now - last[0] < self.interval_s:
            self._last[client] = (last[0], last[1] + 1)
            return
        left_out = last[1] if last is not None else 0
        self._last.pop(client, None)
        self._last[client] = (now, 0)
        while len(self._last) > MAX_CLIENTS_TRACKED:
            self._last.popitem(last=False)
        summary = f"{type(error).__name__}: {error}".replace("\n", " ")[:200]
        self.logger.warning("malformed HTTP request from %s: %s (%d more from it left out; "
                            "at most one line a minute per client)", client, summary, left_out)
