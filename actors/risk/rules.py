"""Every pre-trade gate of the RiskManager, as pure functions with stable denial codes.

Each rule takes its inputs, the :class:`~actors.risk.state.RiskState` and :class:`RiskParams`,
and returns a :class:`Verdict`: allowed, or denied with a :class:`DenialCode` (a string enum
that the dashboard, the logs and the tests can rely on) and a message for a person.

Money safety: a rule that lacks an input it needs — None, NaN, an empty series where data is
required — denies with ``MISSING_INPUT`` and names what is missing, and a rule that raises is
turned into a ``RULE_ERROR`` denial by the runner. The seed did the opposite in several places
(its daily loss check and cost gate allowed the trade on an exception, its spread check allowed
it without a tick, and its correlation guard died on a NameError reported as "non-blocking").

Order of the checks (the first denial is the one reported; all can be collected):

pre-scan (:data:`PRE_SCAN_RULES`, :func:`check_pre_scan`)
    1 trading mode and pause, 2 kill switch, 3 daily loss limit, 3b the day stopped by a loss
    beyond a stop, 4 daily trade count, 5 consecutive-loss breaker, 6 payoff mandate,
    7 per-symbol interval, 8 concurrent positions (pending orders count), 9 symbol
    tradeable, 10 spread, 11 news.
execution (:data:`EXECUTION_RULES`, :func:`check_execution`): all of the above again with
fresh data, then
    12 stops on the right side, 13 minimum reward:risk, 14 cost gate, 15 live correlation,
    16 currency exposure, 17 daily loss budget (needs the volume; see
    :func:`actors.risk.sizing.approve_order`, which sizes the order inside that budget).
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import numpy as np

from actors.risk.state import (
    CounterParams,
    RiskState,
    TradingMode,
    broker_day,
    closing_deals,
    kill_switch_breach,
)
from messages.market import Bars, Side
from messages.risk import DenialCode, Exposure, OrderInput, PreScanInput

__all__ = [
    "EXECUTION_RULES",
    "PRE_SCAN_RULES",
    "AssetClass",
    "OrderPurpose",
    "RiskParams",
    "RiskReport",
    "Side",
    "SpreadLimits",
    "Verdict",
    "allow",
    "asset_class",
    "base_symbol",
    "check_consecutive_losses",
    "check_correlation",
    "check_cost_gate",
    "check_currency_exposure",
    "check_daily_loss",
    "check_daily_loss_budget",
    "check_daily_trade_count",
    "check_day_stopped",
    "check_execution",
    "check_kill_switch",
    "check_max_positions",
    "check_news",
    "check_order_intent",
    "check_payoff_mandate",
    "check_pre_scan",
    "check_reward_risk",
    "check_spread",
    "check_stops",
    "check_symbol_tradeable",
    "check_trade_interval",
    "check_trading_mode",
    "daily_loss_limit",
    "deny",
    "evaluate_spread",
    "exposure_gaps",
    "is_missing",
    "loss_stops_the_day",
    "missing_input",
    "missing_named",
    "money_at_sl",
    "open_risk_money",
    "realised_today",
    "remaining_daily_loss_budget",
    "run_rules",
    "symbol_currencies",
]


class OrderPurpose(StrEnum):
    OPEN = "OPEN"
    CLOSE = "CLOSE"
    MODIFY_STOPS = "MODIFY_STOPS"
    CANCEL_PENDING = "CANCEL_PENDING"


class AssetClass(StrEnum):
    FOREX = "FOREX"
    COMMODITY = "COMMODITY"
    CRYPTO = "CRYPTO"
    OTHER = "OTHER"


@dataclass(frozen=True, slots=True)
class Verdict:
    """``code`` is None when the rule allows the order."""

    rule: str
    code: DenialCode | None = None
    message: str = ""
    missing: tuple[str, ...] = ()

    @property
    def allowed(self) -> bool:
        return self.code is None


def allow(rule: str) -> Verdict:
    return Verdict(rule)


def deny(rule: str, code: DenialCode, message: str) -> Verdict:
    return Verdict(rule, code, message)


def is_missing(value: object) -> bool:
    """None, NaN or ±inf for numbers, and an empty sequence or mapping."""
    if value is None:
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, int | float | np.floating | np.integer):
        return not math.isfinite(float(value))
    if isinstance(value, Sequence | Mapping | np.ndarray | Bars) and not isinstance(value, str):
        return len(value) == 0
    return False


def missing_input(rule: str, **inputs: object) -> Verdict | None:
    """A MISSING_INPUT denial naming every missing input, or None when all are present."""
    return missing_named(rule, tuple(name for name, value in inputs.items() if is_missing(value)))


def missing_named(rule: str, names: Sequence[str]) -> Verdict | None:
    """A MISSING_INPUT denial for inputs already found missing, or None for none."""
    if not names:
        return None
    names = tuple(names)
    return Verdict(
        rule, DenialCode.MISSING_INPUT, f"{rule}: missing input: {', '.join(names)}", names
    )


# --- Inputs -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SpreadLimits:
    """Maximum spread in points by asset class: the seed's 3 pips (forex), 80 "pips"
    (commodities) and 20000 "pips" (crypto), at 10 points a pip. ``other_points`` None means
    a symbol of unknown class is refused rather than guessed."""

    forex_points: float = 30.0
    commodity_points: float = 800.0
    crypto_points: float = 200_000.0
    other_points: float | None = None

    def limit(self, asset: AssetClass) -> float | None:
        return {
            AssetClass.FOREX: self.forex_points,
            AssetClass.COMMODITY: self.commodity_points,
            AssetClass.CRYPTO: self.crypto_points,
            AssetClass.OTHER: self.other_points,
        }[asset]


@dataclass(frozen=True, slots=True)
class RiskParams:
    """Every number the rules use; the defaults are the seed's (the daemon's own defaults,
    which scale with the account, are in ``actors/app/settings.py``)."""

    max_daily_loss: float | None = 100.0
    """The day's loss limit in account currency (None: only ``max_daily_loss_pct``)."""
    max_daily_loss_pct: float | None = None
    """The day's loss limit as a percentage of the balance (None or 0: off); with both set,
    the smaller."""
    max_daily_trades: int = 9999
    day_stop_beyond_stop_r: float | None = 0.25
    """A trade that lost more than this share of its planned risk beyond its stop (a gap,
    slippage) stops new entries for the rest of the broker day (None: never)."""
    consecutive_loss_limit: int = 2
    payoff_min_trades: int = 20
    payoff_max_loss_to_win: float = 2.0
    payoff_lookback_seconds: float = 30 * 86_400
    min_trade_interval_seconds: float = 15 * 60
    max_concurrent: int = 10
    spread_limits: SpreadLimits = field(default_factory=SpreadLimits)
    min_reward_risk: float = 1.2
    max_cost_to_tp: float = 0.30
    min_net_profit_ratio: float = 3.0
    correlation_bars: int = 60
    correlation_min_bars: int = 30
    max_correlation: float = 0.85
    max_currency_exposure: int = 3
    counters: CounterParams = field(default_factory=CounterParams)


