"""The simulated broker's instruments: contract specifications, sessions and intraday profiles.

Every symbol a simulated terminal offers is described by a frozen :class:`SymbolSpec` with the
numbers a real MT5 broker shows (digits, contract size, volume limits, stops and freeze levels,
typical spread, execution and filling modes, swaps, sessions). Stops and freeze levels are in
points, as a retail broker sets them per asset class: 1 pip / 0.5 pip on the FX majors, 2 / 1
pips on the crosses, 50 / 20 points on metals, a few index points on indices, 10 / 3 USD on
Bitcoin. :data:`DEFAULT_UNIVERSE` holds 40 of them:
the 28 pairs of the eight major currencies, two metals, six index CFDs, two crypto CFDs and two
oil CFDs. All times here are *server* times (reference mt5_api.md §8.3), as in MT5's own
symbol settings; the broker's server clock is ``sim.server_time`` (``server_clock.py``).

The market model (``market.py``) reads two intraday profiles from here, per minute of the server
day: ``activity`` (how much the price moves and how often it ticks) and ``spread multiplier``
(spreads widen at the daily rollover and in thin sessions).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache

import numpy as np

from actors.broker.sim import constants as c

__all__ = [
    "CURRENCY_BETAS",
    "CURRENCY_IDIOSYNCRATIC_VOL",
    "DEFAULT_ACTIVE_SYMBOLS",
    "DEFAULT_UNIVERSE",
    "DOLLAR_FACTOR_VOL",
    "MINUTES_PER_DAY",
    "SessionTable",
    "SymbolSpec",
    "activity_profile",
    "spread_profile",
]

MINUTES_PER_DAY = 1440

SessionTable = tuple[tuple[tuple[int, int], ...], ...]
"""Trading sessions per weekday (index 0 = Sunday, as ``DAY_OF_WEEK_*``), in minutes of the
server day, each ``(start, end)`` half-open."""


def _sessions(
    weekdays: tuple[tuple[tuple[int, int], ...], ...] | None = None,
    *,
    monday_to_thursday: tuple[tuple[int, int], ...] = (),
    friday: tuple[tuple[int, int], ...] = (),
    weekend: tuple[tuple[int, int], ...] = (),
) -> SessionTable:
    if weekdays is not None:
        return weekdays
    return (weekend, *(monday_to_thursday,) * 4, friday, weekend)


def _hm(hours: int, minutes: int = 0) -> int:
    return hours * 60 + minutes


FX_SESSIONS = _sessions(monday_to_thursday=((0, MINUTES_PER_DAY),), friday=((0, _hm(23, 55)),))
METAL_SESSIONS = _sessions(
    monday_to_thursday=((_hm(1), MINUTES_PER_DAY),), friday=((_hm(1), _hm(23, 55)),)
)
US_INDEX_SESSIONS = _sessions(
    monday_to_thursday=((_hm(1), _hm(23, 15)), (_hm(23, 30), MINUTES_PER_DAY)),
    friday=((_hm(1), _hm(23, 15)),),
)
EU_INDEX_SESSIONS = _sessions(
    monday_to_thursday=((_hm(3, 15), _hm(23)),), friday=((_hm(3, 15), _hm(23)),)
)
ASIA_INDEX_SESSIONS = _sessions(
    monday_to_thursday=((_hm(1), _hm(23, 55)),), friday=((_hm(1), _hm(23, 55)),)
)
ENERGY_SESSIONS = _sessions(
    monday_to_thursday=((_hm(1), _hm(23, 55)),), friday=((_hm(1), _hm(23, 55)),)
)
CRYPTO_SESSIONS = _sessions(tuple(((0, MINUTES_PER_DAY),) for _ in range(7)))


_POINTS = {digits: round(10.0**-digits, digits) for digits in range(16)}
"""A point by its digits: read for every price the terminal converts."""


@dataclass(frozen=True, slots=True)
class SymbolSpec:
    """One instrument's contract specification, as the broker configures it."""

    name: str
    description: str
    category: str
    """``forex``, ``metal``, ``index``, ``crypto`` or ``energy``: selects intraday profiles."""
    currency_base: str
    currency_profit: str
    currency_margin: str
    digits: int
    contract_size: float
    reference_price: float
    """The level the simulated price mean-reverts to over months."""
    annual_volatility: float
    """Only for symbols not driven by currency factors (see ``CURRENCY_BETAS``)."""
    spread_points: int
    """Typical spread at liquid hours, in points."""
    stops_level: int = 0
    freeze_level: int = 0
    calc_mode: int = c.SYMBOL_CALC_MODE_FOREX
    exemode: int = c.SYMBOL_TRADE_EXECUTION_MARKET
    filling_mode: int = c.SYMBOL_FILLING_FOK | c.SYMBOL_FILLING_IOC
    trade_mode: int = c.SYMBOL_TRADE_MODE_FULL
    order_mode: int = 127
    expiration_mode: int = 15
    volume_min: float = 0.01
    volume_max: float = 100.0
    volume_step: float = 0.01
    volume_limit: float = 0.0
    margin_rate: float = 1.0
    swap_mode: int = c.SYMBOL_SWAP_MODE_POINTS
    swap_long: float = 0.0
    """Points per lot per night (negative = charged)."""
    swap_short: float = 0.0
    swap_rollover3days: int = c.DAY_OF_WEEK_WEDNESDAY
    sessions: SessionTable = field(default=FX_SESSIONS)
    ticks_per_minute: float = 30.0
    """Mean tick count per minute at full activity."""

    @property
    def point(self) -> float:
        found = _POINTS.get(self.digits)
        return found if found is not None else round(10.0**-self.digits, self.digits)

    @property
    def tick_size(self) -> float:
        return self.point

    @property
    def path(self) -> str:
        group = {
            "forex": "Forex",
            "metal": "Metals",
            "index": "Indices",
            "crypto": "Crypto",
            "energy": "Energies",
        }
        return f"{group.get(self.category, 'Other')}\\{self.name}"

    def open_minutes(self, weekday: int) -> np.ndarray:
        """A boolean mask of the 1,440 minutes of a server day on which the symbol trades."""
        return _session_mask(self.sessions, weekday)

    def is_open(self, weekday: int, minute_of_day: int) -> bool:
        return any(start <= minute_of_day < end for start, end in self.sessions[weekday])


