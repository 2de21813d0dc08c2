"""The simulated terminal and its trade server: a hedging account that trades the simulated market.

:class:`SimTerminal` does what the terminal and the broker's server do behind the MetaTrader5
module's functions (reference mt5_api.md §7.4, §7.8, §8): it validates trade requests in the
documented order and answers with the real retcodes, executes market orders at the current
bid/ask, keeps pending orders until the market reaches them, closes positions when a stop loss or
take profit is touched on the right side of the quote (a buy closes at the bid, a sell at the
ask), charges swaps at the daily rollover, computes margin, equity and floating and realised
P&L, stops the account out, and writes every change to ``sim.db`` in one transaction per trade.

Time comes from the injected clock; the server clock is UTC plus the configured offset, and every
time the terminal reports is server time. The books catch up lazily: each call first applies
whatever happened (triggers, expiries, rollovers) between the last call and ``clock.now()``,
tick by tick, so the outcome does not depend on how often the terminal is asked.

The module layer (``module.py``) turns these methods into the 32 functions, with the module's
own argument checks and ``last_error()``; this class assumes well-typed requests.
"""

from __future__ import annotations

import fnmatch
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from actors.broker.sim import constants as c
from actors.broker.sim.config import SimConfig
from actors.broker.sim.faults import FaultConfig, FaultInjector
from actors.broker.sim.ledger import AccountState, Deal, Order, Position
from actors.broker.sim.market import (
    SECONDS_PER_DAY,
    Market,
    MarketError,
    Quote,
    Touch,
    weekday_of_day,
)
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
from actors.broker.sim.universe import DEFAULT_UNIVERSE, SymbolSpec
from actors.runtime.clock import Clock

__all__ = ["TERMINAL_BUILD", "SimTerminal", "TerminalError", "group_matches"]