# --- Symbols ----------------------------------------------------------------------------------

_CRYPTO = ("BTC", "ETH", "LTC", "XRP", "SOL", "ADA", "DOGE", "BNB", "DOT", "BCH", "XLM", "LINK")
_METALS = ("XAU", "XAG", "XPT", "XPD")
_ENERGY = ("OIL", "BRENT", "WTI", "NGAS", "XNG", "XTI", "XBR")
_FIAT = frozenset(
    {
        *("USD", "EUR", "GBP", "JPY", "CHF", "AUD", "NZD", "CAD", "SEK", "NOK", "DKK", "PLN"),
        *("HUF", "CZK", "TRY", "ZAR", "MXN", "SGD", "HKD", "CNH", "CNY", "KRW", "INR", "THB"),
        *("ILS", "RUB"),
    }
)


def _is_pair(name: str) -> bool:
    head, tail = name[:3], name[3:6]
    return (head in _FIAT or head in _METALS or head in _CRYPTO) and tail in _FIAT


def base_symbol(symbol: str) -> str:
    """The symbol without a broker suffix: 'XAUUSDm' → 'XAUUSD', 'EURUSD.r' → 'EURUSD',
    'GBPUSDpro' → 'GBPUSD'. (The seed matched exact names, so 'XAUUSDm' escaped its
    tail-risk clamp and its safe-haven list.)"""
    name = re.split(r"[._\-#]", symbol.strip(), maxsplit=1)[0]
    # An upper-case name followed by lower case letters carries a lower-case suffix.
    upper = re.match(r"^[A-Z0-9]{3,}", name)
    if upper is not None and upper.group(0) != name:
        name = upper.group(0)
    name = name.upper()
    if len(name) > 6 and _is_pair(name):
        name = name[:6]
    return name


def symbol_currencies(symbol: str) -> tuple[str, str] | None:
    """(base, quote) read from a six-letter name such as EURUSD or XAUUSD, else None."""
    name = base_symbol(symbol)
    if len(name) == 6 and name[3:] in _FIAT:
        return name[:3], name[3:]
    for prefix in _CRYPTO:
        if name.startswith(prefix) and name[len(prefix) :] in _FIAT:
            return prefix, name[len(prefix) :]
    return None


