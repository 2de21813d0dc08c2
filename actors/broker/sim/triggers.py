"""What the server does on its own between two calls: SL/TP, pending orders, swaps, stop-out.

:class:`Triggers` brings the books up to a server time. :meth:`Triggers.catch_up` finds the
earliest thing that happens after the last processed time (a position's stop loss or take profit
touched on the right side of the quote — a buy closes at the bid, a sell at the ask —, a pending
order's price reached, an order's expiry, the daily rollover) and applies it, each in its own
store transaction, then looks again from there, so the outcome is the same however often the
terminal is asked. Ties at one millisecond go rollover, SL, TP, pending trigger, expiry. After
catching up, the account is stopped out (worst position first) while its margin level is below
``stop_out_level``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from actors.broker.sim import constants as c
from actors.broker.sim.books import Venue
from actors.broker.sim.checks import BUY_TYPES, price_of
from actors.broker.sim.ledger import Order, Position
from actors.broker.sim.market import SECONDS_PER_DAY, PointTick, Touch, weekday_of_day
from actors.broker.sim.pricing import virtual_position

__all__ = ["DAY_MS", "Triggers"]

DAY_MS = SECONDS_PER_DAY * 1000
_MAX_EVENTS_PER_CATCH_UP = 100_000


@dataclass(frozen=True, slots=True)
class _Event:
    time_ms: int
    priority: int
    apply: Callable[[], None]


class Triggers:
    """The server-side events of one account's books."""

    def __init__(self, venue: Venue) -> None:
        self.config, self.market, self.books, self.pricing, self.faults = venue

    def catch_up(self, now_ms: int) -> None:
        """Apply everything that happened between the last processed time and ``now_ms``:
        SL/TP and pending triggers (first touching tick), expiries and rollover swaps, in time
        order; then the stop-out."""
        books = self.books
        account = books.account
        if now_ms < account.processed_until_ms:
            # The server's clock was set back (the autumn DST switch): the hour it shows again
            # has the same prices, so what did not trigger then does not now, and what was
            # opened or changed since is sought from its own time.
            account.processed_until_ms = now_ms
        if now_ms > account.processed_until_ms:
            after = account.processed_until_ms
            for _ in range(_MAX_EVENTS_PER_CATCH_UP):
                event = self._next_event(after, now_ms)
                if event is None:
                    break
                with books.store.transaction():
                    event.apply()
                    account.processed_until_ms = event.time_ms
                    books.store.save_account(account)
                after = event.time_ms - 1
            account.processed_until_ms = now_ms
        if books.positions:
            self._stop_out(now_ms)

    def _next_event(self, after: int, until: int) -> _Event | None:
        best: _Event | None = None

        def consider(event: _Event | None) -> None:
            nonlocal best
            if event is not None and (
                best is None or (event.time_ms, event.priority) < (best.time_ms, best.priority)
            ):
                best = event

        next_day = max(after // DAY_MS + 1, self.books.account.last_rollover_day + 1)
        if next_day * DAY_MS <= until:
            consider(_Event(next_day * DAY_MS, 0, lambda: self._rollover(next_day)))
        for position in list(self.books.positions.values()):
            consider(self._position_trigger(position, after, until))
        for order in list(self.books.orders.values()):
            consider(self._order_event(order, after, until))
        return best

    # ---- positions: stop loss and take profit ----------------------------------------------

    def _position_trigger(self, p: Position, after: int, until: int) -> _Event | None:
        start = max(after, self.books.scan_from.get(p.ticket, p.time_msc))
        spec = self.market.universe[p.symbol]
        side = "bid" if p.type == c.POSITION_TYPE_BUY else "ask"
        is_buy = p.type == c.POSITION_TYPE_BUY
        candidates: list[tuple[Touch, int, int]] = []
        if p.sl > 0:
            level = round(p.sl / spec.point)
            touch = self.market.first_touch(p.symbol, start, until, side, not is_buy, level)
            if touch is not None:
                candidates.append((touch, 1, c.DEAL_REASON_SL))
        if p.tp > 0:
            level = round(p.tp / spec.point)
            touch = self.market.first_touch(p.symbol, start, until, side, is_buy, level)
            if touch is not None:
                candidates.append((touch, 2, c.DEAL_REASON_TP))
        if not candidates:
            return None
        touch, priority, reason = min(candidates, key=lambda t: (t[0].time_msc, t[1]))
        bar_ms = self.config.pessimistic_bar_s * 1000
        if bar_ms and len(candidates) == 2 and (
            candidates[0][0].time_msc // bar_ms == candidates[1][0].time_msc // bar_ms
        ):
            touch, priority, reason = candidates[0]  # both inside one bar: the stop first
        return _Event(touch.time_msc, priority, lambda: self._stop_hit(p, touch, reason))

    def _stop_hit(self, p: Position, touch: Touch, reason: int) -> None:
        spec = self.market.universe[p.symbol]
        is_buy = p.type == c.POSITION_TYPE_BUY
        price = price_of(spec, touch.bid if is_buy else touch.ask)
        level = p.sl if reason == c.DEAL_REASON_SL else p.tp
        tag = "sl" if reason == c.DEAL_REASON_SL else "tp"
        self.books.close_at_market(
            p, price=price,
            order_reason=c.ORDER_REASON_SL if reason == c.DEAL_REASON_SL else c.ORDER_REASON_TP,
            deal_reason=reason, comment=f"[{tag} {level:.{spec.digits}f}]",
            now_ms=touch.time_msc,
        )  # fmt: skip

    # ---- pending orders: trigger and expiry ------------------------------------------------

    def _order_event(self, o: Order, after: int, until: int) -> _Event | None:
        start = max(after, self.books.scan_from.get(o.ticket, o.time_setup_msc))
        expiry_ms = o.time_expiration * 1000 if o.type_time != c.ORDER_TIME_GTC else 0
        horizon = min(until, expiry_ms) if expiry_ms else until
        spec = self.market.universe[o.symbol]
        is_buy = o.type in BUY_TYPES
        side = "ask" if is_buy else "bid"
        above = o.type in (
            c.ORDER_TYPE_BUY_STOP,
            c.ORDER_TYPE_BUY_STOP_LIMIT,
            c.ORDER_TYPE_SELL_LIMIT,
        )
        touch = self.market.first_touch(
            o.symbol, start, horizon, side, above, round(o.price_open / spec.point)
        )
        if touch is not None:
            return _Event(touch.time_msc, 3, lambda: self._order_triggered(o, touch))
        if expiry_ms and after < expiry_ms <= until:
            return _Event(
                expiry_ms, 4, lambda: self.books.retire_order(o, c.ORDER_STATE_EXPIRED, expiry_ms)
            )
        return None

    def _order_triggered(self, o: Order, touch: Touch) -> None:
        books = self.books
        spec = self.market.universe[o.symbol]
        if o.type in (c.ORDER_TYPE_BUY_STOP_LIMIT, c.ORDER_TYPE_SELL_STOP_LIMIT):
            # The stop price was reached: the order becomes a limit order at its stop-limit price.
            o.type = (
                c.ORDER_TYPE_BUY_LIMIT
                if o.type == c.ORDER_TYPE_BUY_STOP_LIMIT
                else c.ORDER_TYPE_SELL_LIMIT
            )
            o.price_open = o.price_stoplimit
            books.scan_from[o.ticket] = touch.time_msc
            books.store.save_order(o)
            return
        is_buy = o.type in BUY_TYPES
        price = price_of(spec, touch.ask if is_buy else touch.bid)
        direction = c.ORDER_TYPE_BUY if is_buy else c.ORDER_TYPE_SELL
        margin_after = self.pricing.margin(
            [
                *books.positions.values(),
                virtual_position(o.symbol, direction, o.volume_current, price),
            ],
            touch.time_msc,
        )
        _, _, equity, _, _, _ = self.pricing.figures(books.positions.values(), touch.time_msc)
        if margin_after > equity or self.faults.config.no_money:
            o.comment = o.comment or "[no money]"
            books.retire_order(o, c.ORDER_STATE_REJECTED, touch.time_msc)
            return
        books.open_position(
            ticket=o.ticket, symbol=o.symbol, order_type=direction, volume=o.volume_current,
            price=price, sl=o.sl, tp=o.tp, magic=o.magic, comment=o.comment,
            now_ms=touch.time_msc,
        )  # fmt: skip
        o.position_id = o.ticket
        o.price_current = price
        o.volume_current = 0.0
        books.retire_order(o, c.ORDER_STATE_FILLED, touch.time_msc)

    # ---- the daily rollover and the stop-out -----------------------------------------------

    def _rollover(self, day: int) -> None:
        """Charge the night's swap to every position open at server midnight (three nights'
        worth on the symbol's ``swap_rollover3days``)."""
        self.books.account.last_rollover_day = day
        midnight_ms = day * DAY_MS
        previous_weekday = weekday_of_day(day - 1)
        for p in self.books.positions.values():
            if p.time_msc >= midnight_ms:
                continue
            spec = self.market.universe[p.symbol]
            if not spec.sessions[previous_weekday] or spec.swap_mode != c.SYMBOL_SWAP_MODE_POINTS:
                continue
            nights = 3 if previous_weekday == spec.swap_rollover3days else 1
            points = spec.swap_long if p.type == c.POSITION_TYPE_BUY else spec.swap_short
            amount = points * spec.point * spec.contract_size * p.volume * nights
            rate = self.pricing.rate(spec.currency_profit, midnight_ms)
            p.swap = round(p.swap + amount * rate, 2)
            self.books.store.save_position(p)

    def _stop_out(self, now_ms: int) -> None:
        books = self.books
        for _ in range(len(books.positions)):
            _, _, equity, margin, _, level = self.pricing.figures(books.positions.values(), now_ms)
            if not margin or level >= self.config.stop_out_level:
                return
            worst: tuple[float, Position, PointTick] | None = None
            for p in books.positions.values():
                quote = self.market.quote(p.symbol, now_ms)
                if quote is None or not self.market.in_session(p.symbol, now_ms):
                    continue
                profit = self.pricing.position_profit(p, quote, now_ms)
                if worst is None or profit < worst[0]:
                    worst = (profit, p, quote)
            if worst is None:
                return
            _, p, quote = worst
            with books.store.transaction():
                books.close_at_market(
                    p, price=self.pricing.closing_price(p, quote),
                    order_reason=c.ORDER_REASON_SO, deal_reason=c.DEAL_REASON_SO,
                    comment=f"[so {level:.2f}%/{equity:.2f}/{margin:.2f}]"[:31], now_ms=now_ms,
                )  # fmt: skip
                books.store.save_account(books.account)
