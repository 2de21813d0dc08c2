"""Order planning: a trade request validated against the books and turned into what to apply.

:meth:`RequestPlanner.plan` takes a complete, well-typed request (all 17 keys), runs the server's
checks for its action in the documented order (``checks.py``; reference mt5_api.md §7.4) and
returns a :class:`Plan`: the account margin afterwards (for ``order_check``) and a function that
applies the request to the books and returns the ``OrderSendResult`` (§7.8). A refused request
raises :class:`~actors.broker.sim.errors.Reject`; :meth:`RequestPlanner.rejection` turns it into the
result a real terminal gives (``request_id`` 0 for terminal-side refusals, fresh quotes on a
requote). Nothing changes until ``apply`` runs, inside the caller's store transaction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from actors.broker.sim import constants as c
from actors.broker.sim.books import Venue
from actors.broker.sim.checks import (
    BUY_TYPES,
    ORDER_MODE_FLAG,
    PENDING_TYPES,
    TERMINAL_SIDE,
    TRADE_ACTIONS,
    check_filling,
    check_order_frozen,
    check_position_frozen,
    check_stops,
    check_trade_mode,
    expiration_of,
    price_of,
    validate_pending_prices,
    volume_valid,
)
from actors.broker.sim.errors import Reject
from actors.broker.sim.ledger import Order, Position
from actors.broker.sim.market import PointTick
from actors.broker.sim.pricing import virtual_position
from actors.broker.sim.structs import TRADE_REQUEST_FIELDS, OrderSendResult, TradeRequest
from actors.broker.sim.universe import SymbolSpec

__all__ = ["Plan", "RequestPlanner"]


@dataclass(frozen=True, slots=True)
class Plan:
    """A validated request, ready to apply; ``margin_after`` is the account margin afterwards."""

    apply: Callable[[], OrderSendResult]
    margin_after: float


class RequestPlanner:
    """Validates and plans the trade requests of one account."""

    def __init__(self, venue: Venue, now_ms: Callable[[], int], seed: int) -> None:
        self.config, self.market, self.books, self.pricing, self.faults = venue
        self.now_ms = now_ms
        self._request_id = 0
        self._latency_rng = np.random.default_rng([int(seed), 0x51199])

    def _booked_comment(self, comment: str, ticket: int) -> str:
        """The comment the broker books for a request's order, deal or position
        (``sim.comment_rewrite``)."""
        mode = self.config.comment_rewrite
        if mode == "truncate":
            return comment[: self.config.comment_rewrite_length]
        if mode == "replace":
            return f"#{ticket}"
        return comment

    def _execution_quote(self, spec: SymbolSpec, quote: PointTick, now_ms: int) -> PointTick:
        """The quote a market order fills at: ``sim.execution_delay_ms`` (with a seeded jitter
        of 0.5..1.5) after it arrived, so that fills slip when the market moves fast."""
        delay_ms = self.config.execution_delay_ms
        if not delay_ms:
            return quote
        jitter = float(self._latency_rng.uniform(0.5, 1.5))
        later = self.market.quote(spec.name, now_ms + round(delay_ms * jitter))
        return later if later is not None else quote

    def plan(self, request: Mapping[str, Any], *, executing: bool) -> Plan:
        faults = self.faults.config
        if faults.trade_server_down:
            raise Reject(c.TRADE_RETCODE_CONNECTION)
        if faults.algo_trading_off:
            raise Reject(c.TRADE_RETCODE_CLIENT_DISABLES_AT)
        action = request["action"]
        if action not in TRADE_ACTIONS:
            raise Reject(c.TRADE_RETCODE_INVALID)
        handler = {
            c.TRADE_ACTION_DEAL: self._plan_deal,
            c.TRADE_ACTION_PENDING: self._plan_pending,
            c.TRADE_ACTION_SLTP: self._plan_sltp,
            c.TRADE_ACTION_MODIFY: self._plan_modify,
            c.TRADE_ACTION_REMOVE: self._plan_remove,
            c.TRADE_ACTION_CLOSE_BY: self._plan_close_by,
        }[action]
        return handler(dict(request), executing)

    # ---- results ---------------------------------------------------------------------------

    def rejection(self, reject: Reject, echo: TradeRequest) -> OrderSendResult:
        terminal_side = reject.retcode in TERMINAL_SIDE
        request_id = 0 if terminal_side else self._new_request_id()
        bid = ask = 0.0
        if reject.quote is not None:
            spec = self.market.universe[echo.symbol]
            bid, ask = price_of(spec, reject.quote.bid), price_of(spec, reject.quote.ask)
        comment = c.RETCODE_COMMENTS.get(reject.retcode, "Request rejected")
        return OrderSendResult(
            (reject.retcode, 0, 0, 0.0, 0.0, bid, ask, comment, request_id, 0, echo)
        )

    def _new_request_id(self) -> int:
        self._request_id += 1
        return self._request_id

    def _done(
        self,
        echo_request: Mapping[str, Any],
        *,
        retcode: int = c.TRADE_RETCODE_DONE,
        deal: int = 0,
        order: int = 0,
        volume: float = 0.0,
        price: float = 0.0,
        quote: PointTick | None = None,
    ) -> OrderSendResult:
        bid = ask = 0.0
        if quote is not None:
            spec = self.market.universe[echo_request["symbol"]]
            bid, ask = price_of(spec, quote.bid), price_of(spec, quote.ask)
        echo = TradeRequest(echo_request[name] for name in TRADE_REQUEST_FIELDS)
        return OrderSendResult(
            (
                retcode, deal, order, volume, price, bid, ask,
                c.RETCODE_COMMENTS[retcode], self._new_request_id(), 0, echo,
            )
        )  # fmt: skip

    # ---- checks that read the books --------------------------------------------------------

    def _symbol_spec(self, symbol: str) -> SymbolSpec:
        spec = self.market.universe.get(symbol)
        if spec is None:
            raise Reject(c.TRADE_RETCODE_INVALID)
        return spec

    def _require_session(self, spec: SymbolSpec, now_ms: int) -> PointTick:
        if spec.trade_mode == c.SYMBOL_TRADE_MODE_DISABLED:
            raise Reject(c.TRADE_RETCODE_TRADE_DISABLED)
        if not self.market.in_session(spec.name, now_ms):
            raise Reject(c.TRADE_RETCODE_MARKET_CLOSED)
        quote = self.market.quote(spec.name, now_ms)
        if quote is None:
            raise Reject(c.TRADE_RETCODE_PRICE_OFF)
        return quote

    def _check_frozen(self, spec: SymbolSpec, position: Position, quote: PointTick) -> None:
        if self.faults.take("frozen_position_requests"):
            raise Reject(c.TRADE_RETCODE_FROZEN)
        check_position_frozen(spec, position, quote)

    def _margin_now(self, now_ms: int) -> float:
        return self.pricing.margin(self.books.positions.values(), now_ms)

    def _check_margin(
        self, symbol: str, order_type: int, volume: float, price: float, now_ms: int
    ) -> float:
        if self.faults.config.no_money:
            raise Reject(c.TRADE_RETCODE_NO_MONEY)
        positions = self.books.positions.values()
        margin_after = self.pricing.margin(
            [*positions, virtual_position(symbol, order_type, volume, price)], now_ms
        )
        _, _, equity, _, _, _ = self.pricing.figures(positions, now_ms)
        if margin_after > equity:
            raise Reject(c.TRADE_RETCODE_NO_MONEY)
        return margin_after

    def _check_volume_limit(self, spec: SymbolSpec, is_buy: bool, volume: float) -> None:
        if not spec.volume_limit:
            return
        same_side = sum(
            p.volume
            for p in self.books.positions.values()
            if p.symbol == spec.name and (p.type == c.POSITION_TYPE_BUY) == is_buy
        ) + sum(
            o.volume_current
            for o in self.books.orders.values()
            if o.symbol == spec.name and (o.type in BUY_TYPES) == is_buy
        )
        if same_side + volume > spec.volume_limit + 1e-9:
            raise Reject(c.TRADE_RETCODE_LIMIT_VOLUME)

    # ---- TRADE_ACTION_DEAL -----------------------------------------------------------------

    def _plan_deal(self, r: dict[str, Any], executing: bool) -> Plan:
        now_ms = self.now_ms()
        books = self.books
        position: Position | None = None
        if r["position"]:
            position = books.positions.get(r["position"])
            if position is None:
                raise Reject(c.TRADE_RETCODE_INVALID)
            if not r["symbol"]:
                r["symbol"] = position.symbol
            if r["symbol"] != position.symbol:
                raise Reject(c.TRADE_RETCODE_INVALID)
        spec = self._symbol_spec(r["symbol"])
        order_type = r["type"]
        if order_type not in (c.ORDER_TYPE_BUY, c.ORDER_TYPE_SELL):
            raise Reject(c.TRADE_RETCODE_INVALID)
        is_buy = order_type == c.ORDER_TYPE_BUY
        if position is not None and (position.type == c.POSITION_TYPE_BUY) == is_buy:
            raise Reject(c.TRADE_RETCODE_INVALID)
        opening = position is None
        check_trade_mode(spec, order_type, opening)
        quote = self._require_session(spec, now_ms)
        if not spec.order_mode & c.SYMBOL_ORDER_MARKET:
            raise Reject(c.TRADE_RETCODE_INVALID_ORDER)
        volume = r["volume"]
        if not volume_valid(spec, volume):
            raise Reject(c.TRADE_RETCODE_INVALID_VOLUME)
        if position is not None and volume > position.volume + 1e-9:
            raise Reject(c.TRADE_RETCODE_INVALID_CLOSE_VOLUME)
        if opening:
            self._check_volume_limit(spec, is_buy, volume)
        check_filling(spec, r["type_filling"], False, order_type)
        if position is not None:
            self._check_frozen(spec, position, quote)
        market_price = price_of(spec, quote.ask if is_buy else quote.bid)
        if opening:
            # SL/TP of a new buy are measured from the bid it will close at, of a sell from
            # the ask (reference §7.6).
            reference = price_of(spec, quote.bid if is_buy else quote.ask)
            check_stops(spec, is_buy, reference, r["sl"], r["tp"])
        instant = spec.exemode in (
            c.SYMBOL_TRADE_EXECUTION_INSTANT,
            c.SYMBOL_TRADE_EXECUTION_REQUEST,
        )
        if instant and r["price"] <= 0:
            raise Reject(c.TRADE_RETCODE_INVALID_PRICE)
        if (
            opening
            and self.config.limit_positions
            and (len(books.positions) >= self.config.limit_positions)
        ):
            raise Reject(c.TRADE_RETCODE_LIMIT_POSITIONS)
        margin_after = self._margin_now(now_ms)
        if opening:
            margin_after = self._check_margin(spec.name, order_type, volume, market_price, now_ms)
        if executing:
            faults = self.faults.config
            if self.faults.roll(faults.price_off_rate):
                raise Reject(c.TRADE_RETCODE_PRICE_OFF)
            if self.faults.roll(faults.requote_rate):
                raise Reject(c.TRADE_RETCODE_REQUOTE, quote)
            quote = self._execution_quote(spec, quote, now_ms)
            market_price = price_of(spec, quote.ask if is_buy else quote.bid)
            if instant and abs(r["price"] - market_price) > r["deviation"] * spec.point + 1e-12:
                retcode = (
                    c.TRADE_RETCODE_PRICE_CHANGED
                    if spec.exemode == c.SYMBOL_TRADE_EXECUTION_REQUEST
                    else c.TRADE_RETCODE_REQUOTE
                )
                raise Reject(retcode, quote)

        def apply() -> OrderSendResult:
            ticket = books.next_order_ticket()
            comment = self._booked_comment(r["comment"], ticket)
            if position is None:
                books.history_order(
                    ticket=ticket, symbol=spec.name, order_type=order_type, volume=volume,
                    price=market_price, magic=r["magic"], comment=comment,
                    reason=c.ORDER_REASON_EXPERT, position_id=ticket, now_ms=now_ms,
                    type_filling=r["type_filling"], sl=r["sl"], tp=r["tp"],
                )  # fmt: skip
                deal = books.open_position(
                    ticket=ticket, symbol=spec.name, order_type=order_type, volume=volume,
                    price=market_price, sl=r["sl"], tp=r["tp"], magic=r["magic"],
                    comment=comment, now_ms=now_ms,
                )  # fmt: skip
            else:
                books.history_order(
                    ticket=ticket, symbol=spec.name, order_type=order_type, volume=volume,
                    price=market_price, magic=r["magic"], comment=comment,
                    reason=c.ORDER_REASON_EXPERT, position_id=position.identifier, now_ms=now_ms,
                    type_filling=r["type_filling"],
                )  # fmt: skip
                deal = books.close_position(
                    position, volume=volume, price=market_price, order_ticket=ticket,
                    reason=c.DEAL_REASON_EXPERT, comment=comment, magic=r["magic"],
                    now_ms=now_ms,
                )  # fmt: skip
            return self._done(
                r, deal=deal.ticket, order=ticket, volume=volume, price=market_price, quote=quote
            )

        return Plan(apply, margin_after)

    # ---- TRADE_ACTION_PENDING, MODIFY and REMOVE -------------------------------------------

    def _plan_pending(self, r: dict[str, Any], executing: bool) -> Plan:
        now_ms = self.now_ms()
        spec = self._symbol_spec(r["symbol"])
        order_type = r["type"]
        if order_type not in PENDING_TYPES:
            raise Reject(c.TRADE_RETCODE_INVALID_ORDER)
        check_trade_mode(spec, order_type, True)
        quote = self._require_session(spec, now_ms)
        if not spec.order_mode & ORDER_MODE_FLAG[order_type]:
            raise Reject(c.TRADE_RETCODE_INVALID_ORDER)
        volume = r["volume"]
        if not volume_valid(spec, volume):
            raise Reject(c.TRADE_RETCODE_INVALID_VOLUME)
        self._check_volume_limit(spec, order_type in BUY_TYPES, volume)
        check_filling(spec, r["type_filling"], True, order_type)
        expiration = expiration_of(spec, r["type_time"], r["expiration"], now_ms)
        validate_pending_prices(
            spec, order_type, r["price"], r["stoplimit"], r["sl"], r["tp"], quote
        )
        if self.config.limit_orders and len(self.books.orders) >= self.config.limit_orders:
            raise Reject(c.TRADE_RETCODE_LIMIT_ORDERS)
        margin_now = self._margin_now(now_ms)

        def apply() -> OrderSendResult:
            ticket = self.books.next_order_ticket()
            order = Order(
                ticket=ticket, time_setup_msc=now_ms, time_done_msc=0, time_expiration=expiration,
                type=order_type, type_time=r["type_time"], type_filling=r["type_filling"],
                state=c.ORDER_STATE_PLACED, magic=r["magic"], position_id=0, position_by_id=0,
                reason=c.ORDER_REASON_EXPERT, volume_initial=volume, volume_current=volume,
                price_open=r["price"], sl=r["sl"], tp=r["tp"], price_current=0.0,
                price_stoplimit=r["stoplimit"], symbol=spec.name,
                comment=self._booked_comment(r["comment"], ticket),
            )  # fmt: skip
            self.books.add_order(order, now_ms)
            return self._done(
                r, retcode=c.TRADE_RETCODE_PLACED, order=ticket, volume=volume, price=r["price"]
            )

        return Plan(apply, margin_now)

    def _plan_modify(self, r: dict[str, Any], executing: bool) -> Plan:
        now_ms = self.now_ms()
        order = self.books.orders.get(r["order"])
        if order is None:
            raise Reject(c.TRADE_RETCODE_INVALID)
        if r["symbol"] and r["symbol"] != order.symbol:
            raise Reject(c.TRADE_RETCODE_INVALID)
        r["symbol"] = order.symbol
        spec = self._symbol_spec(order.symbol)
        quote = self._require_session(spec, now_ms)
        stoplimit = r["stoplimit"] or order.price_stoplimit
        unchanged = (
            r["price"] == order.price_open
            and r["sl"] == order.sl
            and r["tp"] == order.tp
            and r["type_time"] == order.type_time
            and stoplimit == order.price_stoplimit
            and (r["type_time"] == c.ORDER_TIME_GTC or r["expiration"] == order.time_expiration)
        )
        if unchanged:
            raise Reject(c.TRADE_RETCODE_NO_CHANGES)
        check_order_frozen(spec, order, quote)
        expiration = expiration_of(spec, r["type_time"], r["expiration"], now_ms)
        validate_pending_prices(spec, order.type, r["price"], stoplimit, r["sl"], r["tp"], quote)
        margin_now = self._margin_now(now_ms)

        def apply() -> OrderSendResult:
            order.price_open, order.sl, order.tp = r["price"], r["sl"], r["tp"]
            order.price_stoplimit = stoplimit
            order.type_time, order.time_expiration = r["type_time"], expiration
            self.books.scan_from[order.ticket] = now_ms
            self.books.store.save_order(order)
            return self._done(r, order=order.ticket)

        return Plan(apply, margin_now)

    def _plan_remove(self, r: dict[str, Any], executing: bool) -> Plan:
        now_ms = self.now_ms()
        order = self.books.orders.get(r["order"])
        if order is None:
            raise Reject(c.TRADE_RETCODE_INVALID)
        r["symbol"] = r["symbol"] or order.symbol
        spec = self._symbol_spec(order.symbol)
        quote = self._require_session(spec, now_ms)
        check_order_frozen(spec, order, quote)
        margin_now = self._margin_now(now_ms)

        def apply() -> OrderSendResult:
            self.books.retire_order(order, c.ORDER_STATE_CANCELED, now_ms)
            return self._done(r, order=order.ticket)

        return Plan(apply, margin_now)

    # ---- TRADE_ACTION_SLTP -----------------------------------------------------------------

    def _plan_sltp(self, r: dict[str, Any], executing: bool) -> Plan:
        now_ms = self.now_ms()
        position = self.books.positions.get(r["position"])
        if position is None:
            raise Reject(c.TRADE_RETCODE_INVALID)
        if r["symbol"] and r["symbol"] != position.symbol:
            raise Reject(c.TRADE_RETCODE_INVALID)
        r["symbol"] = position.symbol
        spec = self._symbol_spec(position.symbol)
        quote = self._require_session(spec, now_ms)
        if r["sl"] == position.sl and r["tp"] == position.tp:
            raise Reject(c.TRADE_RETCODE_NO_CHANGES)
        self._check_frozen(spec, position, quote)
        is_buy = position.type == c.POSITION_TYPE_BUY
        reference = price_of(spec, quote.bid if is_buy else quote.ask)
        check_stops(spec, is_buy, reference, r["sl"], r["tp"])
        margin_now = self._margin_now(now_ms)

        def apply() -> OrderSendResult:
            position.sl, position.tp = r["sl"], r["tp"]
            position.time_update_msc = now_ms
            self.books.scan_from[position.ticket] = now_ms
            self.books.store.save_position(position)
            return self._done(r)

        return Plan(apply, margin_now)

    # ---- TRADE_ACTION_CLOSE_BY -------------------------------------------------------------

    def _plan_close_by(self, r: dict[str, Any], executing: bool) -> Plan:
        now_ms = self.now_ms()
        books = self.books
        first = books.positions.get(r["position"])
        second = books.positions.get(r["position_by"])
        if first is None or second is None or first.symbol != second.symbol:
            raise Reject(c.TRADE_RETCODE_INVALID)
        if first.type == second.type:
            raise Reject(c.TRADE_RETCODE_INVALID)
        r["symbol"] = r["symbol"] or first.symbol
        spec = self._symbol_spec(first.symbol)
        if not spec.order_mode & c.SYMBOL_ORDER_CLOSEBY:
            raise Reject(c.TRADE_RETCODE_INVALID_ORDER)
        self._require_session(spec, now_ms)
        margin_now = self._margin_now(now_ms)

        def apply() -> OrderSendResult:
            volume = min(first.volume, second.volume)
            ticket = books.next_order_ticket()
            comment = self._booked_comment(r["comment"], ticket)
            books.history_order(
                ticket=ticket, symbol=spec.name, order_type=c.ORDER_TYPE_CLOSE_BY, volume=volume,
                price=0.0, magic=r["magic"], comment=comment, reason=c.ORDER_REASON_EXPERT,
                position_id=first.identifier, position_by_id=second.identifier, now_ms=now_ms,
            )  # fmt: skip
            # Both legs close at the opposite position's open price, as MT5 does: the first
            # realises the pair's whole P&L, the second none, and no spread is paid again.
            first_price = second_price = second.price_open
            books.close_position(
                first, volume=volume, price=first_price, order_ticket=ticket,
                reason=c.DEAL_REASON_EXPERT, comment=comment, magic=r["magic"],
                now_ms=now_ms, entry=c.DEAL_ENTRY_OUT_BY,
            )  # fmt: skip
            deal = books.close_position(
                second, volume=volume, price=second_price, order_ticket=ticket,
                reason=c.DEAL_REASON_EXPERT, comment=comment, magic=r["magic"],
                now_ms=now_ms, entry=c.DEAL_ENTRY_OUT_BY,
            )  # fmt: skip
            return self._done(r, deal=deal.ticket, order=ticket, volume=volume)

        return Plan(apply, margin_now)
