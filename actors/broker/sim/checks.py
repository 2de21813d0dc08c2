"""Trade request validation: the terminal's and the server's rules as pure functions.

Each check takes a symbol's :class:`~actors.broker.sim.universe.SymbolSpec`, the request's
values and, where needed, the current :class:`~actors.broker.sim.market.PointTick`, and raises
:class:`~actors.broker.sim.errors.Reject` with the retcode a real server gives (reference
mt5_api.md §7.4 for the rules and their retcodes, §7.6 for stops and freeze levels). They hold
no state: the order planner (``planning.py``) calls them in the documented order.
"""

from __future__ import annotations

from actors.broker.sim import constants as c
from actors.broker.sim.errors import Reject
from actors.broker.sim.ledger import Order, Position
from actors.broker.sim.market import SECONDS_PER_DAY, PointTick
from actors.broker.sim.universe import SymbolSpec

__all__ = [
    "BUY_TYPES",
    "ORDER_MODE_FLAG",
    "PENDING_TYPES",
    "TERMINAL_SIDE",
    "TRADE_ACTIONS",
    "check_filling",
    "check_order_frozen",
    "check_position_frozen",
    "check_stops",
    "check_trade_mode",
    "expiration_of",
    "on_grid",
    "price_of",
    "validate_pending_prices",
    "volume_valid",
]

BUY_TYPES = frozenset(
    {c.ORDER_TYPE_BUY, c.ORDER_TYPE_BUY_LIMIT, c.ORDER_TYPE_BUY_STOP, c.ORDER_TYPE_BUY_STOP_LIMIT}
)
PENDING_TYPES = frozenset(range(c.ORDER_TYPE_BUY_LIMIT, c.ORDER_TYPE_SELL_STOP_LIMIT + 1))
TRADE_ACTIONS = frozenset(
    {
        c.TRADE_ACTION_DEAL,
        c.TRADE_ACTION_PENDING,
        c.TRADE_ACTION_SLTP,
        c.TRADE_ACTION_MODIFY,
        c.TRADE_ACTION_REMOVE,
        c.TRADE_ACTION_CLOSE_BY,
    }
)
_EXPIRATION_FLAG = {
    c.ORDER_TIME_GTC: c.SYMBOL_EXPIRATION_GTC,
    c.ORDER_TIME_DAY: c.SYMBOL_EXPIRATION_DAY,
    c.ORDER_TIME_SPECIFIED: c.SYMBOL_EXPIRATION_SPECIFIED,
    c.ORDER_TIME_SPECIFIED_DAY: c.SYMBOL_EXPIRATION_SPECIFIED_DAY,
}
ORDER_MODE_FLAG = {
    c.ORDER_TYPE_BUY: c.SYMBOL_ORDER_MARKET,
    c.ORDER_TYPE_SELL: c.SYMBOL_ORDER_MARKET,
    c.ORDER_TYPE_BUY_LIMIT: c.SYMBOL_ORDER_LIMIT,
    c.ORDER_TYPE_SELL_LIMIT: c.SYMBOL_ORDER_LIMIT,
    c.ORDER_TYPE_BUY_STOP: c.SYMBOL_ORDER_STOP,
    c.ORDER_TYPE_SELL_STOP: c.SYMBOL_ORDER_STOP,
    c.ORDER_TYPE_BUY_STOP_LIMIT: c.SYMBOL_ORDER_STOP_LIMIT,
    c.ORDER_TYPE_SELL_STOP_LIMIT: c.SYMBOL_ORDER_STOP_LIMIT,
}
TERMINAL_SIDE = frozenset(
    {
        c.TRADE_RETCODE_INVALID,
        c.TRADE_RETCODE_INVALID_VOLUME,
        c.TRADE_RETCODE_INVALID_PRICE,
        c.TRADE_RETCODE_INVALID_STOPS,
        c.TRADE_RETCODE_INVALID_EXPIRATION,
        c.TRADE_RETCODE_CLIENT_DISABLES_AT,
        c.TRADE_RETCODE_INVALID_FILL,
        c.TRADE_RETCODE_CONNECTION,
        c.TRADE_RETCODE_INVALID_ORDER,
        c.TRADE_RETCODE_TRADE_DISABLED,
    }
)
"""Retcodes the terminal itself gives before anything reaches the server (request_id 0)."""


