"""The account's books: positions, pending orders, order and deal history, and how they change.

:class:`Books` owns the terminal's records (``ledger.py``'s dataclasses) and writes every change
to ``sim.db`` (``store.py``); the caller wraps a trade's changes in one store transaction. It
hands out order and deal tickets from separate counters, opens and closes positions with their
deals (commission, swap share and realised profit booked to the balance), files filled or
retired orders in the history, and books balance operations. The selection rules of
``positions_get``/``orders_get`` and ``history_*_get`` (reference mt5_api.md §2.6, §2.7) live
here too, as does the MT5 group-mask matcher they use.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

from actors.broker.sim import constants as c
from actors.broker.sim.config import SimConfig
from actors.broker.sim.faults import FaultInjector
from actors.broker.sim.ledger import AccountState, Order, Position
from actors.broker.sim.market import SimulatedMarket
from actors.broker.sim.pricing import Pricing
from actors.broker.sim.store import SimStore
from messages.books import DealRecord

__all__ = ["Books", "Venue", "group_matches", "select_history", "select_open"]


def group_matches(group: str, names: Iterable[str]) -> list[str]:
    """Apply an MT5 group mask (``"*,!*EUR*"``: comma-separated, ``*`` wildcards, ``!``
    excludes, left to right) to ``names``. A condition without wildcards matches names that
    contain it, as in the reference's ``"*, !EUR"``."""
    names = list(names)
    chosen: set[str] = set()
    for raw in group.split(","):
        condition = raw.strip()
        if not condition:
            continue
        negate = condition.startswith("!")
        pattern = condition[1:].strip() if negate else condition
        if not any(ch in pattern for ch in "*?["):
            pattern = f"*{pattern}*"
        hits = {n for n in names if fnmatch.fnmatchcase(n, pattern)}
        chosen = chosen - hits if negate else chosen | hits
    return [n for n in names if n in chosen]


def select_open(
    records: Iterable[Any], symbol: str | None, group: str | None, ticket: int | None
) -> list[Any]:
    """``positions_get`` / ``orders_get`` selection: by symbol, else by ticket; then by group."""
    chosen = list(records)
    if symbol is not None:
        chosen = [r for r in chosen if r.symbol == symbol]
    elif ticket is not None:
        chosen = [r for r in chosen if r.ticket == ticket]
    if group is not None:
        allowed = set(group_matches(group, {r.symbol for r in chosen}))
        chosen = [r for r in chosen if r.symbol in allowed]
    return chosen


def select_history(
    records: Sequence[Any],
    ticket_field: str,
    time_msc_field: str,
    date_from: float | None,
    date_to: float | None,
    group: str | None,
    ticket: int | None,
    position: int | None,
) -> list[Any]:
    """``history_*_get`` selection: by ticket, else by position, else by time range (whole
    seconds, inclusive) and group."""
    if ticket is not None:
        return [r for r in records if getattr(r, ticket_field) == ticket]
    if position is not None:
        return [r for r in records if r.position_id == position]
    lo, hi = int(date_from or 0) * 1000, int(date_to or 0) * 1000 + 999
    chosen = [r for r in records if lo <= getattr(r, time_msc_field) <= hi]
    if group is not None:
        allowed = set(group_matches(group, {r.symbol for r in chosen}))
        chosen = [r for r in chosen if r.symbol in allowed]
    return chosen


