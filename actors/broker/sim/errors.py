"""The two ways a simulated terminal call fails: as a whole, or as a refused trade request.

- :class:`TerminalError`: the module function returns ``None``/``False`` and ``last_error()``
  is ``(code, description)`` (reference mt5_api.md §3).
- :class:`Reject`: a trade request the terminal or the server refuses; ``order_send`` answers
  with an ``OrderSendResult`` carrying ``retcode`` (and fresh quotes for a requote, §7.4).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from actors.broker.sim.market import PointTick

__all__ = ["Reject", "TerminalError"]


class TerminalError(Exception):
    """A call that fails as a whole: ``None``/``False`` and ``last_error() == (code, text)``."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(code, description)
        self.code = code
        self.description = description


class Reject(Exception):
    """A refused trade request: its retcode, and the quote to report with a requote."""

    def __init__(self, retcode: int, quote: PointTick | None = None) -> None:
        super().__init__(retcode)
        self.retcode = retcode
        self.quote = quote
