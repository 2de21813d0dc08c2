"""The simulated terminal: one hedging account on the simulated market, behind the module calls.

:class:`SimTerminal` is what the terminal and the broker's server do behind the MetaTrader5
module's functions (reference mt5_api.md §7.4, §7.8, §8). It puts together the parts, each in
its own module:

- ``checks``: the trade request rules as pure functions (retcodes of §7.4, §7.6);
- ``planning``: :class:`~actors.broker.sim.planning.RequestPlanner` validates a request against the
  books and returns what to apply;
- ``triggers``: SL/TP, pending orders, expiries, rollover swaps and the stop-out, applied
  between two calls;
- ``pricing``: currency conversion, margin, profit and the account's figures;
- ``books``: positions, orders, history and their changes, persisted in ``sim.db``;
  ``views``: those records as the module's struct types.

Time comes from the injected clock (UTC); every time the terminal reports is the server's
clock, UTC plus the offset in force at that instant (``server_clock.py``). The
books catch up lazily: each call first applies whatever happened (triggers, expiries,
rollovers) between the last call and ``clock.now()``, tick by tick, so the outcome does not
depend on how often the terminal is asked.

The module layer (``module.py``) turns these methods into the 32 functions, with the module's
own argument checks and ``last_error()``; this class assumes well-typed requests.
"""

from __future__ import annotations

import dataclasses
import hmac
import os
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from actors.broker.sim import constants as c
from actors.broker.sim.books import Books, Venue, group_matches, select_history, select_open
from actors.broker.sim.checks import price_of, volume_valid
from actors.broker.sim.config import EXECUTION_MODES, SimConfig
from actors.broker.sim.errors import Reject, TerminalError
from actors.broker.sim.faults import FaultConfig, FaultInjector
from actors.broker.sim.ledger import AccountState
from actors.broker.sim.market import MarketError, SimulatedMarket
from actors.broker.sim.planning import RequestPlanner
from actors.broker.sim.pricing import Pricing
from actors.broker.sim.store import SimStore
from actors.broker.sim.structs import (
    SYMBOL_INFO_FIELDS,
    TRADE_REQUEST_FIELDS,
    AccountInfo,
    OrderCheckResult,
    OrderSendResult,
    SymbolInfo,
    TerminalInfo,
    Tick,
    TradeDeal,
    TradeOrder,
    TradePosition,
    TradeRequest,
)
from actors.broker.sim.triggers import DAY_MS, Triggers
from actors.broker.sim.universe import DEFAULT_UNIVERSE, SymbolSpec
from actors.broker.sim.views import deal_struct, order_struct, position_struct
from actors.runtime.clock import Clock
from messages.server_time import parse_server_time

__all__ = [
    "TERMINAL_BUILD",
    "TERMINAL_RELEASE_DATE",
    "SimTerminal",
    "TerminalError",
    "group_matches",
]

TERMINAL_BUILD = 4755
TERMINAL_RELEASE_DATE = "06 Dec 2024"
_FIRST_ORDER_TICKET = 500_000_001
_FIRST_DEAL_TICKET = 300_000_001
_INT_SYMBOL_FIELDS = frozenset(
    {
        "chart_mode", "session_deals", "session_buy_orders", "session_sell_orders", "volume",
        "volumehigh", "volumelow", "time", "digits", "spread", "ticks_bookdepth",
        "trade_calc_mode", "trade_mode", "start_time", "expiration_time", "trade_stops_level",
        "trade_freeze_level", "trade_exemode", "swap_mode", "swap_rollover3days",
        "expiration_mode", "filling_mode", "order_mode", "order_gtc_mode", "option_mode",
        "option_right",
    }
)  # fmt: skip


def _as_configured(spec: SymbolSpec, config: SimConfig) -> SymbolSpec:
    """A symbol as this account's broker sets it up: stops and freeze levels scaled by
    ``sim.stops_level_scale``, the execution mode of ``sim.execution_mode`` when given."""
    changes: dict[str, Any] = {}
    if config.stops_level_scale != 1.0:
        changes["stops_level"] = round(spec.stops_level * config.stops_level_scale)
        changes["freeze_level"] = round(spec.freeze_level * config.stops_level_scale)
    if config.execution_mode is not None:
        changes["exemode"] = EXECUTION_MODES[config.execution_mode]
    return dataclasses.replace(spec, **changes) if changes else spec


