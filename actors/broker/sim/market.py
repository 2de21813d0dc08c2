"""The simulated market: a seeded, random-access price process with bars and ticks on demand.

Every price is a pure function of (seed, symbol, time), so the same seed and the same clock
times give the same prices, whatever was asked before and in whatever order. Three layers:

1. **Daily anchors** per *factor* (a log-price driver): an Ornstein-Uhlenbeck level with a
   persistent trend term and a volatility regime (both AR(1)), stepped once per server day from
   :data:`ANCHOR_FIRST_DAY`. Trends, ranges and calm or wild spells come from here. The FX pairs
   share currency factors (a common dollar factor plus one per currency), so crosses stay
   triangularly consistent and correlated; every other symbol has a factor of its own.
2. **Minutes** per (symbol, server day), generated at once with numpy: a variance-weighted
   Brownian bridge between the day's anchors, shaped by the intraday activity profile and a
   small hourly drift (intraday trends), gives each minute's open and close; highs and lows, tick
   counts and spreads (wider at rollover and in thin hours) are drawn around them.
3. **Ticks** per minute, generated when asked for: a path that starts at the minute's open,
   visits its high and low and ends at its close, so bars and ticks always agree.

Prices are integer *points* internally (exact grid), converted to floats at the edge. Bars of
every timeframe are aggregated from minutes, aligned to the server day; the current bar is rebuilt
from the ticks seen so far, so ``copy_rates_from_pos(..., 0, n)[-1]`` is unfinished and changes
every tick. Minutes outside the symbol's sessions have no bars and no ticks, and the latent price
keeps moving (a gap at the weekly open). A :class:`~actors.broker.sim.replay.ReplayBook` can take
the place of layers 1-2 for some symbols (bars from an MT5 CSV export).

All times here are *server* times (UTC + offset, reference mt5_api.md §8.3): seconds for bars,
milliseconds for ticks.
"""

from __future__ import annotations

import array
import bisect
import dataclasses
import functools
import threading
import weakref
import zlib
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Generic, TypeVar

import numpy as np

from actors.broker.sim import constants as c
from actors.broker.sim.seeding import (
    WORD,
    MinuteSeeds,
    Restarter,
    first_below,
    pcg64_start,
    seeded,
)
from actors.broker.sim.universe import (
    CURRENCY_BETAS,
    CURRENCY_IDIOSYNCRATIC_VOL,
    DOLLAR_FACTOR_VOL,
    MINUTES_PER_DAY,
    SymbolSpec,
    activity_profile,
    spread_profile,
)

if TYPE_CHECKING:
    from actors.broker.sim.replay import ReplayBook
    from messages.server_time import ServerTime

__all__ = [
    "ANCHOR_FIRST_DAY",
    "RATES_DTYPE",
    "TICKS_DTYPE",
    "DayBars",
    "MarketError",
    "PointTick",
    "SimulatedMarket",
    "Touch",
    "server_day",
    "weekday_of_day",
]

RATES_DTYPE = np.dtype(
    [
        ("time", "<i8"),
        ("open", "<f8"),
        ("high", "<f8"),
        ("low", "<f8"),
        ("close", "<f8"),
        ("tick_volume", "<u8"),
        ("spread", "<i4"),
        ("real_volume", "<u8"),
    ]
)
"""``MqlRates`` as the real module returns it (reference §5): packed, itemsize 60."""

TICKS_DTYPE = np.dtype(
    [
        ("time", "<i8"),
        ("bid", "<f8"),
        ("ask", "<f8"),
        ("last", "<f8"),
        ("volume", "<u8"),
        ("time_msc", "<i8"),
        ("flags", "<u4"),
        ("volume_real", "<f8"),
    ]
)
"""``MqlTick`` as the real module returns it (reference §5): packed, itemsize 60."""

SECONDS_PER_DAY = 86_400
MS_PER_MINUTE = 60_000
ANCHOR_FIRST_DAY = (date(2018, 1, 1) - date(1970, 1, 1)).days
"""The first server day of the simulated history (a Monday). Nothing exists before it."""

_ANCHOR_BLOCK_DAYS = 256
_TRADING_DAYS_PER_YEAR = 260.0
_VOL_REGIME_PERSISTENCE = 0.94
_VOL_REGIME_SPREAD = 0.35
_TREND_PERSISTENCE = 0.9
_TREND_STRENGTH = 0.3
_MEAN_REVERSION_PER_DAY = 1.0 / 400.0
_WEEKEND_DAMPING = 0.1
_HOURLY_DRIFT_SHARE = 0.8
_RANGE_SCALE = 0.6
_MAX_TICKS_PER_MINUTE = 240
_FLAT_WEIGHTS = np.full(MINUTES_PER_DAY, 1.0 / MINUTES_PER_DAY)


class MarketError(Exception):
    """A request the terminal answers with ``None`` and an error code (code, description)."""

    def __init__(self, code: int, description: str) -> None:
        super().__init__(code, description)
        self.code = code
        self.description = description


