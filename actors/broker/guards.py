"""Execution guards: the last checks of an order's prices against the quote it is sent at.

A decision is made at one price (the order's *reference price*, the quote the strategy and the
RiskManager judged) and executed at another, moments or seconds later. Before a market order is
sent (:func:`guard_market_order`):

- it is refused with :attr:`~messages.orders.RefusalCode.PRICE_MOVED` when the quote has moved
  more than ``max_slippage_points`` from the reference price: the decision is stale;
- its SL and TP are re-based on the quote, keeping their decided distances from the reference
  price, so the risk at the stop stays what was approved;
- they are checked against the symbol's stops level (reference mt5_api.md §7.6: for a buy, the
  distances from the bid; for a sell, from the ask) and the order is refused with
  :attr:`~messages.orders.RefusalCode.STOPS_TOO_CLOSE` when one is inside it.

After the fill, :func:`follow_fill` moves SL and TP by the slippage between the quote and the
fill price. A change of a position's stops (:func:`check_modify`) is refused when the new ones
are inside the stops level, or when the current ones are inside the freeze level (the terminal
would answer 10029, frozen). Before that, a change that would widen the stop (remove it, or
move it away from the price the position is judged on) is refused (:func:`widens_stop`): the
stop is what the RiskManager approved the risk at, and only a new approval may raise it.
"""

from __future__ import annotations

from dataclasses import dataclass

from messages.market import Side, SymbolSpecRecord, TickRecord
from messages.orders import RefusalCode

__all__ = ["GuardedPrices", "check_modify", "follow_fill", "guard_market_order", "widens_stop"]

_EPSILON = 1e-6  # of a point: prices on the grid compare equal


@dataclass(frozen=True, slots=True)
class GuardedPrices:
    """The prices to send (``refusal`` None), or why not to send at all."""

    market: float
    sl: float
    tp: float
    refusal: RefusalCode | None = None
    detail: str = ""


def _shift(level: float, by: float) -> float:
    return level + by if level > 0 else 0.0


def _too_close(side: Side, bid: float, ask: float, sl: float, tp: float,
               spec: SymbolSpecRecord) -> str:
    """Which stop is inside the stops level ('' when none)."""
    distance = spec.trade_stops_level * spec.point - spec.point * _EPSILON
    reference, quote = (bid, "bid") if side is Side.BUY else (ask, "ask")
    for name, level, gap in (("SL", sl, side.sign * (reference - sl)),
                             ("TP", tp, side.sign * (tp - reference))):
        if level > 0 and (gap <= 0 or gap < distance):
            return (f"{name} {level:g} is not {spec.trade_stops_level} points beyond the "
                    f"{quote} {reference:g} (the symbol's stops level)")
    return ""


def guard_market_order(side: Side, reference: float, sl: float, tp: float, tick: TickRecord,
                       spec: SymbolSpecRecord, max_slippage_points: float) -> GuardedPrices:
    """The guarded prices of a market order decided at ``reference`` (SL/TP of 0: none)."""
    market = tick.ask if side is Side.BUY else tick.bid
    moved = market - reference
    if abs(moved) > max_slippage_points * spec.point + spec.point * _EPSILON:
        return GuardedPrices(market, sl, tp, RefusalCode.PRICE_MOVED,
                             f"{'ask' if side is Side.BUY else 'bid'} {market:g} is "
                             f"{abs(moved) / spec.point:.0f} points from the decision's "
                             f"{reference:g} (most: {max_slippage_points:g})")
    new_sl, new_tp = round(_shift(sl, moved), spec.digits), round(_shift(tp, moved), spec.digits)
    why = _too_close(side, tick.bid, tick.ask, new_sl, new_tp, spec)
    if why:
        return GuardedPrices(market, new_sl, new_tp, RefusalCode.STOPS_TOO_CLOSE, why)
    return GuardedPrices(market, new_sl, new_tp)


def follow_fill(sent_sl: float, sent_tp: float, sent_at: float, filled_at: float,
                spec: SymbolSpecRecord) -> tuple[float, float] | None:
    """The stops that keep their distances from the fill price, or None when the fill was at
    the price they were set for (within half a point)."""
    slipped = filled_at - sent_at
    if abs(slipped) < spec.point / 2 or not (sent_sl > 0 or sent_tp > 0):
        return None
    return (round(_shift(sent_sl, slipped), spec.digits),
            round(_shift(sent_tp, slipped), spec.digits))


def widens_stop(side: Side, current_sl: float, new_sl: float) -> bool:
    """Whether ``new_sl`` (0: none) risks more than ``current_sl`` (0: none) on a ``side``
    position: a stop removed, or moved away from the market. A position without a stop may
    get any."""
    if current_sl <= 0:
        return False
    if new_sl <= 0:
        return True
    return side.sign * (current_sl - new_sl) > 1e-9 * current_sl  # beyond rounding


def check_modify(side: Side, current_sl: float, current_tp: float, new_sl: float,
                 new_tp: float, tick: TickRecord, spec: SymbolSpecRecord) -> str:
    """Why a position's stops may not be changed to ``new_sl``/``new_tp`` now ('' if they
    may): the new stops inside the stops level, or the current ones inside the freeze level."""
    if spec.trade_freeze_level:
        freeze = spec.trade_freeze_level * spec.point
        reference = tick.bid if side is Side.BUY else tick.ask
        sign = side.sign
        near_sl = current_sl > 0 and sign * (reference - current_sl) <= freeze
        near_tp = current_tp > 0 and sign * (current_tp - reference) <= freeze
        if near_sl or near_tp:
            return (f"the position's {'SL' if near_sl else 'TP'} is within the freeze level "
                    f"({spec.trade_freeze_level} points) of the price: it cannot be changed")
    if (new_sl, new_tp) == (current_sl, current_tp):
        return ""
    return _too_close(side, tick.bid, tick.ask, new_sl, new_tp, spec)
