"""How the MT5Broker paces its own timer-driven terminal reads (polls, quotes): orders first.

Thespian delivers an expired timer before any message waiting for the actor: its transport
reads its sockets only while no wakeup is due. On a slow terminal each of the broker's own reads
ends with the next timer already due (a poll is six terminal calls, a quote round one call per
watched symbol), so they ran back to back and a ``PlaceOrder`` waited in the mailbox for 14 s,
past its requester's wait, with ``call_delay_s=0.6`` and quotes on. Three rules keep the reads
behind the orders, each a pure decision here that the actor carries out:

1. **Yield.** A read whose timer fires is first put back :data:`YIELD_S` later, once
   (:func:`read_step`): in that gap the transport reads what came while the broker was busy,
   and those messages are handled before the read.
2. **Orders first.** While an order is between its arrival and its ``Send`` (its record looked
   up in SharedState, or its write-ahead awaited) no read starts: a poll or a quote round looks
   again after :data:`ORDER_WAIT_S`, and a ``MarketDataRequest`` (bars for a scan, which on a
   slow terminal can take its requester's whole wait) is held and served afterwards, in order
   of arrival, within its requester's wait counted from its arrival (:func:`defer_read`). The
   intent's resolution rounds are order work and are not paced.
3. **Budget.** A quote round reads the watched symbols in turn until :data:`QUOTE_BUDGET_S` is
   spent and goes on from there in the next round (:class:`QuoteRotation`), and the next round
   waits at least :data:`QUOTE_COST_SHARE` times the round's cost (:func:`next_quote_delay`): on
   a slow terminal a quote round holds an order up by at most one terminal call, and quotes take
   at most a tenth of the broker's time.
"""

from __future__ import annotations

import enum

__all__ = [
    "ORDER_WAIT_S",
    "QUOTE_BUDGET_S",
    "QUOTE_COST_SHARE",
    "YIELD_S",
    "QuoteRotation",
    "ReadStep",
    "defer_read",
    "next_quote_delay",
    "read_step",
]

YIELD_S = 0.01
"""Long enough for one pass of the transport over its sockets (0 would not do: an expired
wakeup is delivered before the sockets are read)."""
ORDER_WAIT_S = 0.05
QUOTE_BUDGET_S = 0.05
QUOTE_COST_SHARE = 10.0


class ReadStep(enum.Enum):
    YIELD = "yield"  # put the read back YIELD_S, once
    WAIT = "wait"  # an order is on its way out: look again after ORDER_WAIT_S
    READ = "read"


def read_step(*, yielded: bool, order_waiting: bool) -> ReadStep:
    """What a timer-driven read does when its timer fires (``yielded``: it was put back once
    already; ``order_waiting``: an order's write-ahead is awaited)."""
    if not yielded:
        return ReadStep.YIELD
    if order_waiting:
        return ReadStep.WAIT
    return ReadStep.READ


def defer_read(*, order_waiting: bool, held: int) -> bool:
    """Whether a market data request that just came is held (``held``: how many already are;
    they go first, in order)."""
    return order_waiting or held > 0


def next_quote_delay(interval_s: float, spent_s: float) -> float:
    """The wait before the next quote round: the configured interval, or ``QUOTE_COST_SHARE``
    times what this round cost if that is longer."""
    return max(interval_s, spent_s * QUOTE_COST_SHARE)


class QuoteRotation:
    """Where the next quote round starts in the watched symbols, so that rounds cut short by
    the budget still quote every symbol in turn."""

    def __init__(self) -> None:
        self.start = 0

    def order(self, universe: tuple[str, ...]) -> tuple[str, ...]:
        """The universe, from the next symbol due."""
        if not universe:
            return ()
        start = self.start % len(universe)
        return universe[start:] + universe[:start]

    def advance(self, read: int, size: int) -> None:
        """``read`` symbols of a universe of ``size`` were read this round."""
        self.start = (self.start + read) % size if size else 0