def asset_class(symbol: str) -> AssetClass:
    name = base_symbol(symbol)
    if name.startswith(_CRYPTO):
        return AssetClass.CRYPTO
    if name.startswith(_METALS) or any(energy in name for energy in _ENERGY):
        return AssetClass.COMMODITY
    if len(name) == 6 and name[:3] in _FIAT and name[3:] in _FIAT:
        return AssetClass.FOREX
    return AssetClass.OTHER


# --- Money ------------------------------------------------------------------------------------


def money_at_sl(
    volume: float, entry_price: float, stop_loss: float, tick_size: float, tick_value_loss: float
) -> float:
    """Account-currency loss if the stop is hit: volume × |entry − sl| / tick_size ×
    tick_value_loss (MT5's ``trade_tick_value_loss``)."""
    # Broker prices sit on the tick grid, so the distance is a whole number of ticks; rounding
    # drops the binary noise of the subtraction (1.08 − 1.078 = 0.0020000000000000018).
    ticks = round(abs(entry_price - stop_loss) / tick_size, 6)
    return volume * ticks * tick_value_loss


def _exposure_loss_at_sl(exposure: Exposure) -> float:
    """What this exposure loses at its stop, relative to its entry; 0 when the stop locks in a
    profit (a locked gain is not counted as spare budget)."""
    assert exposure.entry_price is not None and exposure.stop_loss is not None
    assert exposure.volume is not None and exposure.tick_size and exposure.tick_value_loss
    adverse = exposure.direction.sign * (exposure.entry_price - exposure.stop_loss)
    if adverse <= 0.0:
        return 0.0
    return money_at_sl(
        exposure.volume,
        exposure.entry_price,
        exposure.stop_loss,
        exposure.tick_size,
        exposure.tick_value_loss,
    )


def exposure_gaps(exposures: Sequence[Exposure]) -> tuple[str, ...]:
    """The inputs each exposure lacks for its loss at the stop to be known."""
    gaps = []
    for index, exposure in enumerate(exposures):
        for name in ("volume", "entry_price", "stop_loss", "tick_size", "tick_value_loss"):
            if is_missing(getattr(exposure, name)):
                gaps.append(f"exposures[{index}] {exposure.symbol}.{name}")
    return tuple(gaps)


def open_risk_money(exposures: Sequence[Exposure]) -> float:
    """The sum of what every open position and pending order loses at its stop."""
    gaps = exposure_gaps(exposures)
    if gaps:
        raise ValueError(f"cannot value open risk, missing: {', '.join(gaps)}")
    return sum(_exposure_loss_at_sl(exposure) for exposure in exposures)


def realised_today(state: RiskState, now: float, params: RiskParams) -> float:
    """The realised P&L of the broker day containing ``now`` (0 if the state is of an earlier
    day, whose P&L no longer counts)."""
    if state.broker_day != broker_day(now, params.counters):
        return 0.0
    return state.day_realised_pnl


def daily_loss_limit(params: RiskParams, balance: float | None) -> float | None:
    """The day's loss limit in account currency: the smaller of the absolute limit and the
    percentage of ``balance``; None when it depends on a balance that is not known."""
    limits: list[float] = []
    if params.max_daily_loss is not None:
        limits.append(params.max_daily_loss)
    if params.max_daily_loss_pct:
        if balance is None or not balance > 0:
            return None
        limits.append(balance * params.max_daily_loss_pct / 100.0)
    return min(limits) if limits else None


def remaining_daily_loss_budget(
    state: RiskState, now: float, exposures: Sequence[Exposure], params: RiskParams,
    balance: float | None = None,
) -> float:
    """How much a new order may lose at its stop without the day's worst case (today's realised
    loss, minus every open stop's loss) passing the daily loss limit.

    Today's *profits* do not enlarge the budget: a position financed by them may be carried
    into the next broker day, where those profits no longer count, and lose more than the
    limit there. With profits excluded, open risk never exceeds the limit, so no broker day can
    lose more than the limit while the stops hold.
    """
    limit = daily_loss_limit(params, balance)
    if limit is None:
        return 0.0  # a limit that cannot be known leaves no budget
    realised_loss = min(0.0, realised_today(state, now, params))
    return limit + realised_loss - open_risk_money(exposures)


# --- Pre-scan rules ---------------------------------------------------------------------------


