"""The public strategy API: the one module a trader's strategy imports.

A strategy is a class with a :meth:`Strategy.scan` method. Ensemble calls it once per symbol
and scan cycle with what the market looks like (:class:`Market`) and it answers with a
:class:`Signal` or a :class:`NoSignal`. It is pure: no actor, no I/O, no clock of its own.
Everything else is Ensemble's: fetching the market from the broker (with the broker's clock
applied, so bars are closed and in UTC), the RiskManager's checks and sizing, the Researcher's
second opinion, the order and its execution guards, trade management, the journal and the
dashboard. Nothing a strategy returns reaches the broker except through the RiskManager.

Writing one::

    from pydantic import BaseModel
    from actors.strategy.api import Market, NoSignal, Side, Signal, Strategy

    class Breakout(Strategy):
        class Params(BaseModel):
            lookback: int = 20

        timeframes = ("M5",)

        def scan(self, market: Market) -> Signal | NoSignal:
            bars = market.bars["M5"]
            ...
            return Signal(Side.BUY, sl_distance=..., tp_distance=..., reason="breakout")

A strategy may also manage its own open positions: :meth:`Strategy.manage` is called once per
scan cycle for each of them and answers :class:`Hold`, :class:`MoveStop` or :class:`Exit`
(None, the default, leaves the position to Ensemble's trade management when
``trade_management`` is on). A stop is only ever moved towards the market: the risk was
approved at the original stop, and widening it is refused.

Run it with ``python run_system.py run --strategy path/to/file.py:Breakout``. Its
parameters come from the ``[strategy.params.<name>]`` section of the configuration, validated by
its ``Params`` model with the same clear errors as every other key; ``symbols`` in that
section overrides the class's own.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy.typing as npt
from pydantic import BaseModel, ConfigDict

from messages.books import PositionRecord
from messages.market import Bars, Side, SymbolSpecRecord, TickRecord

__all__ = [
    "Bars",
    "Exit",
    "Hold",
    "Market",
    "MoveStop",
    "NoParams",
    "NoSignal",
    "PositionRecord",
    "Side",
    "Signal",
    "Strategy",
    "SymbolSpecRecord",
    "TickRecord",
]


@dataclass(frozen=True, slots=True, eq=False)
class Market:
    """One symbol at the scan instant.

    ``bars`` maps each timeframe the strategy asked for to its *closed* bars, oldest first,
    with times in UTC. ``tick`` and ``spec`` are the terminal's (server times); ``now`` is
    the broker's clock in UTC. ``positions`` are this strategy's open positions on the symbol.
    """

    symbol: str
    now: float
    bars: Mapping[str, Bars]
    tick: TickRecord | None
    spec: SymbolSpecRecord | None
    server_utc_offset_s: int = 0
    positions: tuple[PositionRecord, ...] = ()

    @property
    def bid(self) -> float | None:
        return None if self.tick is None else self.tick.bid

    @property
    def ask(self) -> float | None:
        return None if self.tick is None else self.tick.ask

    @property
    def spread(self) -> float | None:
        """Ask − bid in price units, or None without a quote."""
        if self.tick is None:
            return None
        return self.tick.ask - self.tick.bid

    @property
    def point(self) -> float | None:
        return None if self.spec is None else self.spec.point


@dataclass(frozen=True, slots=True)
class Signal:
    """Open a position: which side, how far away the stop and the target are (price units,
    from the entry), and why. ``confidence`` (0–100) skips the Researcher; without it the
    Researcher gives its own, from ``facts`` when the strategy provides them."""

    side: Side
    sl_distance: float
    tp_distance: float
    reason: str
    score: float = 0.0
    confidence: float | None = None
    facts: Any = None
    """Indicator facts for the Researcher (``messages.research.MarketFacts``)."""

    def __post_init__(self) -> None:
        if not isinstance(self.side, Side):
            raise TypeError(f"Signal.side must be a Side, got {self.side!r}")
        for name in ("sl_distance", "tp_distance"):
            value = getattr(self, name)
            if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
                raise ValueError(f"Signal.{name} must be a finite price distance > 0, "
                                 f"got {value!r}")
        if self.confidence is not None and not 0 <= self.confidence <= 100:
            raise ValueError(f"Signal.confidence must be within 0..100, got {self.confidence!r}")


@dataclass(frozen=True, slots=True)
class NoSignal:
    """Nothing to do on this symbol now, and why (shown on the dashboard's scanner card).

    A reason that starts with one of the scanner's prefixes (``NO SETUP:``, ``OFF-SESSION:``,
    ``LOW VOLATILITY:``, ``SPREAD:``, ``NEWS:``, ``ERROR:``) gets that badge; any other reason
    is shown as ``NO SETUP: <reason>``.
    """

    reason: str


@dataclass(frozen=True, slots=True)
class Hold:
    """Leave the position as it is, and why (logged)."""

    reason: str = ""


@dataclass(frozen=True, slots=True)
class MoveStop:
    """Move the position's stop loss to ``stop_loss`` (a price), towards the market only."""

    stop_loss: float
    reason: str = ""

    def __post_init__(self) -> None:
        value = self.stop_loss
        if not (isinstance(value, int | float) and math.isfinite(value) and value > 0):
            raise ValueError(f"MoveStop.stop_loss must be a finite price > 0, got {value!r}")


