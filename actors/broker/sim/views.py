"""The books as the MetaTrader5 module returns them: records turned into its struct types.

``TradePosition`` is marked to market at the given server time (``price_current`` is the bid
for a buy, the ask for a sell; ``profit`` as ``order_calc_profit`` computes it), an open
``TradeOrder`` shows the price it would fill at, and history records are returned as they were
filed. Field orders are the reference's (mt5_api.md §4).
"""

from __future__ import annotations

from actors.broker.sim.checks import BUY_TYPES, price_of
from actors.broker.sim.ledger import Order, Position
from actors.broker.sim.pricing import Pricing
from actors.broker.sim.structs import TRADE_DEAL_FIELDS, TradeDeal, TradeOrder, TradePosition
from messages.books import DealRecord

__all__ = ["deal_struct", "order_struct", "position_struct"]


def position_struct(pricing: Pricing, p: Position, now_ms: int) -> TradePosition:
    quote = pricing.market.quote(p.symbol, now_ms)
    current = p.price_open if quote is None else pricing.closing_price(p, quote)
    return TradePosition(
        (
            p.ticket,
            p.time_msc // 1000,
            p.time_msc,
            p.time_update_msc // 1000,
            p.time_update_msc,
            p.type,
            p.magic,
            p.identifier,
            p.reason,
            p.volume,
            p.price_open,
            p.sl,
            p.tp,
            current,
            p.swap,
            pricing.position_profit(p, quote, now_ms),
            p.symbol,
            p.comment,
            p.external_id,
        )
    )


def order_struct(pricing: Pricing, o: Order, now_ms: int | None) -> TradeOrder:
    """An order; ``now_ms`` None for a history order (its last price stays)."""
    price_current = o.price_current
    if now_ms is not None:
        spec = pricing.market.universe[o.symbol]
        quote = pricing.market.quote(o.symbol, now_ms)
        if quote is not None:
            price_current = price_of(spec, quote.ask if o.type in BUY_TYPES else quote.bid)
    return TradeOrder(
        (
            o.ticket,
            o.time_setup_msc // 1000,
            o.time_setup_msc,
            o.time_done_msc // 1000,
            o.time_done_msc,
            o.time_expiration,
            o.type,
            o.type_time,
            o.type_filling,
            o.state,
            o.magic,
            o.position_id,
            o.position_by_id,
            o.reason,
            o.volume_initial,
            o.volume_current,
            o.price_open,
            o.sl,
            o.tp,
            price_current,
            o.price_stoplimit,
            o.symbol,
            o.comment,
            o.external_id,
        )
    )


def deal_struct(deal: DealRecord) -> TradeDeal:
    """A deal as the module returns it (the record has every field of the struct)."""
    return TradeDeal(tuple(getattr(deal, name) for name in TRADE_DEAL_FIELDS))