def server_day(server_seconds: float) -> int:
    return int(server_seconds // SECONDS_PER_DAY)


def weekday_of_day(day: int) -> int:
    """``DAY_OF_WEEK_*`` (0 = Sunday) of a day counted from 1970-01-01, a Thursday."""
    return (day + 4) % 7


@functools.cache
def _crc(text: str) -> int:
    return zlib.crc32(text.encode())


# --------------------------------------------------------------------------------------------
# Layer 1: factors and their daily anchors


@dataclass(frozen=True, slots=True)
class _Factor:
    name: str
    annual_volatility: float
    category: str
    trades_on_weekends: bool


def _factor_loadings(spec: SymbolSpec) -> tuple[tuple[str, float], ...]:
    """Which factors drive a symbol's log price, with which coefficients."""
    if spec.category == "forex":
        base, quote = spec.currency_base, spec.currency_profit
        loadings: list[tuple[str, float]] = []
        dollar = CURRENCY_BETAS[base] - CURRENCY_BETAS[quote]
        if dollar:
            loadings.append(("FX:USD-INDEX", dollar))
        if base != "USD":
            loadings.append((f"FX:{base}", 1.0))
        if quote != "USD":
            loadings.append((f"FX:{quote}", -1.0))
        return tuple(loadings)
    own = ((f"SYM:{spec.name}", 1.0),)
    if spec.category == "metal":
        return (*own, ("FX:USD-INDEX", 0.5))
    return own


def _factor_for(name: str, universe: Mapping[str, SymbolSpec]) -> _Factor:
    if name == "FX:USD-INDEX":
        return _Factor(name, DOLLAR_FACTOR_VOL, "forex", False)
    if name.startswith("FX:"):
        return _Factor(name, CURRENCY_IDIOSYNCRATIC_VOL[name[3:]], "forex", False)
    spec = universe[name[4:]]
    return _Factor(name, spec.annual_volatility, spec.category, spec.category == "crypto")


class _AnchorTable:
    """Daily anchors of a set of factors, stepped day by day from ``ANCHOR_FIRST_DAY``.

    Stepping is sequential and elementwise per factor, so a factor's values do not depend on
    which other factors share the table or on how far the table was extended before.
    """

    def __init__(self, seed: int, factors: tuple[_Factor, ...]) -> None:
        self._seed = seed
        self.factors = factors
        self.index = {f.name: i for i, f in enumerate(factors)}
        n = len(factors)
        self._daily_vol = np.array([f.annual_volatility for f in factors]) / np.sqrt(
            _TRADING_DAYS_PER_YEAR
        )
        self._weekend_damped = np.array([not f.trades_on_weekends for f in factors])
        # levels[k] is the log level at the start of day ANCHOR_FIRST_DAY + k;
        # sigmas[k] the volatility of that day.
        self.levels = np.zeros((1, n))
        self.sigmas = np.zeros((0, n))
        self._log_vol = np.zeros(n)
        self._trend = np.zeros(n)
        self._lock = threading.Lock()

    def ensure(self, last_day: int) -> None:
        """Make anchors available for days up to ``last_day`` (and its end level)."""
        needed = last_day - ANCHOR_FIRST_DAY + 1
        if needed <= self.sigmas.shape[0]:
            return
        with self._lock:
            done = self.sigmas.shape[0]
            if needed <= done:
                return
            # Extend in whole blocks so that random draws are keyed by block, not by history.
            target = ((needed + _ANCHOR_BLOCK_DAYS - 1) // _ANCHOR_BLOCK_DAYS) * _ANCHOR_BLOCK_DAYS
            n = len(self.factors)
            new_levels = np.empty((target - done, n))
            new_sigmas = np.empty((target - done, n))
            level = self.levels[-1].copy()
            log_vol, trend = self._log_vol.copy(), self._trend.copy()
            vol_innovation = np.sqrt(1 - _VOL_REGIME_PERSISTENCE**2) * _VOL_REGIME_SPREAD
            trend_innovation = np.sqrt(1 - _TREND_PERSISTENCE**2)
            for block_start in range(done, target, _ANCHOR_BLOCK_DAYS):
                block = block_start // _ANCHOR_BLOCK_DAYS
                draws = np.stack(
                    [
                        seeded(self._seed, _crc(f.name), 1, block).standard_normal(
                            (_ANCHOR_BLOCK_DAYS, 3)
                        )
                        for f in self.factors
                    ],
                    axis=1,
                )
                for k in range(_ANCHOR_BLOCK_DAYS):
                    day = ANCHOR_FIRST_DAY + block_start + k
                    z = draws[k]
                    log_vol = _VOL_REGIME_PERSISTENCE * log_vol + vol_innovation * z[:, 0]
                    trend = _TREND_PERSISTENCE * trend + trend_innovation * z[:, 1]
                    sigma = self._daily_vol * np.exp(log_vol)
                    if weekday_of_day(day) in (c.DAY_OF_WEEK_SATURDAY, c.DAY_OF_WEEK_SUNDAY):
                        sigma = np.where(self._weekend_damped, sigma * _WEEKEND_DAMPING, sigma)
                    level = (
                        level * (1 - _MEAN_REVERSION_PER_DAY)
                        + _TREND_STRENGTH * trend * sigma
                        + sigma * z[:, 2]
                    )
                    row = block_start + k - done
                    new_sigmas[row] = sigma
                    new_levels[row] = level
            self.levels = np.concatenate([self.levels, new_levels])
            self.sigmas = np.concatenate([self.sigmas, new_sigmas])
            self._log_vol, self._trend = log_vol, trend


_ANCHOR_TABLES: dict[tuple[int, tuple[str, ...]], _AnchorTable] = {}
_ANCHOR_TABLES_LOCK = threading.Lock()


def _anchor_table(seed: int, factors: tuple[_Factor, ...]) -> _AnchorTable:
    # Shared per process: building anchors is the costliest start-up step, and every terminal
    # with the same seed and universe would compute the same numbers.
    key = (seed, tuple(f.name for f in factors))
    with _ANCHOR_TABLES_LOCK:
        table = _ANCHOR_TABLES.get(key)
        if table is None:
            table = _ANCHOR_TABLES[key] = _AnchorTable(seed, factors)
        return table


# --------------------------------------------------------------------------------------------
# Layer 2: the minutes of one server day


@dataclass(frozen=True, slots=True)
class DayBars:
    """The M1 bars of one symbol on one server day, prices in integer points."""

    day: int
    minute: np.ndarray
    """Minute of the day (0..1439) of each existing bar, ascending."""
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    ticks: np.ndarray
    spread: np.ndarray
    """Smallest spread of the minute, in points."""
    _minutes: array.array[int] = dataclasses.field(init=False, repr=False, compare=False)
    """``minute`` as a plain array: a quote looks rows up several times, and bisecting it
    takes a tenth of the time of ``np.searchsorted`` on one value."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "_minutes",
                           array.array("q", self.minute.astype(np.int64).tobytes()))

    @property
    def start(self) -> int:
        return self.day * SECONDS_PER_DAY

    def rows_before(self, minute_of_day: int) -> int:
        """How many bars open before ``minute_of_day``."""
        return bisect.bisect_left(self._minutes, minute_of_day)

    def row_of(self, minute_of_day: int) -> int:
        row = self.rows_before(minute_of_day)
        if row < len(self._minutes) and self._minutes[row] == minute_of_day:
            return row
        return -1

    @staticmethod
    def empty(day: int) -> DayBars:
        ints = np.zeros(0, dtype=np.int64)
        return DayBars(day, ints.astype(np.int32), ints, ints, ints, ints, ints, ints)


_Head = tuple[int, "tuple[int, int, int] | np.random.Generator"]
"""A minute's first tick offset, and where its generator stands after drawing it: PCG64's
(state, increment, kept 32 bits) for a :class:`~actors.broker.sim.seeding.Restarter`, or the
generator itself (numpy's path)."""


@dataclass(frozen=True, slots=True)
class PointTick:
    """One tick, prices in points."""

    time_msc: int
    bid: int
    ask: int
    flags: int


@dataclass(frozen=True, slots=True)
class Touch:
    """The first tick at which a price condition held."""

    time_msc: int
    bid: int
    ask: int


@dataclass(frozen=True, slots=True)
class _TickBlock:
    time_msc: np.ndarray
    bid: np.ndarray
    ask: np.ndarray
    flags: np.ndarray


_K = TypeVar("_K")
_V = TypeVar("_V")


class _LruCache(Generic[_K, _V]):
    def __init__(self, capacity: int) -> None:
        self._capacity = capacity
        self._items: OrderedDict[_K, _V] = OrderedDict()

    def get(self, key: _K) -> _V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def pop(self, key: _K) -> _V | None:
        return self._items.pop(key, None)

    def put(self, key: _K, value: _V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self._capacity:
            self._items.popitem(last=False)


class _SharedDays:
    """The minutes (layer 2) and factor paths of one seed, universe and spread setting, with
    the lock that guards them: shared by every market of this process built alike, as the
    anchors are. A backtest's driver reads the history its strategies' ``candidate_bars``
    need from a terminal of its own, and the broker's terminal then finds those days built.
    It lives as long as a market uses it."""

    def __init__(self, symbols: int) -> None:
        self.lock = threading.RLock()
        self.days: _LruCache[tuple[str, int], DayBars] = _LruCache(64 * max(symbols, 1))
        self.factor_paths: _LruCache[tuple[str, int], tuple[np.ndarray, np.ndarray]] = (
            _LruCache(256))


_SHARED_DAYS: weakref.WeakValueDictionary[tuple[object, ...], _SharedDays] = (
    weakref.WeakValueDictionary())
_SHARED_DAYS_LOCK = threading.Lock()


def _shared_days(seed: int, universe: Mapping[str, SymbolSpec], spread_points: int | None,
                 server_time: ServerTime | None) -> _SharedDays:
    try:
        key: tuple[object, ...] = (seed, spread_points, frozenset(universe.items()),
                                   server_time.setting if server_time is not None else None)
        hash(key)
    except TypeError:  # an unhashable spec: a cache of its own
        return _SharedDays(len(universe))
    with _SHARED_DAYS_LOCK:
        shared = _SHARED_DAYS.get(key)
        if shared is None:
            shared = _SharedDays(len(universe))
            _SHARED_DAYS[key] = shared
        return shared


@dataclass(slots=True)
class _Series:
    """Bars of one timeframe (up to D1) for whole server days ``first_day..last_day``."""

    minutes: int
    first_day: int
    last_day: int
    bars: np.ndarray


class SimulatedMarket:
    """Quotes, bars and ticks of a set of symbols, computed on demand from a seed.

    ``universe`` holds every symbol the market can price (including those needed only to convert
    profits into the account currency). Thread-safe: the terminal may be served to several RPyC
    clients at once.
    """

    def __init__(
        self,
        *,
        seed: int,
        universe: Mapping[str, SymbolSpec],
        history_bars: int = 500,
        max_bars: int = 100_000,
        replay: ReplayBook | None = None,
        spread_points: int | None = None,
        server_time: ServerTime | None = None,
    ) -> None:
        self.seed = int(seed)
        self.spread_points = spread_points
        self.server_time = server_time
        """The server's clock rule: the hour a spring switch skips has no minutes (None: every
        server minute exists, a clock without switches)."""
        self.universe = dict(universe)
        self.history_bars = int(history_bars)
        self.max_bars = int(max_bars)
        self._replay = replay
        self._loadings = {name: _factor_loadings(spec) for name, spec in self.universe.items()}
        factor_names = sorted({f for loads in self._loadings.values() for f, _ in loads})
        self._anchors = _anchor_table(
            self.seed, tuple(_factor_for(name, self.universe) for name in factor_names)
        )
        # Generated minutes are shared with the markets of this process built alike (they are
        # pure functions of the seed, the universe and the spread); replayed ones are not.
        shared = (_SharedDays(len(universe)) if replay is not None
                  else _shared_days(self.seed, self.universe, spread_points, server_time))
        self._shared = shared
        self._factor_paths = shared.factor_paths
        self._days = shared.days
        self._ticks: _LruCache[tuple[str, int], _TickBlock] = _LruCache(16 * max(len(universe), 1))
        self._last_ticks: _LruCache[tuple[str, int], PointTick] = _LruCache(
            16 * max(len(universe), 1))
        self._heads: _LruCache[tuple[str, int], _Head] = _LruCache(4 * max(len(universe), 1))
        # A minute's generator without numpy's cost of making one (seeding.py): the hash of
        # (seed, symbol, 4) is done once per symbol; a seed above 2**32 takes numpy's path.
        self._minute_seeds = ({name: MinuteSeeds(self.seed, _crc(name), 4)
                               for name in self.universe} if 0 <= self.seed <= WORD else {})
        self._restarter = Restarter()
        self._series: dict[tuple[str, int], _Series] = {}
        self._lock = shared.lock

    # ---- symbols and sessions -------------------------------------------------------------

    def spec(self, symbol: str) -> SymbolSpec:
        return self.universe[symbol]

    def is_replayed(self, symbol: str) -> bool:
        return self._replay is not None and symbol in self._replay.symbols

    def in_session(self, symbol: str, server_ms: int) -> bool:
        """Whether the symbol trades at this moment: inside a session and with quotes."""
        spec = self.universe[symbol]
        minute_abs = server_ms // MS_PER_MINUTE
        day, minute = divmod(minute_abs, MINUTES_PER_DAY)
        if not spec.is_open(weekday_of_day(day), minute):
            return False
        if self.is_replayed(symbol) or self.server_time is not None:
            return self.day_bars(symbol, day).row_of(minute) >= 0  # a gap, a skipped hour
        return True

    # ---- layer 2 --------------------------------------------------------------------------

    def day_bars(self, symbol: str, day: int) -> DayBars:
        key = (symbol, day)
        with self._lock:
            found = self._days.get(key)
            if found is None:
                if self._replay is not None and symbol in self._replay.symbols:
                    found = self._replay.day_bars(symbol, day)
                elif day < ANCHOR_FIRST_DAY:
                    found = DayBars.empty(day)
                else:
                    found = self._generate_day(symbol, day)
                if self.spread_points is not None:  # a configured spread replaces the bars'
                    found = dataclasses.replace(
                        found, spread=np.full_like(found.spread, self.spread_points))
                self._days.put(key, found)
            return found

    def _factor_path(self, name: str, day: int) -> tuple[np.ndarray, np.ndarray]:
        """Log level of a factor at the 1,441 minute boundaries of a day, and each minute's
        variance."""
        key = (name, day)
        cached = self._factor_paths.get(key)
        if cached is not None:
            return cached
        table = self._anchors
        table.ensure(day + 1)
        col = table.index[name]
        row = day - ANCHOR_FIRST_DAY
        start, end = table.levels[row, col], table.levels[row + 1, col]
        sigma = table.sigmas[row, col]
        factor = table.factors[col]
        weekend = weekday_of_day(day) in (c.DAY_OF_WEEK_SATURDAY, c.DAY_OF_WEEK_SUNDAY)
        if weekend and not factor.trades_on_weekends:
            weights = _FLAT_WEIGHTS
        else:
            profile = activity_profile(factor.category)
            weights = profile / profile.sum()
        rng = seeded(self.seed, _crc(name), 2, day)
        shocks = rng.standard_normal(MINUTES_PER_DAY)
        hourly = rng.standard_normal(24)
        variance = sigma * sigma * weights
        hour_weights = weights.reshape(24, 60)
        hourly_drift = (
            (_HOURLY_DRIFT_SHARE * sigma / np.sqrt(24.0))
            * hourly[:, None]
            * (hour_weights / hour_weights.sum(axis=1, keepdims=True))
        ).ravel()
        walk = np.cumsum(np.sqrt(variance) * shocks + hourly_drift)
        share = np.cumsum(variance) / variance.sum()
        bridged = start + walk - share * (walk[-1] - (end - start))
        path = np.concatenate([[start], bridged])
        self._factor_paths.put(key, (path, variance))
        return path, variance

    def _generate_day(self, symbol: str, day: int) -> DayBars:
        spec = self.universe[symbol]
        weekday = weekday_of_day(day)
        log_price = np.full(MINUTES_PER_DAY + 1, np.log(spec.reference_price))
        variance = np.zeros(MINUTES_PER_DAY)
        for factor, loading in self._loadings[symbol]:
            path, factor_variance = self._factor_path(factor, day)
            log_price += loading * path
            variance += loading * loading * factor_variance
        point = spec.point
        prices = np.exp(log_price)
        points = np.rint(prices / point).astype(np.int64)
        np.maximum(points, 1, out=points)
        opens, closes = points[:-1], points[1:]
        rng = seeded(self.seed, _crc(symbol), 3, day)
        minute_std_points = prices[1:] * np.sqrt(variance) / point * _RANGE_SCALE
        up = np.floor(np.abs(rng.standard_normal(MINUTES_PER_DAY)) * minute_std_points)
        down = np.floor(np.abs(rng.standard_normal(MINUTES_PER_DAY)) * minute_std_points)
        highs = np.maximum(opens, closes) + up.astype(np.int64)
        lows = np.maximum(np.minimum(opens, closes) - down.astype(np.int64), 1)
        activity = activity_profile(spec.category)
        ticks = 4 + rng.poisson(spec.ticks_per_minute * activity)
        np.minimum(ticks, _MAX_TICKS_PER_MINUTE, out=ticks)
        spreads = np.maximum(
            1,
            np.rint(
                spec.spread_points
                * spread_profile(spec.category)
                * np.exp(0.15 * rng.standard_normal(MINUTES_PER_DAY))
            ),
        ).astype(np.int64)
        mask = spec.open_minutes(weekday)
        if self.server_time is not None:
            first_s = day * SECONDS_PER_DAY
            for lo, hi in self.server_time.skipped(first_s, first_s + SECONDS_PER_DAY):
                mask = mask.copy()
                mask[(lo - first_s) // 60:-(-(hi - first_s) // 60)] = False
        minutes = np.flatnonzero(mask).astype(np.int32)
        return DayBars(
            day,
            minutes,
            opens[mask],
            highs[mask],
            lows[mask],
            closes[mask],
            ticks[mask].astype(np.int64),
            spreads[mask],
        )

    # ---- layer 3 --------------------------------------------------------------------------

    def _generator(self, key: tuple[str, int]) -> tuple[np.random.Generator, int]:
        """The minute's generator after its first draw (kept by :meth:`_first_tick_ms`, else
        made afresh), handed over to draw the rest: valid until the next one is asked for
        (the market's one :class:`~actors.broker.sim.seeding.Restarter`, under its lock)."""
        head = self._heads.pop(key)
        first, start = head if head is not None else self._tick_head(*key)
        if isinstance(start, np.random.Generator):
            return start, first
        return self._restarter.generator(*start), first

    @staticmethod
    def _ohlc(bars: DayBars, row: int) -> tuple[int, int, int, int]:
        return (int(bars.open[row]), int(bars.high[row]), int(bars.low[row]),
                int(bars.close[row]))

    def _tick_block(self, symbol: str, bars: DayBars, row: int) -> _TickBlock:
        minute_abs = bars.day * MINUTES_PER_DAY + int(bars.minute[row])
        key = (symbol, minute_abs)
        found = self._ticks.get(key)
        if found is not None:
            return found
        rng, first = self._generator(key)
        count = int(bars.ticks[row])
        o, h, lo, cl = self._ohlc(bars, row)
        offsets = np.sort(rng.integers(first + 1, MS_PER_MINUTE, count - 1))
        times = minute_abs * MS_PER_MINUTE + np.concatenate([[first], offsets])
        # Key points: open first, close last, high and low somewhere in between.
        interior = rng.choice(np.arange(1, count - 1), size=2, replace=False)
        key_index = np.array([0, *sorted(interior), count - 1])
        high_first = interior[0] < interior[1]
        key_value = np.array([o, h, lo, cl] if high_first else [o, lo, h, cl], dtype=np.float64)
        path = np.interp(np.arange(count), key_index, key_value)
        noise = rng.standard_normal(count) * max((h - lo) / 6.0, 0.5)
        bid = np.clip(np.rint(path + noise), lo, h).astype(np.int64)
        bid[key_index] = key_value.astype(np.int64)
        base_spread = int(bars.spread[row])
        spread = base_spread + rng.integers(0, base_spread // 2 + 2, count)
        spread[int(rng.integers(0, count))] = base_spread
        ask = bid + spread
        flags = np.full(count, c.TICK_FLAG_BID | c.TICK_FLAG_ASK, dtype=np.uint32)
        flags[1:] = np.where(np.diff(bid) != 0, c.TICK_FLAG_BID, 0) | np.where(
            np.diff(ask) != 0, c.TICK_FLAG_ASK, 0
        )
        block = _TickBlock(times, bid, ask, flags)
        self._ticks.put(key, block)
        return block

    def _last_tick(self, symbol: str, bars: DayBars, row: int) -> PointTick:
        """The minute's last tick, as :meth:`_tick_block` would draw it, without building the
        block: the same draws in the same order, but only the two last ticks' prices are
        computed (a bar-by-bar clock asks for the quote at a minute boundary, where the last
        tick of the minute before is current). The block drawn later, if any, starts from a
        fresh generator of the same seed, so it is the same."""
        minute_abs = bars.day * MINUTES_PER_DAY + int(bars.minute[row])
        key = (symbol, minute_abs)
        found = self._last_ticks.get(key)
        if found is not None:
            return found
        block = self._ticks.get(key)
        count = int(bars.ticks[row])
        if block is not None or count < 4:
            block = block if block is not None else self._tick_block(symbol, bars, row)
            return PointTick(int(block.time_msc[-1]), int(block.bid[-1]), int(block.ask[-1]),
                         int(block.flags[-1]))
        rng, first = self._generator(key)
        _open, h, lo, cl = self._ohlc(bars, row)
        last_offset = int(rng.integers(first + 1, MS_PER_MINUTE, count - 1).max())
        # choice(n) draws as choice(arange(n)) does; the ints are the same ticks as the
        # block's arange(1, count - 1).
        drawn = rng.choice(count - 2, size=2, replace=False)
        first_key, second_key = int(drawn[0]) + 1, int(drawn[1]) + 1
        high_first = first_key < second_key
        noise = rng.standard_normal(count)
        base_spread = int(bars.spread[row])
        spread = rng.integers(0, base_spread // 2 + 2, count)
        fixed = int(rng.integers(0, count))
        # The one bid needed, the tick before the last, in plain floats: the block's
        # np.interp over the key points (here always between the later key and the close,
        # or on a key) and its rint and clip, the same IEEE operations in the same order.
        before = count - 2
        later = max(first_key, second_key)
        later_value = lo if high_first else h  # key_value[2] of the block
        if before == later:
            bid_before = later_value
        else:
            slope = float(cl - later_value) / float(count - 1 - later)
            path = slope * float(before - later) + float(later_value)
            bid_before = min(max(round(path + float(noise[before]) * max((h - lo) / 6.0, 0.5)),
                                 lo), h)
        ask_before = bid_before + (base_spread if fixed == before
                                   else base_spread + int(spread[before]))
        ask_last = cl + (base_spread if fixed == count - 1 else base_spread + int(spread[-1]))
        flags = ((c.TICK_FLAG_BID if cl != bid_before else 0)
                 | (c.TICK_FLAG_ASK if ask_last != ask_before else 0))
        quote = PointTick(minute_abs * MS_PER_MINUTE + last_offset, cl, ask_last, flags)
        self._last_ticks.put(key, quote)
        return quote

    def _tick_head(self, symbol: str, minute_abs: int) -> _Head:
        """The first draw of a minute's ticks (the first tick's offset), and where that
        minute's generator stands after it: numpy's ``default_rng([seed, crc, 4, minute])``
        and its ``integers(0, 300)``, computed as numpy would (``seeding.py``) or, for a
        seed or minute beyond one seed word or a draw Lemire's method rejects, by numpy."""
        seeds = self._minute_seeds.get(symbol)
        if seeds is not None and 0 <= minute_abs <= WORD:
            state, inc = pcg64_start(seeds.words(minute_abs))
            drawn = first_below(state, inc, 300)
            if drawn is not None:
                first, after, kept = drawn
                return first, (after, inc, kept)
        rng = seeded(self.seed, _crc(symbol), 4, minute_abs)
        return int(rng.integers(0, 300)), rng

    def _first_tick_ms(self, symbol: str, bars: DayBars, row: int) -> int:
        """When the minute's first tick comes, without drawing the rest of its ticks.

        A bar-by-bar clock stands at minute boundaries, before the new minute's first tick:
        asking this first spares a whole block (most of a quote's cost) that nobody reads.
        The generator is kept so that the block drawn later is the same."""
        minute_abs = bars.day * MINUTES_PER_DAY + int(bars.minute[row])
        key = (symbol, minute_abs)
        found = self._ticks.get(key)
        if found is not None:
            return int(found.time_msc[0])
        head = self._heads.get(key)
        if head is None:
            head = self._tick_head(symbol, minute_abs)
            self._heads.put(key, head)
        return minute_abs * MS_PER_MINUTE + head[0]

    @staticmethod
    def max_tick_spread(base_spread: int) -> int:
        return base_spread + base_spread // 2 + 1

    # ---- quotes ---------------------------------------------------------------------------

    def quote(self, symbol: str, server_ms: int) -> PointTick | None:
        """The last tick at or before ``server_ms`` (looking back up to two weeks)."""
        with self._lock:
            minute_abs = server_ms // MS_PER_MINUTE
            day, minute = divmod(minute_abs, MINUTES_PER_DAY)
            for back in range(15):
                bars = self.day_bars(symbol, day - back)
                if not len(bars.minute):
                    continue
                limit = minute + 1 if back == 0 else MINUTES_PER_DAY
                row = bars.rows_before(limit) - 1
                while row >= 0:
                    if self._first_tick_ms(symbol, bars, row) > server_ms:
                        row -= 1
                        continue
                    minute_end = (bars.day * MINUTES_PER_DAY + int(bars.minute[row]) + 1) \
                        * MS_PER_MINUTE
                    if server_ms >= minute_end - 1:
                        return self._last_tick(symbol, bars, row)  # the whole minute is past
                    block = self._tick_block(symbol, bars, row)
                    index = int(np.searchsorted(block.time_msc, server_ms, side="right")) - 1
                    if index >= 0:
                        return PointTick(
                            int(block.time_msc[index]),
                            int(block.bid[index]),
                            int(block.ask[index]),
                            int(block.flags[index]),
                        )
                    row -= 1
            return None

    # ---- bars -----------------------------------------------------------------------------

    @staticmethod
    def _aggregate(days: list[DayBars], minutes: int, spec: SymbolSpec) -> np.ndarray:
        if not days:
            return np.zeros(0, dtype=RATES_DTYPE)
        minute_abs = np.concatenate(
            [d.day * MINUTES_PER_DAY + d.minute.astype(np.int64) for d in days]
        )
        if not len(minute_abs):
            return np.zeros(0, dtype=RATES_DTYPE)
        fields = {
            name: np.concatenate([getattr(d, name) for d in days])
            for name in ("open", "high", "low", "close", "ticks", "spread")
        }
        keys = minute_abs // minutes
        starts = np.concatenate([[0], np.flatnonzero(np.diff(keys)) + 1])
        ends = np.concatenate([starts[1:], [len(keys)]]) - 1
        out = np.zeros(len(starts), dtype=RATES_DTYPE)
        point, digits = spec.point, spec.digits
        out["time"] = keys[starts] * minutes * 60
        out["open"] = np.round(fields["open"][starts] * point, digits)
        out["high"] = np.round(np.maximum.reduceat(fields["high"], starts) * point, digits)
        out["low"] = np.round(np.minimum.reduceat(fields["low"], starts) * point, digits)
        out["close"] = np.round(fields["close"][ends] * point, digits)
        out["tick_volume"] = np.add.reduceat(fields["ticks"], starts)
        out["spread"] = np.minimum.reduceat(fields["spread"], starts)
        return out

    def _bars_per_day(self, symbol: str, minutes: int) -> float:
        spec = self.universe[symbol]
        open_minutes = sum(int(spec.open_minutes(w).sum()) for w in range(7)) / 7.0
        return max(open_minutes / minutes, 1.0 / 7.0)

    def _build_days(self, symbol: str, first: int, last: int, minutes: int) -> np.ndarray:
        days = [self.day_bars(symbol, d) for d in range(first, last + 1)]
        return self._aggregate(days, minutes, self.universe[symbol])

    def _series_for(
        self, symbol: str, minutes: int, today: int, wanted_before_today: int
    ) -> _Series:
        """Bars of whole days up to ``today``, with at least ``wanted_before_today`` bars on
        earlier days when the history reaches that far."""
        key = (symbol, minutes)
        series = self._series.get(key)
        if series is None:
            # The first request builds the configured history at once, so later requests for
            # the usual depths are pure slicing.
            initial = max(wanted_before_today, self.history_bars)
            days = int(initial / self._bars_per_day(symbol, minutes)) + 3
            first = max(today - days, ANCHOR_FIRST_DAY - 1)
            series = _Series(minutes, first, today, self._build_days(symbol, first, today, minutes))
            self._series[key] = series
        if today > series.last_day:
            fresh = self._build_days(symbol, series.last_day + 1, today, minutes)
            # The old last day was complete already; only whole new days are appended.
            series.bars = np.concatenate([series.bars, fresh])
            series.last_day = today
        floor_day = ANCHOR_FIRST_DAY - 1
        if self._replay is not None and symbol in self._replay.symbols:
            floor_day = self._replay.first_day(symbol) - 1
        while series.first_day > floor_day:
            before_today = int(
                np.searchsorted(series.bars["time"], today * SECONDS_PER_DAY, side="left")
            )
            if before_today >= wanted_before_today:
                break
            missing = wanted_before_today - before_today
            days = int(missing / self._bars_per_day(symbol, minutes)) + 3
            first = max(series.first_day - days, floor_day)
            older = self._build_days(symbol, first, series.first_day - 1, minutes)
            series.bars = np.concatenate([older, series.bars])
            series.first_day = first
        return series

    def _partial_bar(
        self, symbol: str, minutes: int, bar_start_minute_abs: int, server_ms: int
    ) -> np.ndarray | None:
        """The bar of ``minutes`` length that opened at ``bar_start_minute_abs``, as seen at
        ``server_ms``: complete minutes plus the ticks so far of the current one."""
        spec = self.universe[symbol]
        now_minute_abs = server_ms // MS_PER_MINUTE
        day = bar_start_minute_abs // MINUTES_PER_DAY
        bars = self.day_bars(symbol, day)
        start_minute = bar_start_minute_abs - day * MINUTES_PER_DAY
        end_minute = min(now_minute_abs - day * MINUTES_PER_DAY, MINUTES_PER_DAY)
        lo = bars.rows_before(start_minute)
        hi = bars.rows_before(end_minute)
        opens = list(bars.open[lo:hi])
        highs = list(bars.high[lo:hi])
        lows = list(bars.low[lo:hi])
        closes = list(bars.close[lo:hi])
        ticks = int(bars.ticks[lo:hi].sum())
        spreads = list(bars.spread[lo:hi])
        if now_minute_abs // MINUTES_PER_DAY == day:
            row = bars.row_of(end_minute)
            if row >= 0 and self._first_tick_ms(symbol, bars, row) <= server_ms:
                block = self._tick_block(symbol, bars, row)
                seen = int(np.searchsorted(block.time_msc, server_ms, side="right"))
                if seen:
                    opens.append(int(block.bid[0]))
                    highs.append(int(block.bid[:seen].max()))
                    lows.append(int(block.bid[:seen].min()))
                    closes.append(int(block.bid[seen - 1]))
                    ticks += seen
                    spreads.append(int((block.ask[:seen] - block.bid[:seen]).min()))
        if not opens:
            return None
        point, digits = spec.point, spec.digits
        row_out = np.zeros(1, dtype=RATES_DTYPE)
        row_out["time"] = bar_start_minute_abs * 60
        row_out["open"] = round(opens[0] * point, digits)
        row_out["high"] = round(max(highs) * point, digits)
        row_out["low"] = round(min(lows) * point, digits)
        row_out["close"] = round(closes[-1] * point, digits)
        row_out["tick_volume"] = ticks
        row_out["spread"] = min(spreads)
        return row_out

    def has_partial_bar(self, symbol: str, bar_start_minute_abs: int, server_ms: int) -> bool:
        """Whether the bar (up to D1) opened at ``bar_start_minute_abs`` shows at ``server_ms``
        (a complete minute, or a tick of the current one), as :meth:`_partial_bar` would find,
        without building its row or drawing a tick block."""
        with self._lock:
            now_minute_abs = server_ms // MS_PER_MINUTE
            day = bar_start_minute_abs // MINUTES_PER_DAY
            bars = self.day_bars(symbol, day)
            end_minute = min(now_minute_abs - day * MINUTES_PER_DAY, MINUTES_PER_DAY)
            if bars.rows_before(end_minute) > bars.rows_before(
                    bar_start_minute_abs - day * MINUTES_PER_DAY):
                return True
            if now_minute_abs // MINUTES_PER_DAY != day:
                return False
            row = bars.row_of(end_minute)
            return row >= 0 and self._first_tick_ms(symbol, bars, row) <= server_ms

    def visible_bars(self, symbol: str, timeframe: int, server_ms: int, wanted: int) -> np.ndarray:
        """Bars that opened at or before ``server_ms`` (the last one unfinished), at least the
        last ``wanted`` of them when history allows. May return more rows than ``wanted``."""
        if timeframe not in c.TIMEFRAME_SECONDS:
            raise MarketError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")
        if timeframe in (c.TIMEFRAME_W1, c.TIMEFRAME_MN1):
            return self._calendar_bars(symbol, timeframe, server_ms, wanted)
        minutes = c.TIMEFRAME_SECONDS[timeframe] // 60
        with self._lock:
            today = server_ms // (SECONDS_PER_DAY * 1000)
            series = self._series_for(symbol, minutes, today, wanted + 1)
            now_s = server_ms // 1000
            bar_start_abs = (server_ms // MS_PER_MINUTE) // minutes * minutes
            times = series.bars["time"]
            current = int(np.searchsorted(times, bar_start_abs * 60, side="left"))
            first = max(0, current - wanted - 1)
            out = series.bars[first:current].copy()
            partial = self._partial_bar(symbol, minutes, bar_start_abs, server_ms)
            if partial is not None and partial["time"][0] <= now_s:
                out = np.concatenate([out, partial])
            return out

    def _calendar_bars(
        self, symbol: str, timeframe: int, server_ms: int, wanted: int
    ) -> np.ndarray:
        days_per_bar = 7 if timeframe == c.TIMEFRAME_W1 else 31
        daily = self.visible_bars(
            symbol, c.TIMEFRAME_D1, server_ms, (wanted + 1) * days_per_bar * 5 // 7 + 5
        )
        if not len(daily):
            return daily
        day_index = daily["time"] // SECONDS_PER_DAY
        if timeframe == c.TIMEFRAME_W1:
            # MT5 weekly bars open on Sunday 00:00 server time.
            keys = day_index - (day_index + 4) % 7
            starts_time = keys * SECONDS_PER_DAY
        else:
            as_dates = daily["time"].astype("datetime64[s]").astype("datetime64[M]")
            keys = as_dates.astype(np.int64)
            starts_time = as_dates.astype("datetime64[s]").astype(np.int64)
        starts = np.concatenate([[0], np.flatnonzero(np.diff(keys)) + 1])
        ends = np.concatenate([starts[1:], [len(keys)]]) - 1
        out = np.zeros(len(starts), dtype=RATES_DTYPE)
        out["time"] = starts_time[starts]
        out["open"] = daily["open"][starts]
        out["high"] = np.maximum.reduceat(daily["high"], starts)
        out["low"] = np.minimum.reduceat(daily["low"], starts)
        out["close"] = daily["close"][ends]
        out["tick_volume"] = np.add.reduceat(daily["tick_volume"], starts)
        out["spread"] = np.minimum.reduceat(daily["spread"], starts)
        return out

    def bars_range(
        self, symbol: str, timeframe: int, from_s: int, to_s: int, server_ms: int
    ) -> np.ndarray:
        """Bars with ``from_s <= open time <= to_s`` that exist by ``server_ms``."""
        seconds = c.TIMEFRAME_SECONDS.get(timeframe)
        if seconds is None:
            raise MarketError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")
        now_s = server_ms // 1000
        if (to_s - from_s) // seconds >= self.max_bars:
            raise MarketError(c.RES_E_INVALID_PARAMS, "Terminal: Invalid params")
        back_bars = max(0, (now_s - from_s)) // seconds
        if back_bars > self.max_bars:
            raise MarketError(c.RES_E_FAIL, "Terminal: Call failed")
        wanted = int(min(back_bars + 1, self.max_bars))
        bars = self.visible_bars(symbol, timeframe, server_ms, wanted)
        times = bars["time"]
        lo = int(np.searchsorted(times, from_s, side="left"))
        hi = int(np.searchsorted(times, to_s, side="right"))
        return bars[lo:hi].copy()

    # ---- ticks ----------------------------------------------------------------------------

    def ticks_between(
        self, symbol: str, from_ms: int, to_ms: int, server_ms: int, limit: int | None = None
    ) -> np.ndarray:
        """Ticks with ``from_ms <= time_msc <= min(to_ms, server_ms)``, at most ``limit``."""
        end_ms = min(to_ms, server_ms)
        spec = self.universe[symbol]
        chunks: list[np.ndarray] = []
        total = 0
        with self._lock:
            minute_abs = from_ms // MS_PER_MINUTE
            last_minute_abs = end_ms // MS_PER_MINUTE
            day = minute_abs // MINUTES_PER_DAY
            while minute_abs <= last_minute_abs and (limit is None or total < limit):
                bars = self.day_bars(symbol, day)
                first_row = bars.rows_before(minute_abs - day * MINUTES_PER_DAY)
                last_row = bars.rows_before(
                    min(last_minute_abs - day * MINUTES_PER_DAY, MINUTES_PER_DAY - 1) + 1
                )
                for row in range(first_row, last_row):
                    block = self._tick_block(symbol, bars, row)
                    lo = int(np.searchsorted(block.time_msc, from_ms, side="left"))
                    hi = int(np.searchsorted(block.time_msc, end_ms, side="right"))
                    if hi > lo:
                        chunk = self._tick_rows(block, lo, hi, spec)
                        chunks.append(chunk)
                        total += len(chunk)
                        if limit is not None and total >= limit:
                            break
                day += 1
                minute_abs = day * MINUTES_PER_DAY
        if not chunks:
            return np.zeros(0, dtype=TICKS_DTYPE)
        out = np.concatenate(chunks)
        return out[:limit] if limit is not None else out

    @staticmethod
    def _tick_rows(block: _TickBlock, lo: int, hi: int, spec: SymbolSpec) -> np.ndarray:
        rows = np.zeros(hi - lo, dtype=TICKS_DTYPE)
        rows["time_msc"] = block.time_msc[lo:hi]
        rows["time"] = block.time_msc[lo:hi] // 1000
        rows["bid"] = np.round(block.bid[lo:hi] * spec.point, spec.digits)
        rows["ask"] = np.round(block.ask[lo:hi] * spec.point, spec.digits)
        rows["flags"] = block.flags[lo:hi]
        return rows

    # ---- triggers -------------------------------------------------------------------------

    def first_touch(
        self,
        symbol: str,
        after_ms: int,
        until_ms: int,
        side: str,
        above: bool,
        level: int,
    ) -> Touch | None:
        """The first tick with ``after_ms < time <= until_ms`` whose ``side`` ('bid' or 'ask')
        price is ``>= level`` (``above``) or ``<= level``. Bars screen out minutes that cannot
        touch, so long intervals stay cheap."""
        if until_ms <= after_ms:
            return None
        with self._lock:
            first_minute = after_ms // MS_PER_MINUTE
            last_minute = until_ms // MS_PER_MINUTE
            for day in range(first_minute // MINUTES_PER_DAY, last_minute // MINUTES_PER_DAY + 1):
                bars = self.day_bars(symbol, day)
                if not len(bars.minute):
                    continue
                lo = bars.rows_before(max(first_minute - day * MINUTES_PER_DAY, 0))
                hi = bars.rows_before(
                    min(last_minute - day * MINUTES_PER_DAY, MINUTES_PER_DAY - 1) + 1
                )
                if hi <= lo:
                    continue
                if side == "bid":
                    extreme = bars.high[lo:hi] if above else bars.low[lo:hi]
                elif above:
                    extreme = bars.high[lo:hi] + bars.spread[lo:hi] + bars.spread[lo:hi] // 2 + 1
                else:
                    extreme = bars.low[lo:hi] + bars.spread[lo:hi]
                hits = np.flatnonzero(extreme >= level if above else extreme <= level)
                for offset in hits:
                    row = lo + int(offset)
                    block = self._tick_block(symbol, bars, row)
                    prices = block.bid if side == "bid" else block.ask
                    ok = (prices >= level) if above else (prices <= level)
                    ok &= (block.time_msc > after_ms) & (block.time_msc <= until_ms)
                    found = np.flatnonzero(ok)
                    if len(found):
                        i = int(found[0])
                        return Touch(int(block.time_msc[i]), int(block.bid[i]), int(block.ask[i]))
            return None

    # ---- daily statistics for SymbolInfo --------------------------------------------------

    def session_stats(self, symbol: str, server_ms: int) -> tuple[int, int, int, int, int]:
        """(day high bid, day low bid, session open, previous close, smallest ask-bid seen)
        in points for the server day of ``server_ms``; zeros when nothing traded yet."""
        with self._lock:
            day = server_ms // (SECONDS_PER_DAY * 1000)
            partial = self._partial_bar(symbol, MINUTES_PER_DAY, day * MINUTES_PER_DAY, server_ms)
            previous_close = 0
            for back in range(1, 15):
                earlier = self.day_bars(symbol, day - back)
                if len(earlier.close):
                    previous_close = int(earlier.close[-1])
                    break
            if partial is None:
                return 0, 0, 0, previous_close, 0
            point = self.universe[symbol].point
            return (
                round(float(partial["high"][0]) / point),
                round(float(partial["low"][0]) / point),
                round(float(partial["open"][0]) / point),
                previous_close,
                int(partial["spread"][0]),
            )