@cache
def _session_mask(sessions: SessionTable, weekday: int) -> np.ndarray:
    mask = np.zeros(MINUTES_PER_DAY, dtype=bool)
    for start, end in sessions[weekday]:
        mask[start:end] = True
    mask.flags.writeable = False
    return mask


# Currency factor model for the 28 FX pairs: the log value in USD of each currency is
# beta * (a common dollar factor) + its own factor. A pair is the difference of two such values,
# so crosses stay triangularly consistent and correlated as real ones are (EURUSD and GBPUSD move
# together, EURGBP is calmer than either).
DOLLAR_FACTOR_VOL = 0.055
CURRENCY_BETAS: dict[str, float] = {
    "USD": 0.0,
    "EUR": 1.0,
    "GBP": 0.9,
    "CHF": 0.9,
    "JPY": 0.6,
    "AUD": 1.0,
    "NZD": 1.0,
    "CAD": 0.5,
}
CURRENCY_IDIOSYNCRATIC_VOL: dict[str, float] = {
    "USD": 0.0,
    "EUR": 0.035,
    "GBP": 0.045,
    "CHF": 0.045,
    "JPY": 0.07,
    "AUD": 0.06,
    "NZD": 0.065,
    "CAD": 0.04,
}
_USD_VALUE: dict[str, float] = {
    "USD": 1.0,
    "EUR": 1.085,
    "GBP": 1.27,
    "CHF": 1 / 0.88,
    "JPY": 1 / 150.0,
    "AUD": 0.66,
    "NZD": 0.61,
    "CAD": 1 / 1.36,
}
_FX_PAIRS = (
    "EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "USDCAD", "NZDUSD",
    "EURGBP", "EURJPY", "GBPJPY", "EURCHF", "EURAUD", "EURCAD", "EURNZD",
    "GBPCHF", "GBPAUD", "GBPCAD", "GBPNZD", "AUDJPY", "AUDCHF", "AUDCAD",
    "AUDNZD", "NZDJPY", "NZDCHF", "NZDCAD", "CADJPY", "CADCHF", "CHFJPY",
)  # fmt: skip
_MAJORS = {"EURUSD", "GBPUSD", "USDJPY", "AUDUSD", "USDCHF", "USDCAD", "NZDUSD"}
_CURRENCY_NAMES = {
    "EUR": "Euro",
    "USD": "US Dollar",
    "GBP": "Great Britain Pound",
    "JPY": "Japanese Yen",
    "AUD": "Australian Dollar",
    "NZD": "New Zealand Dollar",
    "CAD": "Canadian Dollar",
    "CHF": "Swiss Franc",
}
# Overnight swap in points per lot (long, short): the sign pattern follows the interest-rate
# differentials of 2024, the magnitudes are typical retail-broker figures.
_FX_SWAPS: dict[str, tuple[float, float]] = {
    "EURUSD": (-7.2, 2.1),
    "GBPUSD": (-4.1, -1.2),
    "USDJPY": (14.5, -28.4),
    "AUDUSD": (-3.9, -0.6),
    "USDCHF": (5.2, -12.7),
    "USDCAD": (0.8, -6.5),
    "NZDUSD": (-2.3, -1.5),
}