def price_of(spec: SymbolSpec, points: int) -> float:
    """A price in integer points as the float the terminal shows."""
    return round(points * spec.point, spec.digits)


def on_grid(spec: SymbolSpec, price: float) -> bool:
    ticks = price / spec.tick_size
    return abs(ticks - round(ticks)) <= 1e-6


def volume_valid(spec: SymbolSpec, volume: float) -> bool:
    """Within ``volume_min..volume_max`` and a whole number of ``volume_step``."""
    if not volume > 0 or volume < spec.volume_min - 1e-9 or volume > spec.volume_max + 1e-9:
        return False
    steps = volume / spec.volume_step
    return abs(steps - round(steps)) <= 1e-6


def check_trade_mode(spec: SymbolSpec, order_type: int, opening: bool) -> None:
    if not opening:
        return
    mode = spec.trade_mode
    if mode == c.SYMBOL_TRADE_MODE_CLOSEONLY:
        raise Reject(c.TRADE_RETCODE_CLOSE_ONLY)
    if mode == c.SYMBOL_TRADE_MODE_LONGONLY and order_type not in BUY_TYPES:
        raise Reject(c.TRADE_RETCODE_LONG_ONLY)
    if mode == c.SYMBOL_TRADE_MODE_SHORTONLY and order_type in BUY_TYPES:
        raise Reject(c.TRADE_RETCODE_SHORT_ONLY)


def check_filling(spec: SymbolSpec, filling: int, pending: bool, order_type: int) -> None:
    """The filling policies the symbol's execution mode allows (reference §7.4's table)."""
    allowed: set[int]
    if spec.exemode in (c.SYMBOL_TRADE_EXECUTION_INSTANT, c.SYMBOL_TRADE_EXECUTION_REQUEST):
        allowed = {c.ORDER_FILLING_FOK, c.ORDER_FILLING_IOC, c.ORDER_FILLING_RETURN}
    else:
        allowed = set()
        if spec.filling_mode & c.SYMBOL_FILLING_FOK:
            allowed.add(c.ORDER_FILLING_FOK)
        if spec.filling_mode & c.SYMBOL_FILLING_IOC:
            allowed.add(c.ORDER_FILLING_IOC)
        if spec.exemode == c.SYMBOL_TRADE_EXECUTION_EXCHANGE:
            allowed.add(c.ORDER_FILLING_RETURN)
    if pending:
        # "For pending orders, ORDER_FILLING_RETURN should be used regardless of the
        # execution type"; Book-or-Cancel only for limit orders on symbols that allow it.
        allowed.add(c.ORDER_FILLING_RETURN)
        limit_types = (
            c.ORDER_TYPE_BUY_LIMIT,
            c.ORDER_TYPE_SELL_LIMIT,
            c.ORDER_TYPE_BUY_STOP_LIMIT,
            c.ORDER_TYPE_SELL_STOP_LIMIT,
        )
        if spec.filling_mode & c.SYMBOL_FILLING_BOC and order_type in limit_types:
            allowed.add(c.ORDER_FILLING_BOC)
    if filling not in allowed:
        raise Reject(c.TRADE_RETCODE_INVALID_FILL)


def check_stops(spec: SymbolSpec, is_buy: bool, reference: float, sl: float, tp: float) -> None:
    """SL/TP on the right side of ``reference`` and at least the stops level away
    (reference §7.6)."""
    distance = spec.stops_level * spec.point - spec.point * 1e-6
    for level in (sl, tp):
        if level < 0 or (level > 0 and not on_grid(spec, level)):
            raise Reject(c.TRADE_RETCODE_INVALID_STOPS)
    if sl > 0:
        gap = reference - sl if is_buy else sl - reference
        if gap <= 0 or gap < distance:
            raise Reject(c.TRADE_RETCODE_INVALID_STOPS)
    if tp > 0:
        gap = tp - reference if is_buy else reference - tp
        if gap <= 0 or gap < distance:
            raise Reject(c.TRADE_RETCODE_INVALID_STOPS)