class Books:
    """Positions, orders, history and the account, kept in memory and in ``sim.db``."""

    def __init__(
        self,
        store: SimStore,
        account: AccountState,
        pricing: Pricing,
        *,
        positions: Iterable[Position],
        orders: Iterable[Order],
        history_orders: list[Order],
        deals: list[DealRecord],
        commission_per_lot: float,
    ) -> None:
        self.store = store
        self.account = account
        self.pricing = pricing
        self.positions: dict[int, Position] = {p.ticket: p for p in positions}
        self.orders: dict[int, Order] = {o.ticket: o for o in orders}
        self.history_orders = history_orders
        self.deals = deals
        self.scan_from: dict[int, int] = {}
        """Per position or order ticket: the server time from which its triggers are sought
        (set when it is created or its levels change)."""
        self._commission_per_lot = commission_per_lot

    # ---- tickets ----------------------------------------------------------------------------

    def next_order_ticket(self) -> int:
        ticket = self.account.next_order_ticket
        self.account.next_order_ticket += 1
        return ticket

    def next_deal_ticket(self) -> int:
        ticket = self.account.next_deal_ticket
        self.account.next_deal_ticket += 1
        return ticket

    # ---- changes ----------------------------------------------------------------------------

    def balance_operation(self, amount: float, comment: str, now_ms: int) -> None:
        deal = self._deal(
            order=0, now_ms=now_ms, type=c.DEAL_TYPE_BALANCE, entry=c.DEAL_ENTRY_IN, magic=0,
            position_id=0, reason=c.DEAL_REASON_CLIENT, volume=0.0, price=0.0, commission=0.0,
            swap=0.0, profit=round(amount, 2), symbol="", comment=comment,
        )  # fmt: skip
        self.account.balance = round(self.account.balance + amount, 2)
        self._file_deal(deal)

    def _deal(self, *, now_ms: int, **fields: Any) -> DealRecord:
        """A new deal, numbered, at server time ``now_ms``."""
        return DealRecord(ticket=self.next_deal_ticket(), time=now_ms // 1000, time_msc=now_ms,
                          fee=0.0, external_id="", **fields)

    def _file_deal(self, deal: DealRecord) -> None:
        self.deals.append(deal)
        self.store.add_deal(deal)

    def commission(self, volume: float) -> float:
        # "+ 0.0" turns a -0.0 (no commission) into the 0.0 a terminal shows.
        return round(-abs(self._commission_per_lot) * volume, 2) + 0.0

    def open_position(
        self,
        *,
        ticket: int,
        symbol: str,
        order_type: int,
        volume: float,
        price: float,
        sl: float,
        tp: float,
        magic: int,
        comment: str,
        now_ms: int,
    ) -> DealRecord:
        position = Position(
            ticket=ticket, time_msc=now_ms, time_update_msc=now_ms, type=order_type, magic=magic,
            identifier=ticket, reason=c.POSITION_REASON_EXPERT, volume=volume, price_open=price,
            sl=sl, tp=tp, swap=0.0, symbol=symbol, comment=comment,
        )  # fmt: skip
        commission = self.commission(volume)
        deal = self._deal(
            order=ticket, now_ms=now_ms, type=order_type, entry=c.DEAL_ENTRY_IN, magic=magic,
            position_id=ticket, reason=c.DEAL_REASON_EXPERT, volume=volume, price=price,
            commission=commission, swap=0.0, profit=0.0, symbol=symbol, comment=comment,
        )  # fmt: skip
        self.positions[ticket] = position
        self.scan_from[ticket] = now_ms
        self.account.balance = round(self.account.balance + commission, 2)
        self.store.save_position(position)
        self._file_deal(deal)
        return deal

    def close_position(
        self,
        position: Position,
        *,
        volume: float,
        price: float,
        order_ticket: int,
        reason: int,
        comment: str,
        magic: int,
        now_ms: int,
        entry: int = c.DEAL_ENTRY_OUT,
    ) -> DealRecord:
        volume = min(volume, position.volume)
        share = volume / position.volume
        swap = round(position.swap * share, 2)
        profit = self.pricing.calc_profit(
            position.type, position.symbol, volume, position.price_open, price, now_ms
        )
        commission = self.commission(volume)
        deal_type = c.DEAL_TYPE_SELL if position.type == c.POSITION_TYPE_BUY else c.DEAL_TYPE_BUY
        deal = self._deal(
            order=order_ticket, now_ms=now_ms, type=deal_type, entry=entry, magic=magic,
            position_id=position.identifier, reason=reason, volume=volume, price=price,
            commission=commission, swap=swap, profit=profit, symbol=position.symbol,
            comment=comment,
        )  # fmt: skip
        self.account.balance = round(self.account.balance + profit + swap + commission, 2)
        remaining = round(position.volume - volume, 8)
        if remaining <= 1e-9:
            del self.positions[position.ticket]
            self.scan_from.pop(position.ticket, None)
            self.store.delete_position(position.ticket)
        else:
            position.volume = remaining
            position.swap = round(position.swap - swap, 2)
            position.time_update_msc = now_ms
            self.store.save_position(position)
        self._file_deal(deal)
        return deal

    def history_order(
        self,
        *,
        ticket: int,
        symbol: str,
        order_type: int,
        volume: float,
        price: float,
        magic: int,
        comment: str,
        reason: int,
        position_id: int,
        now_ms: int,
        type_filling: int = c.ORDER_FILLING_FOK,
        position_by_id: int = 0,
        sl: float = 0.0,
        tp: float = 0.0,
    ) -> Order:
        """File an order that was filled at once (a market order or a server-side close)."""
        order = Order(
            ticket=ticket, time_setup_msc=now_ms, time_done_msc=now_ms, time_expiration=0,
            type=order_type, type_time=c.ORDER_TIME_GTC, type_filling=type_filling,
            state=c.ORDER_STATE_FILLED, magic=magic, position_id=position_id,
            position_by_id=position_by_id, reason=reason, volume_initial=volume,
            volume_current=0.0, price_open=price, sl=sl, tp=tp, price_current=price,
            price_stoplimit=0.0, symbol=symbol, comment=comment,
        )  # fmt: skip
        self.history_orders.append(order)
        self.store.add_history_order(order)
        return order

    def add_order(self, order: Order, now_ms: int) -> None:
        """Place a pending order."""
        self.orders[order.ticket] = order
        self.scan_from[order.ticket] = now_ms
        self.store.save_order(order)

    def retire_order(self, o: Order, state: int, now_ms: int) -> None:
        """Move a pending order to the history as filled, canceled, expired or rejected."""
        o.state = state
        o.time_done_msc = now_ms
        self.orders.pop(o.ticket, None)
        self.scan_from.pop(o.ticket, None)
        self.store.delete_order(o.ticket)
        self.history_orders.append(o)
        self.store.add_history_order(o)

    def close_at_market(
        self, p: Position, *, price: float, order_reason: int, deal_reason: int, comment: str,
        now_ms: int,
    ) -> DealRecord:  # fmt: skip
        """Close a whole position on the server's initiative (SL, TP, stop-out): a filled
        closing order in the history and its exit deal."""
        is_buy = p.type == c.POSITION_TYPE_BUY
        ticket = self.next_order_ticket()
        self.history_order(
            ticket=ticket, symbol=p.symbol,
            order_type=c.ORDER_TYPE_SELL if is_buy else c.ORDER_TYPE_BUY, volume=p.volume,
            price=price, magic=p.magic, comment=comment, reason=order_reason,
            position_id=p.identifier, now_ms=now_ms,
        )  # fmt: skip
        return self.close_position(
            p, volume=p.volume, price=price, order_ticket=ticket, reason=deal_reason,
            comment=comment, magic=p.magic, now_ms=now_ms,
        )  # fmt: skip


class Venue(NamedTuple):
    """The parts of one terminal that its server-side components (the order desk, the
    triggers) share."""

    config: SimConfig
    market: SimulatedMarket
    books: Books
    pricing: Pricing
    faults: FaultInjector