def _fx_spec(name: str) -> SymbolSpec:
    base, quote = name[:3], name[3:]
    digits = 3 if quote == "JPY" else 5
    spread = 10 if name in _MAJORS else 18
    if name in ("EURUSD", "USDJPY"):
        spread = 8
    swap_long, swap_short = _FX_SWAPS.get(name, (-3.0, -1.0))
    return SymbolSpec(
        name=name,
        description=f"{_CURRENCY_NAMES[base]} vs {_CURRENCY_NAMES[quote]}",
        category="forex",
        currency_base=base,
        currency_profit=quote,
        currency_margin=base,
        digits=digits,
        contract_size=100_000.0,
        reference_price=round(_USD_VALUE[base] / _USD_VALUE[quote], digits),
        annual_volatility=0.0,
        spread_points=spread,
        stops_level=10 if name in _MAJORS else 20,
        freeze_level=5 if name in _MAJORS else 10,
        swap_long=swap_long,
        swap_short=swap_short,
        sessions=FX_SESSIONS,
        ticks_per_minute=40.0 if name in _MAJORS else 20.0,
    )


def _cfd(
    name: str,
    description: str,
    category: str,
    profit_currency: str,
    *,
    digits: int,
    contract_size: float,
    price: float,
    vol: float,
    spread: int,
    sessions: SessionTable,
    calc_mode: int = c.SYMBOL_CALC_MODE_CFDLEVERAGE,
    margin_rate: float = 1.0,
    volume_min: float = 0.01,
    volume_step: float = 0.01,
    volume_max: float = 100.0,
    stops_level: int = 0,
    freeze_level: int = 0,
    swaps: tuple[float, float] = (-20.0, -10.0),
    ticks: float = 25.0,
) -> SymbolSpec:
    return SymbolSpec(
        name=name,
        description=description,
        category=category,
        currency_base=name[:3] if category in ("metal", "crypto") else profit_currency,
        currency_profit=profit_currency,
        # Forex-mode margin is counted in the base "currency" (ounces of gold) and converted.
        currency_margin=(name[:3] if calc_mode == c.SYMBOL_CALC_MODE_FOREX else profit_currency),
        digits=digits,
        contract_size=contract_size,
        reference_price=price,
        annual_volatility=vol,
        spread_points=spread,
        stops_level=stops_level,
        freeze_level=freeze_level,
        calc_mode=calc_mode,
        margin_rate=margin_rate,
        volume_min=volume_min,
        volume_step=volume_step,
        volume_max=volume_max,
        swap_long=swaps[0],
        swap_short=swaps[1],
        swap_rollover3days=c.DAY_OF_WEEK_FRIDAY if category != "metal" else c.DAY_OF_WEEK_WEDNESDAY,
        sessions=sessions,
        ticks_per_minute=ticks,
    )