TERMINAL_BUILD = 4755
TERMINAL_RELEASE_DATE = "06 Dec 2024"
_DAY_MS = SECONDS_PER_DAY * 1000
_FIRST_ORDER_TICKET = 500_000_001
_FIRST_DEAL_TICKET = 300_000_001
_BUY_TYPES = frozenset(
    {c.ORDER_TYPE_BUY, c.ORDER_TYPE_BUY_LIMIT, c.ORDER_TYPE_BUY_STOP, c.ORDER_TYPE_BUY_STOP_LIMIT}
)
_PENDING_TYPES = frozenset(range(c.ORDER_TYPE_BUY_LIMIT, c.ORDER_TYPE_SELL_STOP_LIMIT + 1))
_TRADE_ACTIONS = frozenset(
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
_ORDER_MODE_FLAG = {
    c.ORDER_TYPE_BUY: c.SYMBOL_ORDER_MARKET,
    c.ORDER_TYPE_SELL: c.SYMBOL_ORDER_MARKET,
    c.ORDER_TYPE_BUY_LIMIT: c.SYMBOL_ORDER_LIMIT,
    c.ORDER_TYPE_SELL_LIMIT: c.SYMBOL_ORDER_LIMIT,
    c.ORDER_TYPE_BUY_STOP: c.SYMBOL_ORDER_STOP,
    c.ORDER_TYPE_SELL_STOP: c.SYMBOL_ORDER_STOP,
    c.ORDER_TYPE_BUY_STOP_LIMIT: c.SYMBOL_ORDER_STOP_LIMIT,
    c.ORDER_TYPE_SELL_STOP_LIMIT: c.SYMBOL_ORDER_STOP_LIMIT,
}
# Retcodes the terminal itself gives before anything reaches the server (request_id 0).
_TERMINAL_SIDE = frozenset(
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


class TerminalError(Exception):
    """A call that fails as a whole: ``None``/``False`` and ``last_error() == (code, text)``."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(code, description)
        self.code = code
        self.description = description


class _Reject(Exception):
    def __init__(self, retcode: int, quote: Quote | None = None) -> None:
        super().__init__(retcode)
        self.retcode = retcode
        self.quote = quote


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


@dataclass(frozen=True, slots=True)
class _Plan:
    """A validated request, ready to apply; ``margin_after`` is the account margin afterwards."""

    apply: Callable[[], OrderSendResult]
    margin_after: float


@dataclass(frozen=True, slots=True)
class _Event:
    time_ms: int
    priority: int
    apply: Callable[[], None]


class SimTerminal:
    """One simulated terminal logged into one hedging account, persisted in ``data_dir``."""

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
        self._offset_ms = round(config.server_utc_offset_hours * 3_600_000)
        specs = dict(universe if universe is not None else DEFAULT_UNIVERSE)
        replay = ReplayBook.load(config.replay_csv, specs) if config.replay_csv else None
        if replay is not None:
            specs.update(replay.specs)
        unknown = [s for s in config.symbols if s not in specs]
        if unknown:
            raise ValueError(f"unknown symbols: {', '.join(unknown)}")
        self.store = SimStore(self.data_dir)
        books = self.store.load()
        now_ms = self.now_ms()
        if books.account is None:
            account = AccountState(
                login=config.login,
                currency=config.currency,
                leverage=config.leverage,
                balance=0.0,
                credit=0.0,
                next_order_ticket=_FIRST_ORDER_TICKET,
                next_deal_ticket=_FIRST_DEAL_TICKET,
                processed_until_ms=now_ms,
                last_rollover_day=now_ms // _DAY_MS,
                replay_shift_s=(
                    replay.natural_shift(now_ms // 1000, config.replay_warmup_days)
                    if replay is not None
                    else 0
                ),
            )
        else:
            account = books.account
        self.account = account
        if replay is not None:
            replay.shift_s = account.replay_shift_s
        self.market = Market(
            seed=config.seed,
            universe=specs,
            history_bars=config.history_bars,
            max_bars=config.max_bars,
            replay=replay,
        )
        self._check_currency(specs)
        self.faults = FaultInjector(config.faults, config.seed)
        self.positions: dict[int, Position] = {p.ticket: p for p in books.positions}
        self.orders: dict[int, Order] = {o.ticket: o for o in books.orders}
        self.history_orders: list[Order] = books.history_orders
        self.deals: list[Deal] = books.deals
        self._selected: list[str] = list(dict.fromkeys(config.symbols))
        self._scan_from: dict[int, int] = {}
        self._request_id = 0
        if books.account is None:
            with self.store.transaction():
                if config.balance:
                    self._balance_operation(config.balance, "Deposit", now_ms)
                self.store.save_account(account)

    # ---- clock, faults, lifecycle ---------------------------------------------------------

    def now_ms(self) -> int:
        """Server time now, in milliseconds."""
        return int(self.clock.now() * 1000) + self._offset_ms

    @property
    def fault_config(self) -> FaultConfig:
        return self.faults.config

    def set_faults(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Change fault switches while running, e.g. ``set_faults(disconnect=True)``."""
        return self.faults.set(config, **changes)

    def close(self) -> None:
        with self.lock:
            self.store.close()

    def _check_currency(self, specs: Mapping[str, SymbolSpec]) -> None:
        needed = {s.currency_profit for s in specs.values() if s.name in self.config.symbols}
        needed |= {s.currency_margin for s in specs.values() if s.name in self.config.symbols}
        for currency in needed:
            if self._conversion_path(currency, self.account.currency) is None:
                raise ValueError(
                    f"sim.currency {self.account.currency!r}: no symbol converts {currency} into it"
                )

    # ---- symbols and quotes ---------------------------------------------------------------

    def spec(self, symbol: str) -> SymbolSpec:
        try:
            return self.market.universe[symbol]
        except KeyError:
            raise TerminalError(c.RES_E_NOT_FOUND, "Terminal: Not found") from None

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

    def _quote(self, symbol: str, at_ms: int | None = None) -> Quote | None:
        return self.market.quote(symbol, self.now_ms() if at_ms is None else at_ms)

    def _price(self, spec: SymbolSpec, points: int) -> float:
        return round(points * spec.point, spec.digits)

    def tick(self, symbol: str) -> Tick:
        spec = self.spec(symbol)
        quote = self._quote(symbol)
        if quote is None:
            raise TerminalError(c.RES_E_FAIL, "Terminal: Call failed")
        return Tick(
            (
                quote.time_msc // 1000,
                self._price(spec, quote.bid),
                self._price(spec, quote.ask),
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
        bid = self._price(spec, quote.bid) if quote else 0.0
        ask = self._price(spec, quote.ask) if quote else 0.0
        spread = (quote.ask - quote.bid) if quote else 0
        tick_value = (
            spec.tick_size
            * spec.contract_size
            * self._rate_or_one(spec.currency_profit, now_ms, spec, bid)
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
            bidhigh=self._price(spec, high),
            bidlow=self._price(spec, low),
            ask=ask,
            askhigh=self._price(spec, high + spread) if high else 0.0,
            asklow=self._price(spec, low + spread) if low else 0.0,
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
            session_open=self._price(spec, session_open),
            session_close=self._price(spec, previous_close),
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
        if to_ms - from_ms > 31 * _DAY_MS:
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

    # ---- currency conversion, margin and profit -------------------------------------------

    def _conversion_path(self, source: str, target: str) -> list[tuple[str, bool]] | None:
        """Symbols that convert ``source`` into ``target``: (symbol, multiply?) steps."""
        if source == target:
            return []
        universe = self.market.universe
        if source + target in universe:
            return [(source + target, True)]
        if target + source in universe:
            return [(target + source, False)]
        if "USD" not in (source, target):
            first = self._conversion_path(source, "USD")
            second = self._conversion_path("USD", target)
            if first is not None and second is not None:
                return first + second
        return None

    def _rate(
        self, source: str, now_ms: int, own: SymbolSpec | None = None, own_price: float = 0.0
    ) -> float:
        """How many account-currency units one ``source`` unit is worth now. A symbol that
        itself converts the currency uses its own deal price (as MT5 does for USDJPY profits)."""
        target = self.account.currency
        if source == target:
            return 1.0
        if own is not None and own_price > 0:
            if own.currency_base == source and own.currency_profit == target:
                return own_price
            if own.currency_base == target and own.currency_profit == source:
                return 1.0 / own_price
        path = self._conversion_path(source, target)
        if path is None:
            raise TerminalError(c.RES_E_FAIL, "Terminal: Call failed")
        rate = 1.0
        for symbol, multiply in path:
            spec = self.market.universe[symbol]
            quote = self.market.quote(symbol, now_ms)
            if quote is None:
                price_bid = price_ask = spec.reference_price
            else:
                price_bid, price_ask = quote.bid * spec.point, quote.ask * spec.point
            rate = rate * price_bid if multiply else rate / price_ask
        return rate

    def _rate_or_one(self, source: str, now_ms: int, own: SymbolSpec, price: float) -> float:
        try:
            return self._rate(source, now_ms, own, price)
        except TerminalError:
            return 1.0

    def calc_margin(
        self, order_type: int, symbol: str, volume: float, price: float, now_ms: int | None = None
    ) -> float:
        """Margin of a new position in account currency (reference §2.8 formulas)."""
        spec = self.spec(symbol)
        if order_type not in _ORDER_MODE_FLAG:
            raise TerminalError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")
        now_ms = self.now_ms() if now_ms is None else now_ms
        leverage = self.account.leverage
        lots_units = volume * spec.contract_size
        mode = spec.calc_mode
        if mode == c.SYMBOL_CALC_MODE_FOREX:
            margin = lots_units / leverage * spec.margin_rate
        elif mode == c.SYMBOL_CALC_MODE_FOREX_NO_LEVERAGE:
            margin = lots_units * spec.margin_rate
        elif mode in (c.SYMBOL_CALC_MODE_CFD, c.SYMBOL_CALC_MODE_EXCH_STOCKS):
            margin = lots_units * price * spec.margin_rate
        elif mode == c.SYMBOL_CALC_MODE_CFDINDEX:
            tick_price = spec.tick_size * spec.contract_size
            margin = lots_units * price * tick_price / spec.tick_size * spec.margin_rate
        elif mode == c.SYMBOL_CALC_MODE_CFDLEVERAGE:
            margin = lots_units * price / leverage * spec.margin_rate
        else:
            raise TerminalError(c.RES_E_UNSUPPORTED, "Terminal: Unsupported function")
        return round(margin * self._rate(spec.currency_margin, now_ms, spec, price), 2)

    def calc_profit(
        self,
        order_type: int,
        symbol: str,
        volume: float,
        price_open: float,
        price_close: float,
        now_ms: int | None = None,
    ) -> float:
        """Profit in account currency of ``volume`` lots from ``price_open`` to
        ``price_close``; ``order_type`` BUY or SELL (reference §2.8)."""
        spec = self.spec(symbol)
        if order_type not in (c.ORDER_TYPE_BUY, c.ORDER_TYPE_SELL):
            raise TerminalError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")
        now_ms = self.now_ms() if now_ms is None else now_ms
        direction = 1.0 if order_type == c.ORDER_TYPE_BUY else -1.0
        raw = direction * (price_close - price_open) * spec.contract_size * volume
        return round(raw * self._rate(spec.currency_profit, now_ms, spec, price_close), 2)

    def _position_profit(self, position: Position, quote: Quote | None, now_ms: int) -> float:
        if quote is None:
            return 0.0
        spec = self.market.universe[position.symbol]
        close = self._price(spec, quote.bid if position.type == c.POSITION_TYPE_BUY else quote.ask)
        return self.calc_profit(
            position.type, position.symbol, position.volume, position.price_open, close, now_ms
        )

    def _margin(self, positions: Iterable[Position], now_ms: int) -> float:
        """Account margin: per symbol the larger of the buy and the sell legs (hedged volume
        is not charged twice, ``margin_hedged_use_leg``)."""
        legs: dict[tuple[str, int], float] = {}
        for p in positions:
            key = (p.symbol, p.type)
            legs[key] = legs.get(key, 0.0) + self.calc_margin(
                p.type, p.symbol, p.volume, p.price_open, now_ms
            )
        symbols = {symbol for symbol, _ in legs}
        return round(
            0.0
            + sum(
                max(
                    legs.get((s, c.POSITION_TYPE_BUY), 0.0),
                    legs.get((s, c.POSITION_TYPE_SELL), 0.0),
                )
                for s in symbols
            ),
            2,
        )

    def _figures(self, now_ms: int) -> tuple[float, float, float, float, float, float]:
        """(balance, floating profit incl. swaps, equity, margin, free margin, margin level)."""
        floating = 0.0
        for position in self.positions.values():
            quote = self.market.quote(position.symbol, now_ms)
            floating += self._position_profit(position, quote, now_ms) + position.swap
        balance = self.account.balance
        equity = round(balance + self.account.credit + floating, 2)
        margin = self._margin(self.positions.values(), now_ms)
        free = round(equity - margin, 2)
        level = round(equity / margin * 100.0, 2) if margin else 0.0
        return balance, round(floating, 2), equity, margin, free, level

    # ---- account and terminal info --------------------------------------------------------

    def account_info(self) -> AccountInfo:
        with self.lock:
            self.sync()
            balance, profit, equity, margin, free, level = self._figures(self.now_ms())
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
        path = str(self.data_dir.resolve())
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

    # ---- books as structs -----------------------------------------------------------------

    def _position_struct(self, p: Position, now_ms: int) -> TradePosition:
        spec = self.market.universe[p.symbol]
        quote = self.market.quote(p.symbol, now_ms)
        if quote is None:
            current = p.price_open
        else:
            current = self._price(spec, quote.bid if p.type == c.POSITION_TYPE_BUY else quote.ask)
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
                self._position_profit(p, quote, now_ms),
                p.symbol,
                p.comment,
                p.external_id,
            )
        )

    def _order_struct(self, o: Order, now_ms: int | None) -> TradeOrder:
        price_current = o.price_current
        if now_ms is not None:
            spec = self.market.universe[o.symbol]
            quote = self.market.quote(o.symbol, now_ms)
            if quote is not None:
                price_current = self._price(spec, quote.ask if o.type in _BUY_TYPES else quote.bid)
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

    @staticmethod
    def _deal_struct(d: Deal) -> TradeDeal:
        return TradeDeal(
            (
                d.ticket,
                d.order,
                d.time_msc // 1000,
                d.time_msc,
                d.type,
                d.entry,
                d.magic,
                d.position_id,
                d.reason,
                d.volume,
                d.price,
                d.commission,
                d.swap,
                d.profit,
                d.fee,
                d.symbol,
                d.comment,
                d.external_id,
            )
        )

    def positions_get(
        self, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradePosition, ...]:
        with self.lock:
            self.sync()
            now_ms = self.now_ms()
            chosen = _select_open(self.positions.values(), symbol, group, ticket)
            return tuple(self._position_struct(p, now_ms) for p in chosen)

    def orders_get(
        self, symbol: str | None = None, group: str | None = None, ticket: int | None = None
    ) -> tuple[TradeOrder, ...]:
        with self.lock:
            self.sync()
            now_ms = self.now_ms()
            chosen = _select_open(self.orders.values(), symbol, group, ticket)
            return tuple(self._order_struct(o, now_ms) for o in chosen)

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
            chosen = _select_history(self.history_orders, "ticket", "time_setup_msc",
                                     date_from, date_to, group, ticket, position)
            return tuple(self._order_struct(o, None) for o in chosen)

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
            chosen = _select_history(self.deals, "order", "time_msc", date_from, date_to,
                                     group, ticket, position)
            return tuple(self._deal_struct(d) for d in chosen)

    # ---- tickets and records --------------------------------------------------------------

    def _next_order_ticket(self) -> int:
        ticket = self.account.next_order_ticket
        self.account.next_order_ticket += 1
        return ticket

    def _next_deal_ticket(self) -> int:
        ticket = self.account.next_deal_ticket
        self.account.next_deal_ticket += 1
        return ticket

    def _balance_operation(self, amount: float, comment: str, now_ms: int) -> None:
        deal = Deal(
            self._next_deal_ticket(), 0, now_ms, c.DEAL_TYPE_BALANCE, c.DEAL_ENTRY_IN, 0, 0,
            c.DEAL_REASON_CLIENT, 0.0, 0.0, 0.0, 0.0, round(amount, 2), 0.0, "", comment,
        )  # fmt: skip
        self.account.balance = round(self.account.balance + amount, 2)
        self.deals.append(deal)
        self.store.add_deal(deal)

    def deposit(self, amount: float, comment: str = "Deposit") -> None:
        """Add (or with a negative amount withdraw) money, as a balance deal."""
        with self.lock, self.store.transaction():
            self._balance_operation(amount, comment, self.now_ms())
            self.store.save_account(self.account)

    def _commission(self, volume: float) -> float:
        # "+ 0.0" turns a -0.0 (no commission) into the 0.0 a terminal shows.
        return round(-abs(self.config.commission_per_lot) * volume, 2) + 0.0

    def _open_position(
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
    ) -> Deal:
        position = Position(
            ticket=ticket, time_msc=now_ms, time_update_msc=now_ms, type=order_type, magic=magic,
            identifier=ticket, reason=c.POSITION_REASON_EXPERT, volume=volume, price_open=price,
            sl=sl, tp=tp, swap=0.0, symbol=symbol, comment=comment,
        )  # fmt: skip
        commission = self._commission(volume)
        deal = Deal(
            self._next_deal_ticket(), ticket, now_ms, order_type, c.DEAL_ENTRY_IN, magic, ticket,
            c.DEAL_REASON_EXPERT, volume, price, commission, 0.0, 0.0, 0.0, symbol, comment,
        )  # fmt: skip
        self.positions[ticket] = position
        self._scan_from[ticket] = now_ms
        self.account.balance = round(self.account.balance + commission, 2)
        self.deals.append(deal)
        self.store.save_position(position)
        self.store.add_deal(deal)
        return deal

    def _close_position(
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
    ) -> Deal:
        volume = min(volume, position.volume)
        share = volume / position.volume
        swap = round(position.swap * share, 2)
        profit = self.calc_profit(
            position.type, position.symbol, volume, position.price_open, price, now_ms
        )
        commission = self._commission(volume)
        deal_type = c.DEAL_TYPE_SELL if position.type == c.POSITION_TYPE_BUY else c.DEAL_TYPE_BUY
        deal = Deal(
            self._next_deal_ticket(), order_ticket, now_ms, deal_type, entry, magic,
            position.identifier, reason, volume, price, commission, swap, profit, 0.0,
            position.symbol, comment,
        )  # fmt: skip
        self.account.balance = round(self.account.balance + profit + swap + commission, 2)
        remaining = round(position.volume - volume, 8)
        if remaining <= 1e-9:
            del self.positions[position.ticket]
            self._scan_from.pop(position.ticket, None)
            self.store.delete_position(position.ticket)
        else:
            position.volume = remaining
            position.swap = round(position.swap - swap, 2)
            position.time_update_msc = now_ms
            self.store.save_position(position)
        self.deals.append(deal)
        self.store.add_deal(deal)
        return deal

    def _history_order(
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

    # ---- catching up with the clock -------------------------------------------------------

    def sync(self) -> None:
        """Apply everything that happened between the last call and now: SL/TP and pending
        triggers (first touching tick), expiries and rollover swaps, in time order."""
        with self.lock:
            now_ms = self.now_ms()
            account = self.account
            if now_ms <= account.processed_until_ms:
                if self.positions:
                    self._stop_out(now_ms)
                return
            after = account.processed_until_ms
            for _ in range(100_000):
                event = self._next_event(after, now_ms)
                if event is None:
                    break
                with self.store.transaction():
                    event.apply()
                    account.processed_until_ms = event.time_ms
                    self.store.save_account(account)
                after = event.time_ms - 1
            account.processed_until_ms = now_ms
            if self.positions:
                self._stop_out(now_ms)

    def _next_event(self, after: int, until: int) -> _Event | None:
        best: _Event | None = None

        def consider(event: _Event | None) -> None:
            nonlocal best
            if event is not None and (
                best is None or (event.time_ms, event.priority) < (best.time_ms, best.priority)
            ):
                best = event

        next_day = max(after // _DAY_MS + 1, self.account.last_rollover_day + 1)
        if next_day * _DAY_MS <= until:
            consider(_Event(next_day * _DAY_MS, 0, lambda: self._rollover(next_day)))
        for position in list(self.positions.values()):
            consider(self._position_trigger(position, after, until))
        for order in list(self.orders.values()):
            consider(self._order_event(order, after, until))
        return best

    def _position_trigger(self, p: Position, after: int, until: int) -> _Event | None:
        start = max(after, self._scan_from.get(p.ticket, p.time_msc))
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
        return _Event(touch.time_msc, priority, lambda: self._stop_hit(p, touch, reason))

    def _stop_hit(self, p: Position, touch: Touch, reason: int) -> None:
        spec = self.market.universe[p.symbol]
        is_buy = p.type == c.POSITION_TYPE_BUY
        price = self._price(spec, touch.bid if is_buy else touch.ask)
        level = p.sl if reason == c.DEAL_REASON_SL else p.tp
        tag = "sl" if reason == c.DEAL_REASON_SL else "tp"
        comment = f"[{tag} {level:.{spec.digits}f}]"
        ticket = self._next_order_ticket()
        close_type = c.ORDER_TYPE_SELL if is_buy else c.ORDER_TYPE_BUY
        order_reason = c.ORDER_REASON_SL if reason == c.DEAL_REASON_SL else c.ORDER_REASON_TP
        self._history_order(
            ticket=ticket, symbol=p.symbol, order_type=close_type, volume=p.volume, price=price,
            magic=p.magic, comment=comment, reason=order_reason, position_id=p.identifier,
            now_ms=touch.time_msc,
        )  # fmt: skip
        self._close_position(
            p, volume=p.volume, price=price, order_ticket=ticket, reason=reason, comment=comment,
            magic=p.magic, now_ms=touch.time_msc,
        )  # fmt: skip

    def _order_event(self, o: Order, after: int, until: int) -> _Event | None:
        start = max(after, self._scan_from.get(o.ticket, o.time_setup_msc))
        expiry_ms = o.time_expiration * 1000 if o.type_time != c.ORDER_TIME_GTC else 0
        horizon = min(until, expiry_ms) if expiry_ms else until
        spec = self.market.universe[o.symbol]
        is_buy = o.type in _BUY_TYPES
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
                expiry_ms, 4, lambda: self._retire_order(o, c.ORDER_STATE_EXPIRED, expiry_ms)
            )
        return None

    def _retire_order(self, o: Order, state: int, now_ms: int) -> None:
        o.state = state
        o.time_done_msc = now_ms
        self.orders.pop(o.ticket, None)
        self._scan_from.pop(o.ticket, None)
        self.store.delete_order(o.ticket)
        self.history_orders.append(o)
        self.store.add_history_order(o)

    def _order_triggered(self, o: Order, touch: Touch) -> None:
        spec = self.market.universe[o.symbol]
        if o.type in (c.ORDER_TYPE_BUY_STOP_LIMIT, c.ORDER_TYPE_SELL_STOP_LIMIT):
            # The stop price was reached: the order becomes a limit order at its stop-limit price.
            o.type = (
                c.ORDER_TYPE_BUY_LIMIT
                if o.type == c.ORDER_TYPE_BUY_STOP_LIMIT
                else c.ORDER_TYPE_SELL_LIMIT
            )
            o.price_open = o.price_stoplimit
            self._scan_from[o.ticket] = touch.time_msc
            self.store.save_order(o)
            return
        is_buy = o.type in _BUY_TYPES
        price = self._price(spec, touch.ask if is_buy else touch.bid)
        direction = c.ORDER_TYPE_BUY if is_buy else c.ORDER_TYPE_SELL
        margin_after = self._margin(
            [
                *self.positions.values(),
                self._virtual_position(o.symbol, direction, o.volume_current, price),
            ],
            touch.time_msc,
        )
        _, _, equity, _, _, _ = self._figures(touch.time_msc)
        if margin_after > equity or self.faults.config.no_money:
            o.comment = o.comment or "[no money]"
            self._retire_order(o, c.ORDER_STATE_REJECTED, touch.time_msc)
            return
        self._open_position(
            ticket=o.ticket, symbol=o.symbol, order_type=direction, volume=o.volume_current,
            price=price, sl=o.sl, tp=o.tp, magic=o.magic, comment=o.comment,
            now_ms=touch.time_msc,
        )  # fmt: skip
        o.position_id = o.ticket
        o.price_current = price
        o.volume_current = 0.0
        self._retire_order(o, c.ORDER_STATE_FILLED, touch.time_msc)

    def _rollover(self, day: int) -> None:
        """Charge the night's swap to every position open at server midnight (three nights'
        worth on the symbol's ``swap_rollover3days``)."""
        self.account.last_rollover_day = day
        midnight_ms = day * _DAY_MS
        previous_weekday = weekday_of_day(day - 1)
        for p in self.positions.values():
            if p.time_msc >= midnight_ms:
                continue
            spec = self.market.universe[p.symbol]
            if not spec.sessions[previous_weekday] or spec.swap_mode != c.SYMBOL_SWAP_MODE_POINTS:
                continue
            nights = 3 if previous_weekday == spec.swap_rollover3days else 1
            points = spec.swap_long if p.type == c.POSITION_TYPE_BUY else spec.swap_short
            amount = points * spec.point * spec.contract_size * p.volume * nights
            rate = self._rate(spec.currency_profit, midnight_ms)
            p.swap = round(p.swap + amount * rate, 2)
            self.store.save_position(p)

    def _stop_out(self, now_ms: int) -> None:
        for _ in range(len(self.positions)):
            _, _, equity, margin, _, level = self._figures(now_ms)
            if not margin or level >= self.config.stop_out_level:
                return
            worst: tuple[float, Position, Quote] | None = None
            for p in self.positions.values():
                quote = self.market.quote(p.symbol, now_ms)
                if quote is None or not self.market.in_session(p.symbol, now_ms):
                    continue
                profit = self._position_profit(p, quote, now_ms)
                if worst is None or profit < worst[0]:
                    worst = (profit, p, quote)
            if worst is None:
                return
            _, p, quote = worst
            spec = self.market.universe[p.symbol]
            is_buy = p.type == c.POSITION_TYPE_BUY
            price = self._price(spec, quote.bid if is_buy else quote.ask)
            comment = f"[so {level:.2f}%/{equity:.2f}/{margin:.2f}]"[:31]
            with self.store.transaction():
                ticket = self._next_order_ticket()
                self._history_order(
                    ticket=ticket, symbol=p.symbol,
                    order_type=c.ORDER_TYPE_SELL if is_buy else c.ORDER_TYPE_BUY,
                    volume=p.volume, price=price, magic=p.magic, comment=comment,
                    reason=c.ORDER_REASON_SO, position_id=p.identifier, now_ms=now_ms,
                )  # fmt: skip
                self._close_position(
                    p, volume=p.volume, price=price, order_ticket=ticket, reason=c.DEAL_REASON_SO,
                    comment=comment, magic=p.magic, now_ms=now_ms,
                )  # fmt: skip
                self.store.save_account(self.account)

    def _virtual_position(
        self, symbol: str, order_type: int, volume: float, price: float
    ) -> Position:
        return Position(0, 0, 0, order_type, 0, 0, 0, volume, price, 0.0, 0.0, 0.0, symbol, "")

    # ---- trade requests -------------------------------------------------------------------

    def order_send(self, request: Mapping[str, Any]) -> OrderSendResult:
        """Validate and execute a complete, well-typed request (all 17 keys)."""
        with self.lock:
            self.sync()
            echo = TradeRequest(request[name] for name in TRADE_REQUEST_FIELDS)
            try:
                plan = self._plan(request, executing=True)
            except _Reject as reject:
                return self._rejection(reject, echo)
            with self.store.transaction():
                result = plan.apply()
                self.store.save_account(self.account)
            return result

    def order_check(self, request: Mapping[str, Any]) -> OrderCheckResult:
        with self.lock:
            self.sync()
            echo = TradeRequest(request[name] for name in TRADE_REQUEST_FIELDS)
            balance, profit, equity, margin, free, level = self._figures(self.now_ms())
            try:
                plan = self._plan(request, executing=False)
            except _Reject as reject:
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

    def _rejection(self, reject: _Reject, echo: TradeRequest) -> OrderSendResult:
        terminal_side = reject.retcode in _TERMINAL_SIDE
        request_id = 0 if terminal_side else self._new_request_id()
        bid = ask = 0.0
        if reject.quote is not None:
            spec = self.market.universe[echo.symbol]
            bid, ask = self._price(spec, reject.quote.bid), self._price(spec, reject.quote.ask)
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
        quote: Quote | None = None,
    ) -> OrderSendResult:
        bid = ask = 0.0
        if quote is not None:
            spec = self.market.universe[echo_request["symbol"]]
            bid, ask = self._price(spec, quote.bid), self._price(spec, quote.ask)
        echo = TradeRequest(echo_request[name] for name in TRADE_REQUEST_FIELDS)
        return OrderSendResult(
            (
                retcode, deal, order, volume, price, bid, ask,
                c.RETCODE_COMMENTS[retcode], self._new_request_id(), 0, echo,
            )
        )  # fmt: skip

    def _plan(self, request: Mapping[str, Any], *, executing: bool) -> _Plan:
        faults = self.faults.config
        if faults.trade_server_down:
            raise _Reject(c.TRADE_RETCODE_CONNECTION)
        if faults.algo_trading_off:
            raise _Reject(c.TRADE_RETCODE_CLIENT_DISABLES_AT)
        action = request["action"]
        if action not in _TRADE_ACTIONS:
            raise _Reject(c.TRADE_RETCODE_INVALID)
        handler = {
            c.TRADE_ACTION_DEAL: self._plan_deal,
            c.TRADE_ACTION_PENDING: self._plan_pending,
            c.TRADE_ACTION_SLTP: self._plan_sltp,
            c.TRADE_ACTION_MODIFY: self._plan_modify,
            c.TRADE_ACTION_REMOVE: self._plan_remove,
            c.TRADE_ACTION_CLOSE_BY: self._plan_close_by,
        }[action]
        return handler(dict(request), executing)

    # -- shared checks

    def _symbol_spec(self, symbol: str) -> SymbolSpec:
        spec = self.market.universe.get(symbol)
        if spec is None:
            raise _Reject(c.TRADE_RETCODE_INVALID)
        return spec

    def _require_session(self, spec: SymbolSpec, now_ms: int) -> Quote:
        if spec.trade_mode == c.SYMBOL_TRADE_MODE_DISABLED:
            raise _Reject(c.TRADE_RETCODE_TRADE_DISABLED)
        if not self.market.in_session(spec.name, now_ms):
            raise _Reject(c.TRADE_RETCODE_MARKET_CLOSED)
        quote = self.market.quote(spec.name, now_ms)
        if quote is None:
            raise _Reject(c.TRADE_RETCODE_PRICE_OFF)
        return quote

    @staticmethod
    def _check_trade_mode(spec: SymbolSpec, order_type: int, opening: bool) -> None:
        if not opening:
            return
        mode = spec.trade_mode
        if mode == c.SYMBOL_TRADE_MODE_CLOSEONLY:
            raise _Reject(c.TRADE_RETCODE_CLOSE_ONLY)
        if mode == c.SYMBOL_TRADE_MODE_LONGONLY and order_type not in _BUY_TYPES:
            raise _Reject(c.TRADE_RETCODE_LONG_ONLY)
        if mode == c.SYMBOL_TRADE_MODE_SHORTONLY and order_type in _BUY_TYPES:
            raise _Reject(c.TRADE_RETCODE_SHORT_ONLY)

    @staticmethod
    def _volume_valid(spec: SymbolSpec, volume: float) -> bool:
        if not volume > 0 or volume < spec.volume_min - 1e-9 or volume > spec.volume_max + 1e-9:
            return False
        steps = volume / spec.volume_step
        return abs(steps - round(steps)) <= 1e-6

    @staticmethod
    def _on_grid(spec: SymbolSpec, price: float) -> bool:
        ticks = price / spec.tick_size
        return abs(ticks - round(ticks)) <= 1e-6

    def _check_filling(
        self, spec: SymbolSpec, filling: int, pending: bool, order_type: int
    ) -> None:
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
            raise _Reject(c.TRADE_RETCODE_INVALID_FILL)

    def _check_stops(
        self, spec: SymbolSpec, is_buy: bool, reference: float, sl: float, tp: float
    ) -> None:
        """SL/TP on the right side of ``reference`` and at least the stops level away
        (reference §7.6)."""
        distance = spec.stops_level * spec.point - spec.point * 1e-6
        for level in (sl, tp):
            if level < 0 or (level > 0 and not self._on_grid(spec, level)):
                raise _Reject(c.TRADE_RETCODE_INVALID_STOPS)
        if sl > 0:
            gap = reference - sl if is_buy else sl - reference
            if gap <= 0 or gap < distance:
                raise _Reject(c.TRADE_RETCODE_INVALID_STOPS)
        if tp > 0:
            gap = tp - reference if is_buy else reference - tp
            if gap <= 0 or gap < distance:
                raise _Reject(c.TRADE_RETCODE_INVALID_STOPS)

    def _check_position_frozen(self, spec: SymbolSpec, p: Position, quote: Quote) -> None:
        if not spec.freeze_level:
            return
        freeze = spec.freeze_level * spec.point
        bid, ask = quote.bid * spec.point, quote.ask * spec.point
        if p.type == c.POSITION_TYPE_BUY:
            near = (p.sl > 0 and bid - p.sl <= freeze) or (p.tp > 0 and p.tp - bid <= freeze)
        else:
            near = (p.sl > 0 and p.sl - ask <= freeze) or (p.tp > 0 and ask - p.tp <= freeze)
        if near:
            raise _Reject(c.TRADE_RETCODE_FROZEN)

    def _check_order_frozen(self, spec: SymbolSpec, o: Order, quote: Quote) -> None:
        if not spec.freeze_level:
            return
        freeze = spec.freeze_level * spec.point
        bid, ask = quote.bid * spec.point, quote.ask * spec.point
        distance = {
            c.ORDER_TYPE_BUY_LIMIT: ask - o.price_open,
            c.ORDER_TYPE_SELL_LIMIT: o.price_open - bid,
            c.ORDER_TYPE_BUY_STOP: o.price_open - ask,
            c.ORDER_TYPE_SELL_STOP: bid - o.price_open,
            c.ORDER_TYPE_BUY_STOP_LIMIT: o.price_open - ask,
            c.ORDER_TYPE_SELL_STOP_LIMIT: bid - o.price_open,
        }[o.type]
        if distance <= freeze:
            raise _Reject(c.TRADE_RETCODE_FROZEN)

    def _check_margin(
        self, symbol: str, order_type: int, volume: float, price: float, now_ms: int
    ) -> float:
        if self.faults.config.no_money:
            raise _Reject(c.TRADE_RETCODE_NO_MONEY)
        margin_after = self._margin(
            [*self.positions.values(), self._virtual_position(symbol, order_type, volume, price)],
            now_ms,
        )
        _, _, equity, _, _, _ = self._figures(now_ms)
        if margin_after > equity:
            raise _Reject(c.TRADE_RETCODE_NO_MONEY)
        return margin_after

    def _check_volume_limit(self, spec: SymbolSpec, is_buy: bool, volume: float) -> None:
        if not spec.volume_limit:
            return
        same_side = sum(
            p.volume
            for p in self.positions.values()
            if p.symbol == spec.name and (p.type == c.POSITION_TYPE_BUY) == is_buy
        ) + sum(
            o.volume_current
            for o in self.orders.values()
            if o.symbol == spec.name and (o.type in _BUY_TYPES) == is_buy
        )
        if same_side + volume > spec.volume_limit + 1e-9:
            raise _Reject(c.TRADE_RETCODE_LIMIT_VOLUME)

    # -- TRADE_ACTION_DEAL

    def _plan_deal(self, r: dict[str, Any], executing: bool) -> _Plan:
        now_ms = self.now_ms()
        position: Position | None = None
        if r["position"]:
            position = self.positions.get(r["position"])
            if position is None:
                raise _Reject(c.TRADE_RETCODE_INVALID)
            if not r["symbol"]:
                r["symbol"] = position.symbol
            if r["symbol"] != position.symbol:
                raise _Reject(c.TRADE_RETCODE_INVALID)
        spec = self._symbol_spec(r["symbol"])
        order_type = r["type"]
        if order_type not in (c.ORDER_TYPE_BUY, c.ORDER_TYPE_SELL):
            raise _Reject(c.TRADE_RETCODE_INVALID)
        is_buy = order_type == c.ORDER_TYPE_BUY
        if position is not None and (position.type == c.POSITION_TYPE_BUY) == is_buy:
            raise _Reject(c.TRADE_RETCODE_INVALID)
        opening = position is None
        self._check_trade_mode(spec, order_type, opening)
        quote = self._require_session(spec, now_ms)
        if not spec.order_mode & c.SYMBOL_ORDER_MARKET:
            raise _Reject(c.TRADE_RETCODE_INVALID_ORDER)
        volume = r["volume"]
        if not self._volume_valid(spec, volume):
            raise _Reject(c.TRADE_RETCODE_INVALID_VOLUME)
        if position is not None and volume > position.volume + 1e-9:
            raise _Reject(c.TRADE_RETCODE_INVALID_CLOSE_VOLUME)
        if opening:
            self._check_volume_limit(spec, is_buy, volume)
        self._check_filling(spec, r["type_filling"], False, order_type)
        market_price = self._price(spec, quote.ask if is_buy else quote.bid)
        if opening:
            # SL/TP of a new buy are measured from the bid it will close at, of a sell from
            # the ask (reference §7.6).
            reference = self._price(spec, quote.bid if is_buy else quote.ask)
            self._check_stops(spec, is_buy, reference, r["sl"], r["tp"])
        instant = spec.exemode in (
            c.SYMBOL_TRADE_EXECUTION_INSTANT,
            c.SYMBOL_TRADE_EXECUTION_REQUEST,
        )
        if instant and r["price"] <= 0:
            raise _Reject(c.TRADE_RETCODE_INVALID_PRICE)
        if (
            opening
            and self.config.limit_positions
            and (len(self.positions) >= self.config.limit_positions)
        ):
            raise _Reject(c.TRADE_RETCODE_LIMIT_POSITIONS)
        margin_after = self._margin(self.positions.values(), now_ms)
        if opening:
            margin_after = self._check_margin(spec.name, order_type, volume, market_price, now_ms)
        if executing:
            faults = self.faults.config
            if self.faults.roll(faults.price_off_rate):
                raise _Reject(c.TRADE_RETCODE_PRICE_OFF)
            if self.faults.roll(faults.requote_rate):
                raise _Reject(c.TRADE_RETCODE_REQUOTE, quote)
            if instant and abs(r["price"] - market_price) > r["deviation"] * spec.point + 1e-12:
                raise _Reject(c.TRADE_RETCODE_REQUOTE, quote)

        def apply() -> OrderSendResult:
            ticket = self._next_order_ticket()
            if position is None:
                self._history_order(
                    ticket=ticket, symbol=spec.name, order_type=order_type, volume=volume,
                    price=market_price, magic=r["magic"], comment=r["comment"],
                    reason=c.ORDER_REASON_EXPERT, position_id=ticket, now_ms=now_ms,
                    type_filling=r["type_filling"], sl=r["sl"], tp=r["tp"],
                )  # fmt: skip
                deal = self._open_position(
                    ticket=ticket, symbol=spec.name, order_type=order_type, volume=volume,
                    price=market_price, sl=r["sl"], tp=r["tp"], magic=r["magic"],
                    comment=r["comment"], now_ms=now_ms,
                )  # fmt: skip
            else:
                self._history_order(
                    ticket=ticket, symbol=spec.name, order_type=order_type, volume=volume,
                    price=market_price, magic=r["magic"], comment=r["comment"],
                    reason=c.ORDER_REASON_EXPERT, position_id=position.identifier, now_ms=now_ms,
                    type_filling=r["type_filling"],
                )  # fmt: skip
                deal = self._close_position(
                    position, volume=volume, price=market_price, order_ticket=ticket,
                    reason=c.DEAL_REASON_EXPERT, comment=r["comment"], magic=r["magic"],
                    now_ms=now_ms,
                )  # fmt: skip
            return self._done(
                r, deal=deal.ticket, order=ticket, volume=volume, price=market_price, quote=quote
            )

        return _Plan(apply, margin_after)

    # -- TRADE_ACTION_PENDING and TRADE_ACTION_MODIFY

    def _validate_pending_prices(
        self,
        spec: SymbolSpec,
        order_type: int,
        price: float,
        stoplimit: float,
        sl: float,
        tp: float,
        quote: Quote,
    ) -> None:
        if price <= 0 or not self._on_grid(spec, price):
            raise _Reject(c.TRADE_RETCODE_INVALID_PRICE)
        bid, ask = quote.bid * spec.point, quote.ask * spec.point
        stops = spec.stops_level * spec.point - spec.point * 1e-6
        gap = {
            c.ORDER_TYPE_BUY_LIMIT: ask - price,
            c.ORDER_TYPE_SELL_LIMIT: price - bid,
            c.ORDER_TYPE_BUY_STOP: price - ask,
            c.ORDER_TYPE_SELL_STOP: bid - price,
            c.ORDER_TYPE_BUY_STOP_LIMIT: price - ask,
            c.ORDER_TYPE_SELL_STOP_LIMIT: bid - price,
        }[order_type]
        if gap <= 0 or gap < stops:
            raise _Reject(c.TRADE_RETCODE_INVALID_PRICE)
        entry = price
        if order_type in (c.ORDER_TYPE_BUY_STOP_LIMIT, c.ORDER_TYPE_SELL_STOP_LIMIT):
            if stoplimit <= 0 or not self._on_grid(spec, stoplimit):
                raise _Reject(c.TRADE_RETCODE_INVALID_PRICE)
            wrong_side = (
                stoplimit > price
                if order_type == c.ORDER_TYPE_BUY_STOP_LIMIT
                else stoplimit < price
            )
            if wrong_side:
                raise _Reject(c.TRADE_RETCODE_INVALID_PRICE)
            entry = stoplimit
        self._check_stops(spec, order_type in _BUY_TYPES, entry, sl, tp)

    def _expiration_of(self, spec: SymbolSpec, type_time: int, expiration: int, now_ms: int) -> int:
        flag = _EXPIRATION_FLAG.get(type_time)
        if flag is None or not spec.expiration_mode & flag:
            raise _Reject(c.TRADE_RETCODE_INVALID_EXPIRATION)
        now_s = now_ms // 1000
        if type_time == c.ORDER_TIME_GTC:
            return 0
        if type_time == c.ORDER_TIME_DAY:
            return (now_s // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY - 1
        if type_time == c.ORDER_TIME_SPECIFIED_DAY:
            end = (expiration // SECONDS_PER_DAY + 1) * SECONDS_PER_DAY - 1
            if expiration <= 0 or end <= now_s:
                raise _Reject(c.TRADE_RETCODE_INVALID_EXPIRATION)
            return end
        if expiration <= now_s:
            raise _Reject(c.TRADE_RETCODE_INVALID_EXPIRATION)
        return expiration

    def _plan_pending(self, r: dict[str, Any], executing: bool) -> _Plan:
        now_ms = self.now_ms()
        spec = self._symbol_spec(r["symbol"])
        order_type = r["type"]
        if order_type not in _PENDING_TYPES:
            raise _Reject(c.TRADE_RETCODE_INVALID_ORDER)
        self._check_trade_mode(spec, order_type, True)
        quote = self._require_session(spec, now_ms)
        if not spec.order_mode & _ORDER_MODE_FLAG[order_type]:
            raise _Reject(c.TRADE_RETCODE_INVALID_ORDER)
        volume = r["volume"]
        if not self._volume_valid(spec, volume):
            raise _Reject(c.TRADE_RETCODE_INVALID_VOLUME)
        self._check_volume_limit(spec, order_type in _BUY_TYPES, volume)
        self._check_filling(spec, r["type_filling"], True, order_type)
        expiration = self._expiration_of(spec, r["type_time"], r["expiration"], now_ms)
        self._validate_pending_prices(
            spec, order_type, r["price"], r["stoplimit"], r["sl"], r["tp"], quote
        )
        if self.config.limit_orders and len(self.orders) >= self.config.limit_orders:
            raise _Reject(c.TRADE_RETCODE_LIMIT_ORDERS)
        margin_now = self._margin(self.positions.values(), now_ms)

        def apply() -> OrderSendResult:
            ticket = self._next_order_ticket()
            order = Order(
                ticket=ticket, time_setup_msc=now_ms, time_done_msc=0, time_expiration=expiration,
                type=order_type, type_time=r["type_time"], type_filling=r["type_filling"],
                state=c.ORDER_STATE_PLACED, magic=r["magic"], position_id=0, position_by_id=0,
                reason=c.ORDER_REASON_EXPERT, volume_initial=volume, volume_current=volume,
                price_open=r["price"], sl=r["sl"], tp=r["tp"], price_current=0.0,
                price_stoplimit=r["stoplimit"], symbol=spec.name, comment=r["comment"],
            )  # fmt: skip
            self.orders[ticket] = order
            self._scan_from[ticket] = now_ms
            self.store.save_order(order)
            return self._done(
                r, retcode=c.TRADE_RETCODE_PLACED, order=ticket, volume=volume, price=r["price"]
            )

        return _Plan(apply, margin_now)

    def _plan_modify(self, r: dict[str, Any], executing: bool) -> _Plan:
        now_ms = self.now_ms()
        order = self.orders.get(r["order"])
        if order is None:
            raise _Reject(c.TRADE_RETCODE_INVALID)
        if r["symbol"] and r["symbol"] != order.symbol:
            raise _Reject(c.TRADE_RETCODE_INVALID)
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
            raise _Reject(c.TRADE_RETCODE_NO_CHANGES)
        self._check_order_frozen(spec, order, quote)
        expiration = self._expiration_of(spec, r["type_time"], r["expiration"], now_ms)
        self._validate_pending_prices(
            spec, order.type, r["price"], stoplimit, r["sl"], r["tp"], quote
        )
        margin_now = self._margin(self.positions.values(), now_ms)

        def apply() -> OrderSendResult:
            order.price_open, order.sl, order.tp = r["price"], r["sl"], r["tp"]
            order.price_stoplimit = stoplimit
            order.type_time, order.time_expiration = r["type_time"], expiration
            self._scan_from[order.ticket] = now_ms
            self.store.save_order(order)
            return self._done(r, order=order.ticket)

        return _Plan(apply, margin_now)

    def _plan_remove(self, r: dict[str, Any], executing: bool) -> _Plan:
        now_ms = self.now_ms()
        order = self.orders.get(r["order"])
        if order is None:
            raise _Reject(c.TRADE_RETCODE_INVALID)
        r["symbol"] = r["symbol"] or order.symbol
        spec = self._symbol_spec(order.symbol)
        quote = self._require_session(spec, now_ms)
        self._check_order_frozen(spec, order, quote)
        margin_now = self._margin(self.positions.values(), now_ms)

        def apply() -> OrderSendResult:
            self._retire_order(order, c.ORDER_STATE_CANCELED, now_ms)
            return self._done(r, order=order.ticket)

        return _Plan(apply, margin_now)

    # -- TRADE_ACTION_SLTP

    def _plan_sltp(self, r: dict[str, Any], executing: bool) -> _Plan:
        now_ms = self.now_ms()
        position = self.positions.get(r["position"])
        if position is None:
            raise _Reject(c.TRADE_RETCODE_INVALID)
        if r["symbol"] and r["symbol"] != position.symbol:
            raise _Reject(c.TRADE_RETCODE_INVALID)
        r["symbol"] = position.symbol
        spec = self._symbol_spec(position.symbol)
        quote = self._require_session(spec, now_ms)
        if r["sl"] == position.sl and r["tp"] == position.tp:
            raise _Reject(c.TRADE_RETCODE_NO_CHANGES)
        self._check_position_frozen(spec, position, quote)
        is_buy = position.type == c.POSITION_TYPE_BUY
        reference = self._price(spec, quote.bid if is_buy else quote.ask)
        self._check_stops(spec, is_buy, reference, r["sl"], r["tp"])
        margin_now = self._margin(self.positions.values(), now_ms)

        def apply() -> OrderSendResult:
            position.sl, position.tp = r["sl"], r["tp"]
            position.time_update_msc = now_ms
            self._scan_from[position.ticket] = now_ms
            self.store.save_position(position)
            return self._done(r)

        return _Plan(apply, margin_now)

    # -- TRADE_ACTION_CLOSE_BY

    def _plan_close_by(self, r: dict[str, Any], executing: bool) -> _Plan:
        now_ms = self.now_ms()
        first = self.positions.get(r["position"])
        second = self.positions.get(r["position_by"])
        if first is None or second is None or first.symbol != second.symbol:
            raise _Reject(c.TRADE_RETCODE_INVALID)
        if first.type == second.type:
            raise _Reject(c.TRADE_RETCODE_INVALID)
        r["symbol"] = r["symbol"] or first.symbol
        spec = self._symbol_spec(first.symbol)
        if not spec.order_mode & c.SYMBOL_ORDER_CLOSEBY:
            raise _Reject(c.TRADE_RETCODE_INVALID_ORDER)
        self._require_session(spec, now_ms)
        margin_now = self._margin(self.positions.values(), now_ms)

        def apply() -> OrderSendResult:
            volume = min(first.volume, second.volume)
            ticket = self._next_order_ticket()
            self._history_order(
                ticket=ticket, symbol=spec.name, order_type=c.ORDER_TYPE_CLOSE_BY, volume=volume,
                price=0.0, magic=r["magic"], comment=r["comment"], reason=c.ORDER_REASON_EXPERT,
                position_id=first.identifier, position_by_id=second.identifier, now_ms=now_ms,
            )  # fmt: skip
            # Both legs close at the opposite position's open price, as MT5 does: the first
            # realises the pair's whole P&L, the second none, and no spread is paid again.
            first_price = second_price = second.price_open
            self._close_position(
                first, volume=volume, price=first_price, order_ticket=ticket,
                reason=c.DEAL_REASON_EXPERT, comment=r["comment"], magic=r["magic"],
                now_ms=now_ms, entry=c.DEAL_ENTRY_OUT_BY,
            )  # fmt: skip
            deal = self._close_position(
                second, volume=volume, price=second_price, order_ticket=ticket,
                reason=c.DEAL_REASON_EXPERT, comment=r["comment"], magic=r["magic"],
                now_ms=now_ms, entry=c.DEAL_ENTRY_OUT_BY,
            )  # fmt: skip
            return self._done(r, deal=deal.ticket, order=ticket, volume=volume)

        return _Plan(apply, margin_now)

    # ---- counts for the *_total functions -------------------------------------------------

    def history_orders_total(self, date_from: float, date_to: float) -> int:
        return len(self.history_orders_get(date_from, date_to))

    def history_deals_total(self, date_from: float, date_to: float) -> int:
        return len(self.history_deals_get(date_from, date_to))


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


def _select_open(
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


def _select_history(
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
