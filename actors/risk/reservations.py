"""Reserved risk: what approved orders will put at stake before the broker's books show it.

An approval reserves its order's loss at the stop (and its exposure) before it is answered,
so the next approval sees it, even one made from the same, older snapshot of the books. A
reservation stays while the order is on its way; on the fill it becomes the position it
opened (it carries the ticket), until the books an approval is judged on show that ticket;
a refusal releases it; one that hears nothing (timeout, lost reply) expires after
``ttl_s``. The daily budget is therefore
``realised loss + open risk at the stops + reservations ≤ daily loss limit``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, field, replace
from types import MappingProxyType
from typing import Any

from actors.risk.rules import RiskParams
from actors.risk.sizing import SizedOrder, SizingParams, approve_order
from actors.risk.state import RiskState
from messages.books import DealRecord
from messages.market import Side
from messages.risk import Exposure, OrderInput

__all__ = ["Ledger", "Reservation", "approve_and_reserve", "ledger_from_dict", "ledger_to_dict"]

DEFAULT_TTL_S = 600.0
_VOLUME_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class Reservation:
    client_order_id: str
    exposure: Exposure
    risk_money: float
    reserved_at: float
    """Wall-clock seconds."""
    filled: bool = False


@dataclass(frozen=True, slots=True)
class Ledger:
    """Immutable: every change returns a new ledger."""

    reservations: Mapping[str, Reservation] = field(
        default_factory=lambda: MappingProxyType({}))
    ttl_s: float = DEFAULT_TTL_S

    def __contains__(self, client_order_id: object) -> bool:
        return client_order_id in self.reservations

    def reserve(self, reservation: Reservation) -> Ledger:
        return self._with({**self.reservations, reservation.client_order_id: reservation})

    def fill(self, client_order_id: str, ticket: int | None, volume: float | None = None,
             price: float | None = None) -> Ledger:
        """The order opened a position: it is that position until the books show it."""
        held = self.reservations.get(client_order_id)
        if held is None:
            return self
        exposure = replace(held.exposure, pending=False, ticket=ticket,
                           volume=volume or held.exposure.volume,
                           entry_price=price or held.exposure.entry_price)
        return self._with({**self.reservations,
                           client_order_id: replace(held, exposure=exposure, filled=True)})

    def filled_by(self, deals: Iterable[DealRecord]) -> Ledger:
        """Fill the reservations whose opening deal the history shows (its comment is the
        client order id): the fill is known even when its report went to a RiskManager that
        has since restarted. A comment the broker rewrote leaves the reservation to its
        report or its expiry (counted twice meanwhile, never less)."""
        ledger = self
        for deal in deals:
            held = ledger.reservations.get(deal.comment)
            if held is not None and not held.filled and deal.opens:
                ledger = ledger.fill(deal.comment, deal.position_id, deal.volume or None,
                                     deal.price or None)
        return ledger

    def closed_by(self, deals: Iterable[DealRecord]) -> Ledger:
        """Drop the filled reservations whose whole position the history shows closed: a
        position opened and closed between two polls never reaches the books, and would
        otherwise count as open risk (on top of its realised loss) until it expires. A partial
        close keeps the reservation until the books show the rest."""
        closed: dict[int, float] = {}
        for deal in deals:
            if not deal.opens:
                closed[deal.position_id] = closed.get(deal.position_id, 0.0) + deal.volume
        kept = {k: v for k, v in self.reservations.items()
                if not (v.filled and v.exposure.ticket in closed
                        and closed[v.exposure.ticket] + _VOLUME_EPSILON
                        >= (v.exposure.volume or 0.0))}
        return self if len(kept) == len(self.reservations) else self._with(kept)

    def release(self, client_order_id: str) -> Ledger:
        if client_order_id not in self.reservations:
            return self
        return self._with({k: v for k, v in self.reservations.items() if k != client_order_id})

    def expire(self, now: float) -> Ledger:
        kept = {k: v for k, v in self.reservations.items() if now - v.reserved_at < self.ttl_s}
        return self if len(kept) == len(self.reservations) else self._with(kept)

    def seen_in(self, exposures: tuple[Exposure, ...]) -> Ledger:
        """Drop filled reservations whose position the books now show."""
        tickets = {e.ticket for e in exposures if e.ticket is not None}
        kept = {k: v for k, v in self.reservations.items()
                if not (v.filled and v.exposure.ticket in tickets)}
        return self if len(kept) == len(self.reservations) else self._with(kept)

    def exposures_with(self, exposures: tuple[Exposure, ...] | None) -> tuple[Exposure, ...] | None:
        """The books' exposures plus every reservation they do not show yet (None stays None:
        missing input is denied by the rules)."""
        if exposures is None:
            return None
        tickets = {e.ticket for e in exposures if e.ticket is not None}
        extra = tuple(r.exposure for r in self.reservations.values()
                      if not (r.filled and r.exposure.ticket in tickets))
        return tuple(exposures) + extra

    @property
    def reserved_money(self) -> float:
        return sum(r.risk_money for r in self.reservations.values() if not r.filled)

    def _with(self, reservations: dict[str, Reservation]) -> Ledger:
        return Ledger(MappingProxyType(reservations), self.ttl_s)


def approve_and_reserve(order: OrderInput, client_order_id: str, ledger: Ledger,
                        state: RiskState, rules: RiskParams, sizing: SizingParams,
                        wall: float) -> tuple[SizedOrder, Ledger]:
    """Judge ``order`` against the books it was built from *plus* every reservation they do
    not show yet; reserve its loss at the stop when approved. ``wall`` is wall-clock time."""
    ledger = ledger.expire(wall).seen_in(tuple(order.market.exposures or ()))
    seen = replace(order, market=replace(
        order.market, exposures=ledger.exposures_with(order.market.exposures)))
    approval = approve_order(seen, state, rules, sizing)
    if not approval.allowed:
        return approval, ledger
    spec = order.market.spec
    assert order.direction is not None
    exposure = Exposure(
        symbol=order.market.symbol, direction=order.direction, volume=approval.volume,
        entry_price=order.entry_price, stop_loss=order.stop_loss,
        tick_size=spec.tick_size if spec else None,
        tick_value_loss=spec.tick_value_loss if spec else None,
        pending=True, currencies=spec.currencies if spec else None)
    risk_money = approval.sizing.risk_money if approval.sizing else 0.0
    return approval, ledger.reserve(Reservation(client_order_id, exposure, risk_money, wall))


def ledger_to_dict(ledger: Ledger) -> dict[str, Any]:
    """The ledger as plain values for SharedState (so a restarted RiskManager keeps it)."""
    return {coid: {"exposure": {**asdict(r.exposure), "direction": r.exposure.direction.value},
                   "risk_money": r.risk_money, "reserved_at": r.reserved_at, "filled": r.filled}
            for coid, r in ledger.reservations.items()}


def ledger_from_dict(saved: dict[str, Any], ttl_s: float = DEFAULT_TTL_S) -> Ledger:
    """The inverse of :func:`ledger_to_dict`; a malformed record raises ValueError."""
    reservations: dict[str, Reservation] = {}
    try:
        for coid, item in saved.items():
            fields = dict(item["exposure"])
            fields["direction"] = Side(fields["direction"])
            if fields.get("currencies") is not None:
                fields["currencies"] = tuple(fields["currencies"])
            reservations[str(coid)] = Reservation(str(coid), Exposure(**fields),
                                                  float(item["risk_money"]),
                                                  float(item["reserved_at"]),
                                                  bool(item["filled"]))
    except (KeyError, TypeError, ValueError) as error:
        raise ValueError(f"saved reservations are malformed: {error}") from None
    return Ledger(MappingProxyType(reservations), ttl_s)