_OTHER_SPECS: tuple[SymbolSpec, ...] = (
    _cfd("XAUUSD", "Gold vs US Dollar", "metal", "USD", digits=2, contract_size=100.0,
         price=2000.0, vol=0.15, spread=25, sessions=METAL_SESSIONS,
         calc_mode=c.SYMBOL_CALC_MODE_FOREX, swaps=(-35.0, 12.0), ticks=45.0, stops_level=50,
         freeze_level=20),
    _cfd("XAGUSD", "Silver vs US Dollar", "metal", "USD", digits=3, contract_size=5000.0,
         price=23.0, vol=0.25, spread=30, sessions=METAL_SESSIONS,
         calc_mode=c.SYMBOL_CALC_MODE_FOREX, swaps=(-6.0, 1.5), stops_level=50, freeze_level=20),
    _cfd("US500", "US 500 Cash Index", "index", "USD", digits=2, contract_size=1.0,
         price=5000.0, vol=0.16, spread=50, sessions=US_INDEX_SESSIONS, volume_min=0.1,
         volume_step=0.1, stops_level=100, freeze_level=30, margin_rate=5.0, ticks=40.0),
    _cfd("US30", "US Wall Street 30 Cash Index", "index", "USD", digits=2, contract_size=1.0,
         price=38000.0, vol=0.15, spread=200, sessions=US_INDEX_SESSIONS, volume_min=0.1,
         volume_step=0.1, stops_level=500, freeze_level=150, margin_rate=5.0),
    _cfd("NAS100", "US Tech 100 Cash Index", "index", "USD", digits=2, contract_size=1.0,
         price=17500.0, vol=0.20, spread=150, sessions=US_INDEX_SESSIONS, volume_min=0.1,
         volume_step=0.1, stops_level=300, freeze_level=100, margin_rate=5.0),
    _cfd("GER40", "Germany 40 Cash Index", "index", "EUR", digits=2, contract_size=1.0,
         price=17000.0, vol=0.17, spread=120, sessions=EU_INDEX_SESSIONS, volume_min=0.1,
         volume_step=0.1, stops_level=300, freeze_level=100, margin_rate=5.0),
    _cfd("UK100", "UK 100 Cash Index", "index", "GBP", digits=2, contract_size=1.0,
         price=7600.0, vol=0.13, spread=100, sessions=EU_INDEX_SESSIONS, volume_min=0.1,
         volume_step=0.1, stops_level=200, freeze_level=50, margin_rate=5.0),
    _cfd("JP225", "Japan 225 Cash Index", "index", "JPY", digits=0, contract_size=1.0,
         price=38000.0, vol=0.20, spread=10, sessions=ASIA_INDEX_SESSIONS, volume_min=1.0,
         volume_step=1.0, volume_max=500.0, stops_level=20, freeze_level=5, margin_rate=5.0),
    _cfd("BTCUSD", "Bitcoin vs US Dollar", "crypto", "USD", digits=2, contract_size=1.0,
         price=60000.0, vol=0.60, spread=3000, sessions=CRYPTO_SESSIONS, stops_level=1000,
         freeze_level=300, volume_max=20.0, margin_rate=50.0, swaps=(-180.0, -180.0), ticks=30.0),
    _cfd("ETHUSD", "Ethereum vs US Dollar", "crypto", "USD", digits=2, contract_size=1.0,
         price=3000.0, vol=0.70, spread=250, sessions=CRYPTO_SESSIONS, stops_level=100,
         freeze_level=30, volume_max=200.0, margin_rate=50.0, swaps=(-12.0, -12.0), ticks=25.0),
    _cfd("USOIL", "US Crude Oil Cash", "energy", "USD", digits=2, contract_size=1000.0,
         price=78.0, vol=0.32, spread=4, sessions=ENERGY_SESSIONS, stops_level=20,
         freeze_level=5, margin_rate=10.0, swaps=(-8.0, 2.0)),
    _cfd("UKOIL", "Brent Crude Oil Cash", "energy", "USD", digits=2, contract_size=1000.0,
         price=82.0, vol=0.30, spread=5, sessions=ENERGY_SESSIONS, stops_level=20,
         freeze_level=5, margin_rate=10.0, swaps=(-7.0, 1.5)),
)  # fmt: skip