def check_position_frozen(spec: SymbolSpec, p: Position, quote: PointTick) -> None:
    """A position whose SL or TP is within the freeze level of the quote cannot be changed."""
    if not spec.freeze_level:
        return
    freeze = spec.freeze_level * spec.point
    bid, ask = quote.bid * spec.point, quote.ask * spec.point
    if p.type == c.POSITION_TYPE_BUY:
        near = (p.sl > 0 and bid - p.sl <= freeze) or (p.tp > 0 and p.tp - bid <= freeze)
    else:
        near = (p.sl > 0 and p.sl - ask <= freeze) or (p.tp > 0 and ask - p.tp <= freeze)
    if near:
        raise Reject(c.TRADE_RETCODE_FROZEN)


def _distance_to_market(spec: SymbolSpec, order_type: int, price: float, quote: PointTick) -> float:
    """How far a pending order's price is from the side of the quote it triggers on, positive
    when it is on the side where it may wait (reference §7.6's table)."""
    bid, ask = quote.bid * spec.point, quote.ask * spec.point
    return {
        c.ORDER_TYPE_BUY_LIMIT: ask - price,
        c.ORDER_TYPE_SELL_LIMIT: price - bid,
        c.ORDER_TYPE_BUY_STOP: price - ask,
        c.ORDER_TYPE_SELL_STOP: bid - price,
        c.ORDER_TYPE_BUY_STOP_LIMIT: price - ask,
        c.ORDER_TYPE_SELL_STOP_LIMIT: bid - price,
    }[order_type]


def check_order_frozen(spec: SymbolSpec, o: Order, quote: PointTick) -> None:
    """A pending order within the freeze level of the quote cannot be modified or removed."""
    if not spec.freeze_level:
        return
    if _distance_to_market(spec, o.type, o.price_open, quote) <= spec.freeze_level * spec.point:
        raise Reject(c.TRADE_RETCODE_FROZEN)


def validate_pending_prices(
    spec: SymbolSpec,
    order_type: int,
    price: float,
    stoplimit: float,
    sl: float,
    tp: float,
    quote: PointTick,
) -> None:
    """A pending order's price on the right side of the market by the stops level, its
    stop-limit price on the right side of its price, and its SL/TP valid from its entry."""
    if price <= 0 or not on_grid(spec, price):
        raise Reject(c.TRADE_RETCODE_INVALID_PRICE)
    stops = spec.stops_level * spec.point - spec.point * 1e-6
    gap = _distance_to_market(spec, order_type, price, quote)
    if gap <= 0 or gap < stops:
        raise Reject(c.TRADE_RETCODE_INVALID_PRICE)
    entry = price
    if order_type in (c.ORDER_TYPE_BUY_STOP_LIMIT, c.ORDER_TYPE_SELL_STOP_LIMIT):
        if stoplimit <= 0 or not on_grid(spec, stoplimit):
            raise Reject(c.TRADE_RETCODE_INVALID_PRICE)
        wrong_side = (
            stoplimit > price if order_type == c.ORDER_TYPE_BUY_STOP_LIMIT else stoplimit < price
        )
        if wrong_side:
            raise Reject(c.TRADE_RETCODE_INVALID_PRICE)
        entry = stoplimit
    check_stops(spec, order_type in BUY_TYPES, entry, sl, tp)


def expiration_of(spec: SymbolSpec, type_time: int, expiration: int, now_ms: int) -> int:
    """The order's expiry (server seconds, 0 = none) for its ``type_time``, or 10022."""
    flag = _EXPIRATION_FLAG.get(type_time)
    if flag is None or not spec.expiration_mode & flag:
        raise Reject(c.TRADE_RETCODE_INVALID_EXPIRATION)
    now_s = now_ms // 1000
    if type_time == c.ORDER_TIME_GTC:
        return 0
    if type_time == c.ORDER_TIME_DAY:
        return (now_s // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY - 1
    if type_time == c.ORDER_TIME_SPECIFIED_DAY:
        end = (expiration // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY - 1
        if expiration <= 0 or end <= now_s:
            raise Reject(c.TRADE_RETCODE_INVALID_EXPIRATION)
        return end
    if expiration <= now_s:
        raise Reject(c.TRADE_RETCODE_INVALID_EXPIRATION)
    return expiration
