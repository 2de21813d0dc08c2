"""The simulated terminal's configuration: one frozen dataclass the config system fills.

Every field has a documented default, so ``SimConfig()`` is a working paper-trading account: a
10,000 USD hedging demo account at 1:100 on eleven liquid symbols, a "New York close" server
clock (UTC+2, UTC+3 in US summer time), and no injected faults. The configuration system maps
TOML keys ``sim.<field>`` (and ``sim.faults.<switch>``) onto these fields.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from actors.broker.sim import constants as c
from actors.broker.sim.faults import FaultConfig
from actors.broker.sim.universe import DEFAULT_ACTIVE_SYMBOLS, DEFAULT_UNIVERSE
from messages.server_time import NEW_YORK_CLOSE, parse_server_time

__all__ = ["COMMENT_REWRITES", "EXECUTION_MODES", "SimConfig"]

COMMENT_REWRITES = ("off", "truncate", "replace")
_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
EXECUTION_MODES = {
    "market": c.SYMBOL_TRADE_EXECUTION_MARKET,
    "instant": c.SYMBOL_TRADE_EXECUTION_INSTANT,
    "request": c.SYMBOL_TRADE_EXECUTION_REQUEST,
}


def _choice(name: str, value: object, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise ValueError(f"sim.{name} must be one of {options}, got {value!r}")


def _within(name: str, value: float, low: float, high: float) -> None:
    if not (isinstance(value, int | float) and low <= value <= high):
        raise ValueError(f"sim.{name} must be within {low:g}..{high:g}, got {value!r}")


@dataclass(frozen=True, slots=True)
class SimConfig:
    """Settings of a simulated MT5 terminal and its broker account."""

    seed: int = 20240101
    """Seeds the price process and the fault draws: same seed + same clock times → same prices."""
    speed: float = 1.0
    """How many market seconds pass per wall second; read by whoever builds the ``SimClock``."""
    start: float | None = None
    """Market start time (epoch seconds, UTC) for the ``SimClock``; ``None`` = now."""
    balance: float = 10_000.0
    """Initial deposit of a new account (an existing ``sim.db`` keeps its own balance)."""
    leverage: int = 100
    currency: str = "USD"
    login: int = 51_234_567
    password_env: str | None = None
    """The environment variable holding the account's password. When set, ``initialize`` and
    ``login`` with any other password fail with ``(-6, 'Terminal: Authorization failed')``, as
    every password does while that variable is unset or empty; ``None`` accepts any password.
    A call without a password uses the terminal's saved one and succeeds."""
    symbols: tuple[str, ...] = DEFAULT_ACTIVE_SYMBOLS
    """Symbols shown in Market Watch; any symbol of the universe can still be selected."""
    replay_csv: str | None = None
    """An MT5 "export bars" CSV file, or a directory of them, whose bars replace the random
    process for their symbols (file names start with the symbol, e.g. ``EURUSD_M1_....csv``)."""
    replay_warmup_days: float = 7.0
    """When the clock lies outside the replayed period, bars are shifted by whole weeks so that
    the clock starts this many days after the first replayed bar."""
    server_time: str = NEW_YORK_CLOSE
    """The broker server's clock, which stamps every time the terminal reports:
    ``"new-york-close"`` (UTC+2, UTC+3 while US daylight-saving time is in force), an IANA zone
    name (``"Europe/Athens"``), or a fixed offset (``"+02:00"``); see ``server_clock.py``."""
    history_bars: int = 500
    """Closed bars available at start-up on every timeframe up to D1 (more are built on demand)."""
    max_bars: int = 100_000
    """``terminal_info().maxbars``: larger ``copy_rates_*`` requests fail as on a real terminal."""
    commission_per_lot: float = 0.0
    """Commission in account currency per lot and per side (charged on entry and on exit)."""
    margin_call_level: float = 50.0
    stop_out_level: float = 30.0
    """Margin level (%) at which the worst position is closed (reason SO)."""
    limit_orders: int = 200
    """Maximum pending orders (``account_info().limit_orders``); 0 = unlimited."""
    limit_positions: int = 0
    """Maximum open positions (retcode 10040 beyond it); 0 = unlimited."""
    comment_limit: int = 31
    """Longest ``comment`` the module accepts (reference §7.3)."""
    comment_rewrite: str = "off"
    """What the broker does to a request's comment on the orders, deals and positions it books:
    ``"off"`` keeps it, ``"truncate"`` cuts it to ``comment_rewrite_length`` characters,
    ``"replace"`` puts the broker's own text (``#`` and the order ticket) in its place. The
    ``OrderSendResult.request`` echo keeps what was sent."""
    comment_rewrite_length: int = 16
    """How many characters of a comment a ``"truncate"`` broker keeps."""
    stops_level_scale: float = 1.0
    """Multiplies every symbol's stops and freeze levels (``trade_stops_level``,
    ``trade_freeze_level``); 0 is an ECN-style account without them (SL/TP must still be on the
    right side of the price)."""
    execution_mode: str | None = None
    """How the server fills market orders: ``None`` as each symbol is set up (market execution
    throughout the built-in universe), else for every symbol ``"market"`` (at the price the
    server finds; ``deviation`` is ignored), ``"instant"`` (within ``deviation`` points of the
    requested price, else a requote 10004 with fresh prices) or ``"request"`` (the same, answered
    10020 "Prices changed")."""
    execution_delay_ms: float = 0.0
    """Time the server takes to fill a market order: the fill uses the quote that far (times a
    seeded jitter of 0.5..1.5) after the request arrived, so fills slip in fast markets."""
    spread_points: int | None = None
    """Every minute's smallest spread, in points, for every symbol (ticks widen it as usual);
    ``None`` keeps the market's own (the replayed bars' ``<SPREAD>``, or the simulator's)."""
    pessimistic_bar_s: int = 0
    """0: a position's SL and TP are resolved by the tick path (whichever is touched first).
    Above 0 (backtests): when both are touched within one bar of this many seconds, the stop
    loss is taken as hit first, since bars alone cannot tell which came first."""
    driven: bool = False
    """Market time moves only when a backtest driver sets it (``MarketTime``), from ``start``;
    ``speed`` is then unused."""
    company: str = "Ensemble Simulated Markets Ltd."
    server: str = "EnsembleSim-Demo"
    account_name: str = "Ensemble Paper Account"
    faults: FaultConfig = field(default_factory=FaultConfig)

    def __post_init__(self) -> None:
        if self.speed <= 0:
            raise ValueError(f"sim.speed must be > 0, got {self.speed!r}")
        if self.balance < 0:
            raise ValueError(f"sim.balance must be >= 0, got {self.balance!r}")
        if self.leverage < 1:
            raise ValueError(f"sim.leverage must be >= 1, got {self.leverage!r}")
        if not self.symbols:
            raise ValueError("sim.symbols must name at least one symbol")
        unknown = [s for s in self.symbols if s not in DEFAULT_UNIVERSE]
        if unknown and self.replay_csv is None:
            raise ValueError(f"sim.symbols has unknown symbols: {', '.join(unknown)}")
        if self.history_bars < 1 or self.max_bars <= self.history_bars:
            raise ValueError("sim.history_bars must be >= 1 and below sim.max_bars")
        parse_server_time(self.server_time)
        if self.password_env is not None and not _ENV_NAME.match(self.password_env):
            raise ValueError(
                "sim.password_env must name an environment variable (letters, digits and _, "
                f"not starting with a digit), got {self.password_env!r}"
            )
        _choice("comment_rewrite", self.comment_rewrite, COMMENT_REWRITES)
        if self.execution_mode is not None:
            _choice("execution_mode", self.execution_mode, tuple(EXECUTION_MODES))
        _within("comment_rewrite_length", self.comment_rewrite_length, 1, 255)
        _within("stops_level_scale", self.stops_level_scale, 0.0, 100.0)
        _within("execution_delay_ms", self.execution_delay_ms, 0.0, 10_000.0)
        if self.spread_points is not None:
            _within("spread_points", self.spread_points, 0, 1_000_000)
        _within("pessimistic_bar_s", self.pessimistic_bar_s, 0, 7 * 86_400)
        if self.comment_limit < 1:
            raise ValueError("sim.comment_limit must be >= 1")