def check_trading_mode(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    """New risk only in ACTIVE mode and when not paused."""
    return check_order_intent(OrderPurpose.OPEN, state)


def check_order_intent(intent: OrderPurpose, state: RiskState) -> Verdict:
    """What each mode lets through: ACTIVE everything (opening only when not paused),
    REDUCING everything but opening, HALTED only cancelling pending orders."""
    rule = "trading_mode"
    if state.mode is TradingMode.HALTED and intent is not OrderPurpose.CANCEL_PENDING:
        return deny(rule, DenialCode.MODE_HALTED, f"trading is HALTED: {intent.value} refused")
    if intent is OrderPurpose.OPEN:
        if state.mode is TradingMode.REDUCING:
            return deny(rule, DenialCode.MODE_REDUCING, "REDUCING mode: only closes allowed")
        if state.paused:
            return deny(rule, DenialCode.PAUSED, "new entries are paused")
    return allow(rule)


def check_kill_switch(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    """Latched kill switch, or a breach not latched yet (counted on every symbol: the seed
    exempted its only traded symbol, XAUUSD)."""
    rule = "kill_switch"
    if state.kill_switch_latched:
        reason = state.kill_switch_reason
        return deny(rule, DenialCode.KILL_SWITCH, f"kill switch latched: {reason}")
    breach = kill_switch_breach(state, params.counters.kill_switch)
    if breach is not None:
        return deny(rule, DenialCode.KILL_SWITCH, f"kill switch: {breach}")
    return allow(rule)


def check_daily_loss(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    """Today's realised plus floating P&L must stay above −max_daily_loss (broker day)."""
    rule = "daily_loss"
    limit = daily_loss_limit(params, market.balance)
    gap = missing_input(rule, now=market.now, floating_pnl=market.floating_pnl,
                        daily_loss_limit=limit)
    if gap:
        return gap
    assert market.now is not None and market.floating_pnl is not None and limit is not None
    day_pnl = realised_today(state, market.now, params) + market.floating_pnl
    if day_pnl <= -limit:
        return deny(
            rule,
            DenialCode.DAILY_LOSS_LIMIT,
            f"day P&L {day_pnl:.2f} reached the daily loss limit {-limit:.2f}",
        )
    return allow(rule)


def loss_stops_the_day(planned_risk: float, loss_beyond_stop: float, params: RiskParams) -> bool:
    """Whether a closed trade's loss beyond its stop is large enough to stop its broker day:
    more than ``day_stop_beyond_stop_r`` of its planned risk (a trade whose planned risk is
    unknown cannot be judged, and does not)."""
    share = params.day_stop_beyond_stop_r
    return share is not None and planned_risk > 0 and loss_beyond_stop > share * planned_risk


def check_day_stopped(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    """The broker day was stopped by a loss well beyond its stop (:func:`stop_the_day`)."""
    rule = "day_stopped"
    gap = missing_input(rule, now=market.now)
    if gap:
        return gap
    assert market.now is not None
    if state.day_stopped is not None and state.day_stopped == broker_day(market.now,
                                                                          params.counters):
        return deny(rule, DenialCode.DAY_STOPPED,
                    f"{state.day_stopped_reason}; new entries resume on the next broker day")
    return allow(rule)


def check_daily_trade_count(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    rule = "daily_trade_count"
    gap = missing_input(rule, now=market.now)
    if gap:
        return gap
    assert market.now is not None
    today = broker_day(market.now, params.counters)
    count = state.day_trade_count if state.broker_day == today else 0
    if count >= params.max_daily_trades:
        return deny(
            rule,
            DenialCode.DAILY_TRADE_LIMIT,
            f"{count} trades today, limit {params.max_daily_trades}",
        )
    return allow(rule)


def check_consecutive_losses(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    """After ``consecutive_loss_limit`` losses in a row on a symbol, no new entry on it for the
    rest of that broker day. The count is kept, so the next loss trips it again at once; a win
    clears it. (The seed's per-pair breaker was never updated while running.)"""
    rule = "consecutive_losses"
    gap = missing_input(rule, now=market.now)
    if gap:
        return gap
    assert market.now is not None
    losses = state.consecutive_losses.get(market.symbol, 0)
    last_loss = state.last_loss_time.get(market.symbol)
    if losses >= params.consecutive_loss_limit and last_loss is not None:
        same_day = broker_day(last_loss, params.counters) == broker_day(market.now, params.counters)
        if same_day:
            return deny(
                rule,
                DenialCode.CONSECUTIVE_LOSSES,
                f"{losses} consecutive losses on {market.symbol}; paused until the broker day ends",
            )
    return allow(rule)


def check_payoff_mandate(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    """Over at least ``payoff_min_trades`` closed trades of the symbol in the lookback, the
    average loss may not exceed ``payoff_max_loss_to_win`` × the average win."""
    rule = "payoff_mandate"
    gap = missing_input(rule, now=market.now)
    if gap:
        return gap
    assert market.now is not None
    deals = closing_deals(state, market.symbol, since=market.now - params.payoff_lookback_seconds)
    if len(deals) < params.payoff_min_trades:
        return allow(rule)
    wins = [deal.net_profit for deal in deals if deal.net_profit > 0.0]
    losses = [-deal.net_profit for deal in deals if deal.net_profit < 0.0]
    if not losses:
        return allow(rule)
    average_loss = sum(losses) / len(losses)
    if not wins:
        return deny(
            rule,
            DenialCode.PAYOFF_MANDATE,
            f"{len(deals)} trades on {market.symbol} with no win (average loss {average_loss:.2f})",
        )
    average_win = sum(wins) / len(wins)
    ratio = average_loss / average_win
    if ratio > params.payoff_max_loss_to_win:
        return deny(
            rule,
            DenialCode.PAYOFF_MANDATE,
            f"average loss {average_loss:.2f} is {ratio:.2f}× the average win {average_win:.2f} "
            f"on {market.symbol} (limit {params.payoff_max_loss_to_win:.2f}×)",
        )
    return allow(rule)


def check_trade_interval(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    rule = "trade_interval"
    gap = missing_input(rule, now=market.now)
    if gap:
        return gap
    assert market.now is not None
    last = state.last_trade_time.get(market.symbol)
    if last is None:
        return allow(rule)
    elapsed = market.now - last
    if elapsed < params.min_trade_interval_seconds:
        wait = params.min_trade_interval_seconds - elapsed
        return deny(
            rule,
            DenialCode.TRADE_INTERVAL,
            f"last {market.symbol} order {elapsed:.0f} s ago; wait {wait:.0f} s more",
        )
    return allow(rule)


def check_max_positions(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    """Open positions and pending orders together (the seed forgot pending orders)."""
    rule = "max_positions"
    if market.exposures is None:
        return missing_input(rule, exposures=None) or allow(rule)
    count = len(market.exposures)
    if count >= params.max_concurrent:
        return deny(
            rule,
            DenialCode.MAX_POSITIONS,
            f"{count} positions and pending orders open, limit {params.max_concurrent}",
        )
    return allow(rule)


def check_symbol_tradeable(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    rule = "symbol_tradeable"
    trade_allowed = None if market.spec is None else market.spec.trade_allowed
    gap = missing_input(rule, trade_allowed=trade_allowed)
    if gap:
        return gap
    if not trade_allowed:
        return deny(rule, DenialCode.SYMBOL_NOT_TRADEABLE, f"{market.symbol}: trading disabled")
    return allow(rule)


def check_spread(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    """Spread in points against the limit of the symbol's asset class."""
    point = None if market.spec is None else market.spec.point
    return evaluate_spread(market.symbol, market.bid, market.ask, point, params.spread_limits)


def evaluate_spread(
    symbol: str,
    bid: float | None,
    ask: float | None,
    point: float | None,
    limits: SpreadLimits,
) -> Verdict:
    """The spread rule on a bare quote (the Strategy's scan uses it too). No tick is a denial:
    the seed's PairAgent allowed the trade when the tick was missing."""
    rule = "spread"
    gap = missing_input(rule, bid=bid, ask=ask, point=point)
    if gap:
        return gap
    assert bid is not None and ask is not None and point is not None
    if point <= 0.0 or ask < bid:
        return deny(
            rule, DenialCode.INVALID_INPUT, f"bad quote: bid {bid}, ask {ask}, point {point}"
        )
    asset = asset_class(symbol)
    limit = limits.limit(asset)
    if limit is None:
        return deny(
            rule,
            DenialCode.UNKNOWN_ASSET_CLASS,
            f"no spread limit for {symbol} (asset class {asset.value})",
        )
    # Spreads are whole points; rounding drops the binary noise of the division
    # (0.8 / 0.001 = 800.0000000000001), which would otherwise deny a spread at the limit.
    spread_points = round((ask - bid) / point, 6)
    if spread_points > limit:
        return deny(
            rule,
            DenialCode.SPREAD_TOO_WIDE,
            f"spread {spread_points:.0f} points > {limit:.0f} ({asset.value.lower()})",
        )
    return allow(rule)


def check_news(market: PreScanInput, state: RiskState, params: RiskParams) -> Verdict:
    rule = "news"
    gap = missing_input(rule, news_blackout=market.news_blackout)
    if gap:
        return gap
    if market.news_blackout:
        event = market.news_event or "high-impact event"
        return deny(rule, DenialCode.NEWS_BLACKOUT, f"news blackout: {event}")
    return allow(rule)


# --- Execution rules --------------------------------------------------------------------------


def check_stops(order: OrderInput, state: RiskState, params: RiskParams) -> Verdict:
    """Every order has a stop loss and a take profit, each on its side of the entry."""
    rule = "stops"
    gap = missing_input(
        rule,
        direction=order.direction,
        entry_price=order.entry_price,
        stop_loss=order.stop_loss,
        take_profit=order.take_profit,
    )
    if gap:
        return gap
    assert order.direction is not None and order.entry_price is not None
    assert order.stop_loss is not None and order.take_profit is not None
    sign = order.direction.sign
    risk = sign * (order.entry_price - order.stop_loss)
    reward = sign * (order.take_profit - order.entry_price)
    if risk <= 0.0 or reward <= 0.0:
        return deny(
            rule,
            DenialCode.INVALID_STOPS,
            f"{order.direction.value} at {order.entry_price}: SL {order.stop_loss} and "
            f"TP {order.take_profit} must be on the loss and profit sides",
        )
    return allow(rule)


def _distances(order: OrderInput) -> tuple[float, float]:
    assert order.entry_price is not None
    assert order.stop_loss is not None and order.take_profit is not None
    return abs(order.entry_price - order.stop_loss), abs(order.take_profit - order.entry_price)


def check_reward_risk(order: OrderInput, state: RiskState, params: RiskParams) -> Verdict:
    rule = "reward_risk"
    stops = check_stops(order, state, params)
    if not stops.allowed:
        return Verdict(rule, stops.code, stops.message, stops.missing)
    risk, reward = _distances(order)
    ratio = reward / risk
    if ratio < params.min_reward_risk:
        return deny(
            rule, DenialCode.RR_TOO_LOW, f"R:R {ratio:.2f} below {params.min_reward_risk:.2f}"
        )
    return allow(rule)


def check_cost_gate(order: OrderInput, state: RiskState, params: RiskParams) -> Verdict:
    """Spread plus commission, both as a price distance, against the take-profit distance.
    The seed mixed points and pips here and allowed the trade on any error."""
    rule = "cost_gate"
    spec = order.market.spec
    gap = missing_input(
        rule,
        bid=order.market.bid,
        ask=order.market.ask,
        entry_price=order.entry_price,
        take_profit=order.take_profit,
        commission_per_lot=order.commission_per_lot,
        tick_size=None if spec is None else spec.tick_size,
        tick_value_loss=None if spec is None else spec.tick_value_loss,
    )
    if gap:
        return gap
    assert spec is not None and spec.tick_size is not None and spec.tick_value_loss is not None
    assert order.market.bid is not None and order.market.ask is not None
    assert order.entry_price is not None and order.take_profit is not None
    assert order.commission_per_lot is not None
    if spec.tick_size <= 0.0 or spec.tick_value_loss <= 0.0 or order.commission_per_lot < 0.0:
        return deny(rule, DenialCode.INVALID_INPUT, "tick size, tick value and commission invalid")
    reward = abs(order.take_profit - order.entry_price)
    if reward <= 0.0:
        return deny(rule, DenialCode.INVALID_STOPS, "take profit equals the entry price")
    spread = order.market.ask - order.market.bid
    commission = order.commission_per_lot * spec.tick_size / spec.tick_value_loss
    cost = spread + commission
    if cost / reward > params.max_cost_to_tp:
        return deny(
            rule,
            DenialCode.COST_TOO_HIGH,
            f"cost {cost:.5g} is {cost / reward:.0%} of the TP distance {reward:.5g} "
            f"(limit {params.max_cost_to_tp:.0%})",
        )
    if reward - cost < cost * params.min_net_profit_ratio:
        return deny(
            rule,
            DenialCode.NET_PROFIT_TOO_LOW,
            f"net target {reward - cost:.5g} under {params.min_net_profit_ratio:g}× cost "
            f"{cost:.5g}",
        )
    return allow(rule)


def _aligned_returns(first: Bars, second: Bars, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Log returns of the last ``count`` bars both series have, matched on bar time."""
    _, first_index, second_index = np.intersect1d(
        np.asarray(first.time), np.asarray(second.time), return_indices=True
    )
    first_index, second_index = first_index[-count:], second_index[-count:]
    first_close = np.asarray(first.close, dtype=float)[first_index]
    second_close = np.asarray(second.close, dtype=float)[second_index]
    return np.diff(np.log(first_close)), np.diff(np.log(second_close))


def check_correlation(order: OrderInput, state: RiskState, params: RiskParams) -> Verdict:
    """No new position that moves with an existing one: |ρ| of M1 returns above the limit with
    ρ > 0 and the same direction, or ρ < 0 and the opposite direction, is refused."""
    rule = "correlation"
    exposures = order.market.exposures
    gap = missing_input(rule, direction=order.direction) or (
        missing_input(rule, exposures=None) if exposures is None else None
    )
    if gap:
        return gap
    assert order.direction is not None and exposures is not None
    symbol = order.market.symbol
    others = [exposure for exposure in exposures if exposure.symbol != symbol]
    for exposure in exposures:
        if exposure.symbol == symbol and exposure.direction is order.direction:
            return deny(
                rule,
                DenialCode.CORRELATED_POSITION,
                f"already {order.direction.value} {symbol}",
            )
    if not others:
        return allow(rule)
    bars = order.m1_bars or {}
    absent = missing_named(
        rule,
        [
            f"m1_bars[{name}]"
            for name in dict.fromkeys([symbol, *(exposure.symbol for exposure in others)])
            if is_missing(bars.get(name))
        ],
    )
    if absent:
        return absent
    for exposure in others:
        mine, theirs = _aligned_returns(
            bars[symbol], bars[exposure.symbol], params.correlation_bars
        )
        if len(mine) + 1 < params.correlation_min_bars:
            name = f"m1_bars[{symbol}/{exposure.symbol}]"
            return Verdict(
                rule,
                DenialCode.MISSING_INPUT,
                f"{rule}: only {len(mine) + 1} common M1 bars with {exposure.symbol}, "
                f"need {params.correlation_min_bars}",
                (name,),
            )
        if not (np.all(np.isfinite(mine)) and np.all(np.isfinite(theirs))):
            return deny(rule, DenialCode.INVALID_INPUT, f"bad M1 closes for {exposure.symbol}")
        if np.std(mine) == 0.0 or np.std(theirs) == 0.0:
            return deny(
                rule,
                DenialCode.INVALID_INPUT,
                f"no price movement in {symbol} or {exposure.symbol}: correlation undefined",
            )
        rho = float(np.corrcoef(mine, theirs)[0, 1])
        same_way = exposure.direction is order.direction
        if abs(rho) > params.max_correlation and ((rho > 0) == same_way):
            return deny(
                rule,
                DenialCode.CORRELATED_POSITION,
                f"{symbol} {order.direction.value} moves with {exposure.symbol} "
                f"{exposure.direction.value} (ρ = {rho:+.2f}, limit ±{params.max_correlation})",
            )
    return allow(rule)


def _currency_pair(symbol: str, declared: tuple[str, str] | None) -> tuple[str, str] | None:
    return declared if declared is not None else symbol_currencies(symbol)


def check_currency_exposure(order: OrderInput, state: RiskState, params: RiskParams) -> Verdict:
    """Net positions per currency (long EURUSD: EUR +1, USD −1). A new order may not take a
    currency's net count beyond ``max_currency_exposure`` in either direction. The seed
    compared lots with a hard-coded 0.03 computed for its fixed 0.01-lot orders; a count of
    positions keeps that intent (three same-way positions) whatever the sizing."""
    rule = "currency_exposure"
    exposures = order.market.exposures
    spec = order.market.spec
    gap = missing_input(rule, direction=order.direction) or (
        missing_input(rule, exposures=None) if exposures is None else None
    )
    if gap:
        return gap
    assert order.direction is not None and exposures is not None
    candidate = _currency_pair(order.market.symbol, None if spec is None else spec.currencies)
    pairs = [
        (exposure, _currency_pair(exposure.symbol, exposure.currencies)) for exposure in exposures
    ]
    unknown = [order.market.symbol] if candidate is None else []
    unknown += [exposure.symbol for exposure, pair in pairs if pair is None]
    absent = missing_named(rule, [f"currencies[{name}]" for name in dict.fromkeys(unknown)])
    if absent:
        return absent
    net: dict[str, int] = {}
    for exposure, pair in pairs:
        assert pair is not None
        net[pair[0]] = net.get(pair[0], 0) + exposure.direction.sign
        net[pair[1]] = net.get(pair[1], 0) - exposure.direction.sign
    assert candidate is not None
    sign = order.direction.sign
    for currency, change in ((candidate[0], sign), (candidate[1], -sign)):
        before = net.get(currency, 0)
        after = before + change
        if abs(after) > params.max_currency_exposure and abs(after) > abs(before):
            return deny(
                rule,
                DenialCode.CURRENCY_EXPOSURE,
                f"{currency} net exposure would reach {after:+d} positions "
                f"(limit ±{params.max_currency_exposure})",
            )
    return allow(rule)


def check_daily_loss_budget(order: OrderInput, state: RiskState, params: RiskParams) -> Verdict:
    """Today's realised loss, minus every open stop's loss, minus this order's loss at its stop,
    must stay above −max_daily_loss. If every stop holds, no broker day can lose more than the
    limit (the seed only looked at losses already taken)."""
    rule = "daily_loss_budget"
    market = order.market
    spec = market.spec
    gap = missing_input(
        rule,
        now=market.now,
        volume=order.volume,
        entry_price=order.entry_price,
        stop_loss=order.stop_loss,
        tick_size=None if spec is None else spec.tick_size,
        tick_value_loss=None if spec is None else spec.tick_value_loss,
    ) or (missing_input(rule, exposures=None) if market.exposures is None else None)
    if gap:
        return gap
    assert market.exposures is not None and market.now is not None and spec is not None
    absent = missing_named(rule, exposure_gaps(market.exposures))
    if absent:
        return absent
    assert order.volume is not None and order.entry_price is not None
    assert order.stop_loss is not None and spec.tick_size is not None
    assert spec.tick_value_loss is not None
    limit = daily_loss_limit(params, order.balance)
    if limit is None:
        return missing_input(rule, daily_loss_limit=None) or allow(rule)
    budget = remaining_daily_loss_budget(state, market.now, market.exposures, params,
                                         order.balance)
    risk = money_at_sl(
        order.volume, order.entry_price, order.stop_loss, spec.tick_size, spec.tick_value_loss
    )
    if risk > budget:
        return deny(
            rule,
            DenialCode.DAILY_LOSS_BUDGET,
            f"this order risks {risk:.2f} but only {max(budget, 0.0):.2f} of today's "
            f"{limit:.2f} loss budget is left",
        )
    return allow(rule)


# --- Runners ----------------------------------------------------------------------------------

Rule = Callable[[Any, RiskState, RiskParams], Verdict]


@dataclass(frozen=True, slots=True)
class RiskReport:
    """Every verdict of one run, in the order the rules ran."""

    verdicts: tuple[Verdict, ...]

    @property
    def allowed(self) -> bool:
        return all(verdict.allowed for verdict in self.verdicts)

    @property
    def denials(self) -> tuple[Verdict, ...]:
        return tuple(verdict for verdict in self.verdicts if not verdict.allowed)

    @property
    def first_denial(self) -> Verdict | None:
        return next(iter(self.denials), None)


def run_rules(
    rules: Sequence[Rule],
    subject: Any,
    state: RiskState,
    params: RiskParams,
    stop_at_first: bool = True,
) -> RiskReport:
    """Run ``rules`` in order. A rule that raises becomes a RULE_ERROR denial, never an allow."""
    verdicts: list[Verdict] = []
    for rule in rules:
        try:
            verdict = rule(subject, state, params)
        except Exception as exc:  # a broken rule must block the trade, not crash the scan
            verdict = deny(rule.__name__, DenialCode.RULE_ERROR, f"{rule.__name__}: {exc!r}")
        verdicts.append(verdict)
        if stop_at_first and not verdict.allowed:
            break
    return RiskReport(tuple(verdicts))


def _on_market(rule: Callable[[PreScanInput, RiskState, RiskParams], Verdict]) -> Rule:
    """A pre-scan rule applied to an order's market data."""

    def run(order: OrderInput, state: RiskState, params: RiskParams) -> Verdict:
        return rule(order.market, state, params)

    run.__name__ = rule.__name__
    return run


PRE_SCAN_RULES: tuple[Rule, ...] = (
    check_trading_mode,
    check_kill_switch,
    check_daily_loss,
    check_day_stopped,
    check_daily_trade_count,
    check_consecutive_losses,
    check_payoff_mandate,
    check_trade_interval,
    check_max_positions,
    check_symbol_tradeable,
    check_spread,
    check_news,
)

EXECUTION_RULES: tuple[Rule, ...] = (
    *(_on_market(rule) for rule in PRE_SCAN_RULES),
    check_stops,
    check_reward_risk,
    check_cost_gate,
    check_correlation,
    check_currency_exposure,
    check_daily_loss_budget,
)


def check_pre_scan(
    market: PreScanInput, state: RiskState, params: RiskParams, stop_at_first: bool = True
) -> RiskReport:
    """May this symbol be considered at all? (Before research; cheap.)"""
    return run_rules(PRE_SCAN_RULES, market, state, params, stop_at_first)


def check_execution(
    order: OrderInput, state: RiskState, params: RiskParams, stop_at_first: bool = True
) -> RiskReport:
    """May this exact order, with its volume, be sent now? Run it on fresh data just before
    sending; an order without a volume is denied by the daily loss budget rule."""
    return run_rules(EXECUTION_RULES, order, state, params, stop_at_first)