class SimTerminal:
    """One simulated terminal logged into one hedging account, persisted in ``data_dir``."""

    _volume_valid = staticmethod(volume_valid)

    def __init__(
        self,
        config: SimConfig,
        data_dir: str | Path,
        clock: Clock,
        *,
        universe: Mapping[str, SymbolSpec] | None = None,
    ) -> None:
        from actors.broker.sim.replay import ReplayBook

        self.config = config
        self.clock = clock
        self.data_dir = Path(data_dir)
        self.lock = threading.RLock()
        self.server_time = parse_server_time(config.server_time)
        self._now_memo = (-1, 0)  # (UTC ms, server ms) of the last now_ms()
        specs = dict(universe if universe is not None else DEFAULT_UNIVERSE)
        replay = ReplayBook.load(config.replay_csv, specs) if config.replay_csv else None
        if replay is not None:
            specs.update(replay.specs)
        specs = {name: _as_configured(spec, config) for name, spec in specs.items()}
        unknown = [s for s in config.symbols if s not in specs]
        if unknown:
            raise ValueError(f"unknown symbols: {', '.join(unknown)}")
        self.store = SimStore(self.data_dir)
        # terminal_info's paths: resolved once (a poll reads terminal_info every time, and
        # resolving walks the file system).
        self._data_path = str(self.data_dir.resolve())
        saved = self.store.load()
        now_ms = self.now_ms()
        if saved.account is None:
            account = AccountState(
                login=config.login,
                currency=config.currency,
                leverage=config.leverage,
                balance=0.0,
                credit=0.0,
                next_order_ticket=_FIRST_ORDER_TICKET,
                next_deal_ticket=_FIRST_DEAL_TICKET,
                processed_until_ms=now_ms,
                last_rollover_day=now_ms // DAY_MS,
                replay_shift_s=(
                    replay.natural_shift(now_ms // 1000, config.replay_warmup_days)
                    if replay is not None
                    else 0
                ),
            )
        else:
            account = saved.account
        self.account = account
        if replay is not None:
            replay.shift_s = account.replay_shift_s
        self.market = SimulatedMarket(
            seed=config.seed,
            universe=specs,
            history_bars=config.history_bars,
            max_bars=config.max_bars,
            replay=replay,
            spread_points=config.spread_points,
            server_time=self.server_time,
        )
        self.pricing = Pricing(self.market, account)
        self.pricing.check_currency(config.symbols, specs)
        self.faults = FaultInjector(config.faults, config.seed)
        self.books = Books(
            self.store, account, self.pricing, positions=saved.positions, orders=saved.orders,
            history_orders=saved.history_orders, deals=saved.deals,
            commission_per_lot=config.commission_per_lot,
        )  # fmt: skip
        self.positions = self.books.positions
        self.orders = self.books.orders
        self.history_orders = self.books.history_orders
        self.deals = self.books.deals
        venue = Venue(config, self.market, self.books, self.pricing, self.faults)
        self.triggers = Triggers(venue)
        self.desk = RequestPlanner(venue, self.now_ms, config.seed)
        self._selected: list[str] = list(dict.fromkeys(config.symbols))
        if saved.account is None:
            with self.store.transaction():
                if config.balance:
                    self.books.balance_operation(config.balance, "Deposit", now_ms)
                self.store.save_account(account)

    # ---- clock, faults, lifecycle ---------------------------------------------------------

    def now_ms(self) -> int:
        """Server time now, in milliseconds: UTC plus the offset in force now."""
        utc_ms = int(self.clock.now() * 1000)
        at, server_ms = self._now_memo
        if at != utc_ms:  # a driven clock stands still through a poll's many calls
            server_ms = utc_ms + self.server_time.offset_s(utc_ms / 1000) * 1000
            self._now_memo = (utc_ms, server_ms)
        return server_ms

    @property
    def fault_config(self) -> FaultConfig:
        return self.faults.config

    def set_faults(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Change fault switches while running, e.g. ``set_faults(disconnect=True)``."""
        return self.faults.set(config, **changes)

    def close(self) -> None:
        with self.lock:
            self.store.close()

    def authorize(self, login: int | None, password: str | None, server: str | None) -> None:
        """Check credentials given to ``initialize``/``login`` (``None``: the saved ones);
        ``(-6, 'Terminal: Authorization failed')`` for another account, server or password."""
        wrong = (login is not None and login != self.account.login) or (
            server is not None and server != self.config.server
        )
        if password is not None and self.config.password_env is not None:
            expected = os.environ.get(self.config.password_env)
            wrong = wrong or not expected or not hmac.compare_digest(password, expected)
        if wrong:
            raise TerminalError(c.RES_E_AUTH_FAILED, "Terminal: Authorization failed")

    def sync(self) -> None:
        """Apply everything that happened between the last call and now (``triggers.py``)."""
        with self.lock:
            self.triggers.catch_up(self.now_ms())

    # ---- symbols and quotes ---------------------------------------------------------------

    def spec(self, symbol: str) -> SymbolSpec:
        return self.pricing.spec(symbol)

    @property
    def symbol_names(self) -> list[str]:
        return list(self.market.universe)

    def selected(self, symbol: str) -> bool:
        return symbol in self._selected

    def select(self, symbol: str, enable: bool) -> bool:
        self.spec(symbol)
        with self.lock:
            if enable:
                if symbol not in self._selected:
                    self._selected.append(symbol)
                return True
            in_use = any(p.symbol == symbol for p in self.positions.values()) or any(
                o.symbol == symbol for o in self.orders.values()
            )
            if in_use:
                raise TerminalError(c.RES_E_FAIL, "Terminal: Call failed")
            if symbol in self._selected:
                self._selected.remove(symbol)
            return True

    def tick(self, symbol: str) -> Tick:
        spec = self.spec(symbol)
        quote = self.market.quote(symbol, self.now_ms())
        if quote is None:
            raise TerminalError(c.RES_E_FAIL, "Terminal: Call failed")
        return Tick(
            (
                quote.time_msc // 1000,
                price_of(spec, quote.bid),
                price_of(spec, quote.ask),
                0.0,
                0,
                quote.time_msc,
                quote.flags,
                0.0,
            )
        )

    def symbol_info(self, symbol: str) -> SymbolInfo:
        spec = self.spec(symbol)
        now_ms = self.now_ms()
        quote = self.market.quote(symbol, now_ms)
        high, low, session_open, previous_close, _ = self.market.session_stats(symbol, now_ms)
        bid = price_of(spec, quote.bid) if quote else 0.0
        ask = price_of(spec, quote.ask) if quote else 0.0
        spread = (quote.ask - quote.bid) if quote else 0
        tick_value = (
            spec.tick_size
            * spec.contract_size
            * self.pricing.rate_or_one(spec.currency_profit, now_ms, spec, bid)
        )
        change = (
            round((quote.bid - previous_close) / previous_close * 100.0, 2)
            if quote and previous_close
            else 0.0
        )
        values: dict[str, Any] = dict.fromkeys(SYMBOL_INFO_FIELDS, 0)
        values.update(
            custom=False,
            select=self.selected(symbol),
            visible=self.selected(symbol),
            time=quote.time_msc // 1000 if quote else 0,
            digits=spec.digits,
            spread=spread,
            spread_float=True,
            trade_calc_mode=spec.calc_mode,
            trade_mode=spec.trade_mode,
            trade_stops_level=spec.stops_level,
            trade_freeze_level=spec.freeze_level,
            trade_exemode=spec.exemode,
            swap_mode=spec.swap_mode,
            swap_rollover3days=spec.swap_rollover3days,
            margin_hedged_use_leg=True,
            expiration_mode=spec.expiration_mode,
            filling_mode=spec.filling_mode,
            order_mode=spec.order_mode,
            bid=bid,
            bidhigh=price_of(spec, high),
            bidlow=price_of(spec, low),
            ask=ask,
            askhigh=price_of(spec, high + spread) if high else 0.0,
            asklow=price_of(spec, low + spread) if low else 0.0,
            point=spec.point,
            trade_tick_value=round(tick_value, 8),
            trade_tick_value_profit=round(tick_value, 8),
            trade_tick_value_loss=round(tick_value, 8),
            trade_tick_size=spec.tick_size,
            trade_contract_size=spec.contract_size,
            volume_min=spec.volume_min,
            volume_max=spec.volume_max,
            volume_step=spec.volume_step,
            volume_limit=spec.volume_limit,
            swap_long=spec.swap_long,
            swap_short=spec.swap_short,
            session_open=price_of(spec, session_open),
            session_close=price_of(spec, previous_close),
            margin_hedged=spec.contract_size,
            price_change=change,
            basis="",
            category="",
            currency_base=spec.currency_base,
            currency_profit=spec.currency_profit,
            currency_margin=spec.currency_margin,
            bank="",
            description=spec.description,
            exchange="",
            formula="",
            isin="",
            name=spec.name,
            page="",
            path=spec.path,
        )
        for name in SYMBOL_INFO_FIELDS:
            if (
                values[name] == 0
                and name not in _INT_SYMBOL_FIELDS
                and not isinstance(values[name], bool)
            ):
                values[name] = 0.0
        return SymbolInfo(values[name] for name in SYMBOL_INFO_FIELDS)

    # ---- market data ----------------------------------------------------------------------

    def rates_from_pos(self, symbol: str, timeframe: int, start: int, count: int) -> np.ndarray:
        self.spec(symbol)
        self._check_count(count)
        if start < 0:
            raise TerminalError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")
        bars = self._visible(symbol, timeframe, start + count)
        end = len(bars) - start
        return bars[max(0, end - count) : max(0, end)].copy()

    def rates_from(self, symbol: str, timeframe: int, date_from: float, count: int) -> np.ndarray:
        self.spec(symbol)
        self._check_count(count)
        now_ms = self.now_ms()
        seconds = c.TIMEFRAME_SECONDS.get(timeframe, 60)
        behind = max(0, int(now_ms // 1000 - date_from) // seconds)
        bars = self._visible(symbol, timeframe, min(behind + count + 1, self.config.max_bars))
        end = int(np.searchsorted(bars["time"], int(date_from), side="right"))
        return bars[max(0, end - count) : end].copy()

    def rates_range(
        self, symbol: str, timeframe: int, date_from: float, date_to: float
    ) -> np.ndarray:
        self.spec(symbol)
        try:
            return self.market.bars_range(
                symbol, timeframe, int(date_from), int(date_to), self.now_ms()
            )
        except MarketError as error:
            raise TerminalError(error.code, error.description) from None

    def ticks_from(self, symbol: str, date_from_ms: int, count: int, flags: int) -> np.ndarray:
        self.spec(symbol)
        self._check_tick_flags(flags)
        self._check_count(count)
        now_ms = self.now_ms()
        if flags == c.COPY_TICKS_TRADE:
            return self.market.ticks_between(symbol, now_ms + 1, now_ms, now_ms)
        return self.market.ticks_between(symbol, date_from_ms, now_ms, now_ms, limit=count)

    def ticks_range(self, symbol: str, from_ms: int, to_ms: int, flags: int) -> np.ndarray:
        self.spec(symbol)
        self._check_tick_flags(flags)
        now_ms = self.now_ms()
        if flags == c.COPY_TICKS_TRADE:
            # Forex-style symbols have bid/ask ticks only: no trade (last/volume) ticks.
            return self.market.ticks_between(symbol, now_ms + 1, now_ms, now_ms)
        if to_ms - from_ms > 31 * DAY_MS:
            raise TerminalError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")
        return self.market.ticks_between(symbol, from_ms, to_ms, now_ms)

    def _visible(self, symbol: str, timeframe: int, wanted: int) -> np.ndarray:
        try:
            return self.market.visible_bars(symbol, timeframe, self.now_ms(), wanted)
        except MarketError as error:
            raise TerminalError(error.code, error.description) from None

    def _check_count(self, count: int) -> None:
        if count <= 0 or count >= self.config.max_bars:
            raise TerminalError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")

    @staticmethod
    def _check_tick_flags(flags: int) -> None:
        if flags not in (c.COPY_TICKS_ALL, c.COPY_TICKS_INFO, c.COPY_TICKS_TRADE):
            raise TerminalError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")

    # ---- margin and profit ----------------------------------------------------------------

    def calc_margin(self, order_type: int, symbol: str, volume: float, price: float) -> float:
        """``order_calc_margin`` now (``Pricing.calc_margin``)."""
        return self.pricing.calc_margin(order_type, symbol, volume, price, self.now_ms())

    def calc_profit(self, order_type: int, symbol: str, volume: float, *prices: float) -> float:
        """``order_calc_profit(type, symbol, volume, price_open, price_close)`` now."""
        price_open, price_close = prices
        return self.pricing.calc_profit(
            order_type, symbol, volume, price_open, price_close, self.now_ms()
        )

    # ---- account and terminal info --------------------------------------------------------

    def account_info(self) -> AccountInfo:
        with self.lock:
            self.sync()
            figures = self.pricing.figures(self.positions.values(), self.now_ms())
            balance, profit, equity, margin, free, level = figures
            a = self.account
            return AccountInfo(
                (
                    a.login,
                    c.ACCOUNT_TRADE_MODE_DEMO,
                    a.leverage,
                    self.config.limit_orders,
                    c.ACCOUNT_STOPOUT_MODE_PERCENT,
                    True,
                    True,
                    c.ACCOUNT_MARGIN_MODE_RETAIL_HEDGING,
                    2,
                    False,
                    balance,
                    a.credit,
                    profit,
                    equity,
                    margin,
                    free,
                    level,
                    self.config.margin_call_level,
                    self.config.stop_out_level,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    0.0,
                    self.config.account_name,
                    self.config.server,
                    a.currency,
                    self.config.company,
                )
            )

    def terminal_info(self) -> TerminalInfo:
        faults = self.faults.config
        path = self._data_path
        return TerminalInfo(
            (
                False,
                False,
                not faults.trade_server_down,
                False,
                not faults.algo_trading_off,
                False,
                False,
                False,
                False,
                False,
                TERMINAL_BUILD,
                self.config.max_bars,
                0,
                25_000,
                0.0,
                0.0,
                self.config.company,
                "MetaTrader 5 (Ensemble simulator)",
                "English",
                path,
                path,
                path,
            )
        )

    # ---- books ----------------------------------------------------------------------------

    def positions_get(
        self, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradePosition, ...]:
        with self.lock:
            self.sync()
            now_ms = self.now_ms()
            chosen = select_open(self.positions.values(), symbol, group, ticket)
            return tuple(position_struct(self.pricing, p, now_ms) for p in chosen)

    def orders_get(
        self, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradeOrder, ...]:
        with self.lock:
            self.sync()
            now_ms = self.now_ms()
            chosen = select_open(self.orders.values(), symbol, group, ticket)
            return tuple(order_struct(self.pricing, o, now_ms) for o in chosen)

    def history_orders_get(
        self,
        date_from: float | None = None,
        date_to: float | None = None,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ) -> tuple[TradeOrder, ...]:
        with self.lock:
            self.sync()
            chosen = select_history(self.history_orders, "ticket", "time_setup_msc",
                                    date_from, date_to, group, ticket, position)
            return tuple(order_struct(self.pricing, o, None) for o in chosen)

    def history_deals_get(
        self,
        date_from: float | None = None,
        date_to: float | None = None,
        group: str | None = None,
        ticket: int | None = None,
        position: int | None = None,
    ) -> tuple[TradeDeal, ...]:
        with self.lock:
            self.sync()
            # MT5 filters deals' ``ticket=`` by the order that made them.
            chosen = select_history(self.deals, "order", "time_msc", date_from, date_to,
                                    group, ticket, position)
            return tuple(deal_struct(d) for d in chosen)

    def history_orders_total(self, date_from: float, date_to: float) -> int:
        return len(self.history_orders_get(date_from, date_to))

    def history_deals_total(self, date_from: float, date_to: float) -> int:
        return len(self.history_deals_get(date_from, date_to))

    def deposit(self, amount: float, comment: str = "Deposit") -> None:
        """Add (or with a negative amount withdraw) money, as a balance deal."""
        with self.lock, self.store.transaction():
            self.books.balance_operation(amount, comment, self.now_ms())
            self.store.save_account(self.account)

    # ---- trade requests -------------------------------------------------------------------

    def order_send(self, request: Mapping[str, Any]) -> OrderSendResult:
        """Validate and execute a complete, well-typed request (all 17 keys)."""
        with self.lock:
            self.sync()
            echo = TradeRequest(request[name] for name in TRADE_REQUEST_FIELDS)
            try:
                plan = self.desk.plan(request, executing=True)
            except Reject as reject:
                return self.desk.rejection(reject, echo)
            with self.store.transaction():
                result = plan.apply()
                self.store.save_account(self.account)
            return result

    def order_check(self, request: Mapping[str, Any]) -> OrderCheckResult:
        with self.lock:
            self.sync()
            echo = TradeRequest(request[name] for name in TRADE_REQUEST_FIELDS)
            figures = self.pricing.figures(self.positions.values(), self.now_ms())
            balance, profit, equity, margin, free, level = figures
            try:
                plan = self.desk.plan(request, executing=False)
            except Reject as reject:
                text = c.RETCODE_COMMENTS.get(reject.retcode, "Request rejected")
                return OrderCheckResult(
                    (reject.retcode, balance, equity, profit, margin, free, level, text, echo)
                )
            margin_after = plan.margin_after
            free_after = round(equity - margin_after, 2)
            level_after = round(equity / margin_after * 100.0, 2) if margin_after else 0.0
            return OrderCheckResult(
                (0, balance, equity, profit, margin_after, free_after, level_after, "Done", echo)
            )
