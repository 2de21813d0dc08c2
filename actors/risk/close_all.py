"""An operator's close-all over its tries: whether to ask the broker again, and what to answer.

A real MT5 server refuses to close a position whose price is within the symbol's freeze level
of its stop or target (TRADE_RETCODE_FROZEN, reference mt5_api.md §7.6), and refuses requests
for a moment when they come too fast or while one is locked. Each passes within seconds: the
price moves away, or the stop is hit and the position closes by itself. So when the broker's
report says every position left open was refused only for such a reason
(:attr:`~messages.trading.OrderReport.retry_later`), the RiskManager asks again after
:data:`RETRY_AFTER_S`, up to :data:`TRIES` times in all, and answers the operator once: the
tries fit in the web front's default reply limit (``web.request_timeout_s``, 5 s).

Each try is a close-all of its own (its own ``op_id``, so its own client order ids): the
broker reads its books again, so a position that closed meanwhile is not sent a second close,
and every refused close stays refused in the records. Pure: the RiskManager keeps the timer.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

from messages.trading import OrderReport

__all__ = ["RETRY_AFTER_S", "TRIES", "CloseAllTries"]

TRIES = 5
RETRY_AFTER_S = 0.5


@dataclass(frozen=True, slots=True)
class CloseAllTries:
    """The tries of one operator close-all so far: ``closed`` sums the tickets each closed."""

    op_id: str
    tries: int = 0
    closed: tuple[int, ...] = ()

    @property
    def next_op_id(self) -> str:
        """The op id of the next try: the operator's own for the first, so that a close-all
        asked again with the same id is answered from its records."""
        return self.op_id if self.tries == 0 else f"{self.op_id}/try{self.tries + 1}"

    def answered(self, report: OrderReport) -> CloseAllTries:
        return dataclasses.replace(self, tries=self.tries + 1,
                                   closed=self.closed + tuple(report.closed))

    def again(self, report: OrderReport) -> bool:
        """Whether to ask the broker again after ``report`` (this try's, already
        :meth:`answered`)."""
        return report.status == "rejected" and report.retry_later and self.tries < TRIES

    def answer(self, report: OrderReport) -> tuple[int, str]:
        """The operator's answer after the last try: an HTTP-like status and its detail."""
        count = f"closed {len(self.closed)} position(s)"
        tried = f" in {self.tries} tries" if self.tries > 1 else ""
        if report.status == "done":
            return 200, count + tried
        return 409, f"close-all {report.status}: {report.reason}" + (
            f" ({count}{tried})" if self.tries > 1 else "")
