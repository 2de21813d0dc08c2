"""Unknown outcomes without comments: finding an order in the books by what it was.

An order of unknown outcome is first looked for by its client order id, which the broker wrote
into the comment. Many brokers rewrite comments (cut them short, or put their own text in), so
when no comment matches, :func:`match_fate` looks for the order by its shape: our magic number,
the symbol, the side, the volume (a close: the position it closes), placed inside the time
window in which it was sent, not already the known outcome of another order of ours
(``taken``), and not carrying another order's client order id. The broker sends no new order
while one is unresolved, so within the window the order is the only one of that shape; the
earliest that fits is taken.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from messages.books import DealRecord, OrderRecord, PositionRecord
from messages.market import Side
from messages.orders import FateStatus, OrderFate

__all__ = ["OrderShape", "match_fate"]

_ORDER_TYPE_BUY, _ORDER_TYPE_SELL = 0, 1
_ORDER_STATE_STARTED, _ORDER_STATE_PLACED, _ORDER_STATE_FILLED = 0, 1, 4
_VOLUME_TOLERANCE = 1e-8


@dataclass(frozen=True, slots=True)
class OrderShape:
    """What an order of ours was, when its comment cannot tell."""

    symbol: str
    side: Side
    volume: float | None
    """Lots sent; None: a close of the whole position (any volume)."""
    start_msc: int
    end_msc: int
    """The window it was sent in, server clock, milliseconds."""
    position: int | None = None
    """A close: the position it closes."""
    taken: frozenset[int] = frozenset()
    """Order and position tickets that are already the outcome of another order of ours."""
    others: frozenset[str] = frozenset()
    """The client order ids of our other orders: a record whose comment is one of them is
    that order's, not this one's."""

    @property
    def order_type(self) -> int:
        return _ORDER_TYPE_BUY if self.side is Side.BUY else _ORDER_TYPE_SELL

    def fits_volume(self, volume: float) -> bool:
        return self.volume is None or abs(volume - self.volume) <= _VOLUME_TOLERANCE

    def in_window(self, time_msc: int) -> bool:
        return self.start_msc <= time_msc <= self.end_msc


def _filled(coid: str, magic: int, order: int, position: int,
            deals: Sequence[DealRecord], state: int | None) -> OrderFate:
    volume = sum(d.volume for d in deals)
    price = sum(d.price * d.volume for d in deals) / volume if volume else 0.0
    return OrderFate(coid, magic, FateStatus.FILLED, order=order, position=position,
                     deals=tuple(d.ticket for d in deals), volume=round(volume, 8),
                     price=price, order_state=state)


def match_fate(
    client_order_id: str,
    magic: int,
    shape: OrderShape,
    positions: Sequence[PositionRecord],
    history_orders: Sequence[OrderRecord],
    deals: Sequence[DealRecord],
) -> OrderFate | None:
    """The fate of the order of ``shape`` from the books (None: nothing fits)."""
    orders = sorted(
        (o for o in history_orders
         if o.magic == magic and o.symbol == shape.symbol and o.type == shape.order_type
         and shape.fits_volume(o.volume_initial) and shape.in_window(o.time_setup_msc)
         and o.ticket not in shape.taken and o.comment not in shape.others
         and (shape.position is None or o.position_id == shape.position)),
        key=lambda o: (o.time_setup_msc, o.ticket),
    )  # fmt: skip
    for order in orders:
        own = [d for d in deals if d.order == order.ticket]
        if own:
            position = own[0].position_id
            if shape.position is None and position in shape.taken:
                continue
            return _filled(client_order_id, magic, order.ticket, position, own, order.state)
        if order.state not in (_ORDER_STATE_PLACED, _ORDER_STATE_STARTED, _ORDER_STATE_FILLED):
            return OrderFate(client_order_id, magic, FateStatus.CANCELLED, order=order.ticket,
                             order_state=order.state)
    if shape.position is not None:
        return None  # a close is known by its order and deals only
    # The history may lag behind the books: an open position or an entry deal tells too, when
    # the order behind it is not in the history (those were judged above).
    judged = {o.ticket for o in history_orders}
    for position in sorted(positions, key=lambda p: (p.time_msc, p.ticket)):
        if (position.magic == magic and position.symbol == shape.symbol
                and position.type == shape.order_type and shape.fits_volume(position.volume)
                and shape.in_window(position.time_msc) and position.ticket not in shape.taken
                and position.identifier not in shape.taken
                and position.identifier not in judged and position.comment not in shape.others):
            own = [d for d in deals if d.position_id == position.ticket and d.opens]
            fate = _filled(client_order_id, magic, position.identifier, position.ticket, own,
                           _ORDER_STATE_FILLED)
            return fate if own else OrderFate(
                client_order_id, magic, FateStatus.FILLED, order=position.identifier,
                position=position.ticket, volume=position.volume, price=position.price_open,
                order_state=_ORDER_STATE_FILLED)  # fmt: skip
    entries = sorted(
        (d for d in deals
         if d.magic == magic and d.symbol == shape.symbol and d.opens
         and d.type == shape.order_type and shape.fits_volume(d.volume)
         and shape.in_window(d.time_msc) and d.order not in shape.taken
         and d.position_id not in shape.taken and d.order not in judged
         and d.comment not in shape.others),
        key=lambda d: (d.time_msc, d.ticket),
    )  # fmt: skip
    if entries:
        first = entries[0]
        return _filled(client_order_id, magic, first.order, first.position_id,
                       [d for d in entries if d.order == first.order], None)
    return None