DEFAULT_UNIVERSE: dict[str, SymbolSpec] = {
    spec.name: spec for spec in (*(_fx_spec(name) for name in _FX_PAIRS), *_OTHER_SPECS)
}
"""All 40 instruments the simulated broker can offer, by name."""

DEFAULT_ACTIVE_SYMBOLS: tuple[str, ...] = (
    "EURUSD",
    "GBPUSD",
    "USDJPY",
    "AUDUSD",
    "USDCHF",
    "USDCAD",
    "NZDUSD",
    "EURJPY",
    "XAUUSD",
    "US500",
    "BTCUSD",
)
"""The symbols a terminal shows in Market Watch when the configuration names none."""


def _ramp(profile: np.ndarray, start: int, end: int, value: float) -> None:
    profile[max(start, 0) : min(end, MINUTES_PER_DAY)] = value


@cache
def activity_profile(category: str) -> np.ndarray:
    """Relative activity per minute of the server day (mean 1 over the day).

    Server time is assumed to be a UTC+2 broker's, as most are: London opens near 10:00 and New
    York near 15:30 server time.
    """
    profile = np.full(MINUTES_PER_DAY, 0.45)
    if category in ("forex", "metal", "energy"):
        _ramp(profile, _hm(2), _hm(9), 0.55)  # Tokyo and Sydney
        _ramp(profile, _hm(9), _hm(10), 0.9)  # Frankfurt
        _ramp(profile, _hm(10), _hm(15), 1.25)  # London
        _ramp(profile, _hm(15), _hm(19), 1.6)  # London and New York overlap
        _ramp(profile, _hm(19), _hm(23), 0.8)
        _ramp(profile, _hm(23), MINUTES_PER_DAY, 0.35)
        _ramp(profile, 0, _hm(2), 0.3)  # around the rollover
    elif category == "index":
        _ramp(profile, _hm(10), _hm(16, 30), 0.9)
        _ramp(profile, _hm(16, 30), _hm(23), 1.8)  # US cash session
        _ramp(profile, _hm(23), MINUTES_PER_DAY, 0.4)
    else:  # crypto: around the clock, busier in US hours
        _ramp(profile, _hm(14), _hm(23), 1.3)
    profile /= profile.mean()
    profile.flags.writeable = False
    return profile


@cache
def spread_profile(category: str) -> np.ndarray:
    """Spread multiplier per minute of the server day: wide at rollover and in thin hours."""
    profile = np.ones(MINUTES_PER_DAY)
    if category == "crypto":
        _ramp(profile, 0, _hm(6), 1.3)
    else:
        _ramp(profile, 0, _hm(1), 2.5)  # just after the rollover
        _ramp(profile, _hm(1), _hm(8), 1.5)  # Asian session: thin for most symbols
        _ramp(profile, _hm(15), _hm(19), 0.9)  # deepest liquidity
        _ramp(profile, _hm(22), _hm(23, 45), 1.4)
        _ramp(profile, _hm(23, 45), MINUTES_PER_DAY, 4.0)  # rollover
        _ramp(profile, 0, 15, 6.0)
    profile.flags.writeable = False
    return profile