@dataclass(frozen=True, slots=True)
class Exit:
    """Close ``volume`` lots of the position at the market (None: all of it), and why."""

    reason: str
    volume: float | None = None

    def __post_init__(self) -> None:
        value = self.volume
        if value is not None and not (isinstance(value, int | float) and math.isfinite(value)
                                      and value > 0):
            raise ValueError(f"Exit.volume must be a finite volume > 0 or None, got {value!r}")


class NoParams(BaseModel):
    """A strategy without parameters."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Strategy:
    """Subclass this. Class attributes say what the strategy needs:

    - ``name``: how it is shown and keyed (defaults to the class name); two strategies in one
      daemon need different names.
    - ``Params``: a pydantic model of its parameters (``extra`` keys are refused).
    - ``symbols``: what it trades; ``None`` takes ``strategy.symbols`` (the broker's universe
      when that is empty).
    - ``timeframes``: the bars :meth:`scan` gets; ``history``: how many closed bars of each.
    - ``trade_management``: whether Ensemble's trade management (early cut, break-even with a
      partial close, trailing stop; ``strategy.management``) runs on its positions; without it
      they run to their stop or target.
    """

    name: ClassVar[str | None] = None
    Params: ClassVar[type[BaseModel]] = NoParams
    symbols: ClassVar[tuple[str, ...] | None] = None
    timeframes: ClassVar[tuple[str, ...]] = ("M5",)
    history: ClassVar[int] = 300
    trade_management: ClassVar[bool] = True

    def __init__(self, params: BaseModel | None = None) -> None:
        self.params = params if params is not None else self.Params()

    @classmethod
    def display_name(cls) -> str:
        return cls.name or cls.__name__

    @classmethod
    def params_from(cls, section: dict[str, Any], settings: Any) -> BaseModel:
        """The strategy's parameters from its configuration section (pydantic validates;
        a ``ValidationError`` is reported by key at start-up)."""
        return cls.Params.model_validate(section)

    def scan(self, market: Market) -> Signal | NoSignal:
        """Look at one symbol; return a signal to open a position, or why not."""
        raise NotImplementedError(f"{type(self).__name__}.scan")

    def candidate_bars(self, bars: Bars) -> npt.ArrayLike | None:
        """Optional, for backtests only: where :meth:`scan` may return a :class:`Signal`.

        ``bars`` are one symbol's closed bars of ``timeframes[0]`` over a whole backtest
        (UTC, oldest first), with at least ``history`` bars before its first step. Answer a
        boolean array of ``len(bars)``: True at ``i`` when :meth:`scan` might signal at a scan
        whose last closed bar is ``bars[i]``. It may mark more bars than :meth:`scan` signals
        at (``scan`` stays the authority at every bar it is called), never fewer: compute it
        with a margin where floating-point sums differ from :meth:`scan`'s. A backtest then
        scans a symbol only at its marked bars and while a position or order is open, and
        skips a bar where nothing is marked or open (as Freqtrade's ``populate_entry_trend``
        computes a whole dataframe at once). None (the default): unknown, every bar is
        scanned. A live daemon never calls it."""
        return None

    def manage(self, position: PositionRecord, market: Market) -> Hold | MoveStop | Exit | None:
        """Decide about one of this strategy's open positions (``market`` is its symbol's),
        once per scan cycle. None: leave it to Ensemble's trade management (when
        ``trade_management`` is on; otherwise it runs to its stop or target)."""
        return None
