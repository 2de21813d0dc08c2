"""Candidate selection: one scan result, with a reason string, for every symbol.

For each symbol the Strategy hands over its quote and raw bars; :func:`scan_symbol` drops the
forming bar, computes the indicators on closed bars and walks the gates in a fixed order:
error → session → news → spread → data → dead market → confluence. The first gate that stops
the symbol writes its reason; a symbol that passes them all is a candidate with a direction.

Reasons come from a fixed vocabulary, always ``"<PREFIX>: <detail>"``, so the dashboard maps a
reason to a badge by its prefix alone (:func:`status_of_reason`). A candidate reads
``"CANDIDATE BUY: …"`` or ``"CANDIDATE SELL: …"``: the seed sent ``"CANDIDATE (BUY)"`` to a
dashboard that only recognised "buy…", "sell…" or "candidate", so real signals showed as SKIP.

Confluence (the seed's QuantAgent, without its ML models): per direction, +1 for each of M5, H1
and H4 whose close is beyond its SMA50 by 0.1 % that way, +1 when ADX > 25; a timeframe
trending the other way blocks that direction. The direction with the higher score, if at least
``min_confluence``, is the candidate; a tie is no setup (the seed took BUY on a tie).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum

import numpy as np

from actors.risk.rules import AssetClass, SpreadLimits, Verdict, asset_class, evaluate_spread
from actors.strategy.indicators import (
    RegimeParams,
    adx,
    atr,
    bollinger,
    classify_regime,
    closed_bars,
    last_finite,
    rsi,
    sma,
)
from actors.strategy.sessions import DEFAULT_SESSIONS, SessionSpec, is_trading_session
from messages.market import Bars, Side
from messages.research import MarketFacts
from messages.risk import DenialCode

__all__ = [
    "ScanResult",
    "ScanStatus",
    "SignalParams",
    "SymbolMarket",
    "market_facts",
    "rank_candidates",
    "reason_for_denial",
    "scan_summary",
    "scan_symbol",
    "status_of_reason",
    "with_risk_denial",
]


class ScanStatus(StrEnum):
    """The badge vocabulary. The value is the reason's prefix."""

    CANDIDATE = "CANDIDATE"
    NO_SETUP = "NO SETUP"
    OFF_SESSION = "OFF-SESSION"
    LOW_VOLATILITY = "LOW VOLATILITY"
    SPREAD = "SPREAD"
    NEWS = "NEWS"
    RISK_BLOCK = "RISK BLOCK"
    ERROR = "ERROR"


@dataclass(frozen=True, slots=True)
class SignalParams:
    """The seed's numbers: SMA50 trend with a 0.1 % band on M5/H1/H4, ADX(14) > 25, ATR(14)
    dead-market floor at 20 % of its 100-bar mean, minimum confluence 3 (its TRENDING value),
    SL 0.8 ATR, TP 2.0 ATR + spread and at least 3 × spread. ``allowed_sessions`` None means
    any of the four sessions; crypto trades round the clock."""

    primary_timeframe: str = "M5"
    trend_timeframes: tuple[str, ...] = ("M5", "H1", "H4")
    trend_sma: int = 50
    trend_band: float = 0.001
    adx_period: int = 14
    adx_threshold: float = 25.0
    rsi_period: int = 14
    atr_period: int = 14
    dead_market_ratio: float = 0.2
    dead_market_lookback: int = 100
    bollinger_period: int = 20
    bollinger_width: float = 2.5
    min_primary_bars: int = 100
    min_confluence: int = 3
    sl_atr_multiplier: float = 0.8
    tp_atr_multiplier: float = 2.0
    min_tp_spread_ratio: float = 3.0
    allowed_sessions: tuple[str, ...] | None = None
    sessions: tuple[SessionSpec, ...] = DEFAULT_SESSIONS
    round_the_clock: tuple[AssetClass, ...] = (AssetClass.CRYPTO,)
    spread_limits: SpreadLimits = field(default_factory=SpreadLimits)
    regime: RegimeParams = field(default_factory=RegimeParams)


@dataclass(frozen=True, slots=True, eq=False)
class SymbolMarket:
    """What the Strategy fetched for one symbol. ``bars`` maps a timeframe to its raw bars
    (the forming bar may be included; it is dropped here). ``news_blackout`` None means the
    news status is unknown, which blocks like a blackout. ``error`` is a fetch failure."""

    symbol: str
    bid: float | None
    ask: float | None
    point: float | None
    bars: Mapping[str, Bars]
    news_blackout: bool | None
    news_event: str = ""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ScanResult:
    symbol: str
    status: ScanStatus
    reason: str
    direction: Side | None = None
    score: float = 0
    sl_distance: float | None = None
    tp_distance: float | None = None
    facts: MarketFacts | None = None
    confidence: float | None = None
    """A strategy's own confidence (0–100), which skips the Researcher."""

    @property
    def is_candidate(self) -> bool:
        return self.status is ScanStatus.CANDIDATE


def _reason(status: ScanStatus, detail: str, direction: Side | None = None) -> str:
    prefix = f"{status.value} {direction.value}" if direction is not None else status.value
    return f"{prefix}: {detail}"


def _result(
    symbol: str, status: ScanStatus, detail: str, facts: MarketFacts | None = None
) -> ScanResult:
    return ScanResult(symbol, status, _reason(status, detail), facts=facts)


_STATUS_OF_PREFIX: dict[str, ScanStatus] = {
    **{status.value: status for status in ScanStatus},
    **{f"{ScanStatus.CANDIDATE.value} {direction.value}": ScanStatus.CANDIDATE
       for direction in Side},
}


def status_of_reason(reason: str) -> ScanStatus:
    """The badge for a reason string, read from its prefix; anything unrecognised is ERROR."""
    prefix = reason.split(":", 1)[0].strip()
    return _STATUS_OF_PREFIX.get(prefix, ScanStatus.ERROR)


def _trend(bars: Bars, params: SignalParams) -> int | None:
    close = np.asarray(bars.close, dtype=float)
    average = last_finite(sma(close, params.trend_sma))
    last = last_finite(close)
    if average is None or last is None:
        return None
    if last > average * (1.0 + params.trend_band):
        return 1
    if last < average * (1.0 - params.trend_band):
        return -1
    return 0


def _confluence(
    trends: Mapping[str, int], adx_value: float, params: SignalParams
) -> tuple[int, int]:
    """(buy score, sell score); a direction is blocked (0) by any timeframe against it."""
    scores = []
    for sign in (1, -1):
        if any(value == -sign for value in trends.values()):
            scores.append(0)
            continue
        score = sum(1 for value in trends.values() if value == sign)
        scores.append(score + (1 if adx_value > params.adx_threshold else 0))
    return scores[0], scores[1]


def market_facts(
    symbol: str, closed: Mapping[str, Bars], params: SignalParams | None = None
) -> MarketFacts | str:
    """Indicator facts from closed bars, or a description of the data that is missing."""
    params = params or SignalParams()
    primary = closed.get(params.primary_timeframe)
    if primary is None or len(primary) < params.min_primary_bars:
        count = 0 if primary is None else len(primary)
        return (
            f"insufficient data: {count} closed {params.primary_timeframe} bars, "
            f"need {params.min_primary_bars}"
        )
    trends: dict[str, int] = {}
    for timeframe in params.trend_timeframes:
        bars = closed.get(timeframe)
        trend = None if bars is None else _trend(bars, params)
        if trend is None:
            count = 0 if bars is None else len(bars)
            return (
                f"insufficient data: {count} closed {timeframe} bars, "
                f"need {params.trend_sma} for the SMA{params.trend_sma}"
            )
        trends[timeframe] = trend
    high, low = np.asarray(primary.high, dtype=float), np.asarray(primary.low, dtype=float)
    close = np.asarray(primary.close, dtype=float)
    atr_series = atr(high, low, close, params.atr_period)
    directional = adx(high, low, close, params.adx_period)
    bands = bollinger(close, params.bollinger_period, params.bollinger_width)
    recent_atr = atr_series[-params.dead_market_lookback :]
    atr_mean = float(np.nanmean(recent_atr)) if np.any(np.isfinite(recent_atr)) else math.nan
    values = {
        "close": last_finite(close),
        "atr": last_finite(atr_series),
        "atr_mean": atr_mean if math.isfinite(atr_mean) else None,
        "adx": last_finite(directional.adx),
        "plus_di": last_finite(directional.plus_di),
        "minus_di": last_finite(directional.minus_di),
        "rsi": last_finite(rsi(close, params.rsi_period)),
        "bollinger_upper": last_finite(bands.upper),
        "bollinger_middle": last_finite(bands.middle),
        "bollinger_lower": last_finite(bands.lower),
    }
    undefined = [name for name, value in values.items() if value is None]
    if undefined:
        return f"insufficient data: {', '.join(undefined)} undefined on {len(primary)} bars"
    numbers = {name: float(value) for name, value in values.items() if value is not None}
    buy_score, sell_score = _confluence(trends, numbers["adx"], params)
    return MarketFacts(
        symbol=symbol,
        trends=trends,
        buy_score=buy_score,
        sell_score=sell_score,
        regime=classify_regime(numbers["adx"], numbers["atr"], numbers["atr_mean"], params.regime),
        **numbers,
    )


def _describe(facts: MarketFacts, direction: Side) -> str:
    arrows = {1: "↑", -1: "↓", 0: "→"}
    trend_text = " ".join(f"{tf}{arrows[value]}" for tf, value in facts.trends.items())
    score = facts.buy_score if direction is Side.BUY else facts.sell_score
    return (
        f"score {score} ({trend_text}, ADX {facts.adx:.0f}, RSI {facts.rsi:.0f}, "
        f"{facts.regime.value.lower()})"
    )


def scan_symbol(market: SymbolMarket, now: float, params: SignalParams | None = None) -> ScanResult:
    """The scan result of one symbol at ``now`` (epoch seconds). Never raises: an unexpected
    failure is reported as that symbol's ERROR reason."""
    params = params or SignalParams()
    try:
        return _scan(market, now, params)
    except Exception as exc:  # one bad symbol must not stop the scan of the others
        return _result(market.symbol, ScanStatus.ERROR, f"{type(exc).__name__}: {exc}")


def _scan(market: SymbolMarket, now: float, params: SignalParams) -> ScanResult:
    symbol = market.symbol
    if market.error:
        return _result(symbol, ScanStatus.ERROR, market.error)
    if asset_class(symbol) not in params.round_the_clock and not is_trading_session(
        now, params.allowed_sessions, params.sessions
    ):
        wanted = ", ".join(params.allowed_sessions or ("any",))
        return _result(symbol, ScanStatus.OFF_SESSION, f"no session open ({wanted})")
    if market.news_blackout is None:
        return _result(symbol, ScanStatus.NEWS, "news status unknown")
    if market.news_blackout:
        return _result(symbol, ScanStatus.NEWS, market.news_event or "high-impact event")
    spread_verdict = evaluate_spread(
        symbol, market.bid, market.ask, market.point, params.spread_limits
    )
    if not spread_verdict.allowed:
        status = (
            ScanStatus.SPREAD
            if spread_verdict.code is DenialCode.SPREAD_TOO_WIDE
            else ScanStatus.ERROR
        )
        return _result(symbol, status, spread_verdict.message)
    closed = {
        timeframe: closed_bars(bars, now, timeframe) for timeframe, bars in market.bars.items()
    }
    facts = market_facts(symbol, closed, params)
    if isinstance(facts, str):
        return _result(symbol, ScanStatus.ERROR, facts)
    if facts.atr < params.dead_market_ratio * facts.atr_mean:
        return _result(
            symbol,
            ScanStatus.LOW_VOLATILITY,
            f"ATR {facts.atr:.5g} < {params.dead_market_ratio:.0%} of its "
            f"{params.dead_market_lookback}-bar mean {facts.atr_mean:.5g}",
            facts,
        )
    best = max(facts.buy_score, facts.sell_score)
    if facts.buy_score == facts.sell_score or best < params.min_confluence:
        return _result(
            symbol,
            ScanStatus.NO_SETUP,
            f"confluence buy {facts.buy_score} / sell {facts.sell_score}, "
            f"need {params.min_confluence}",
            facts,
        )
    direction = Side.BUY if facts.buy_score > facts.sell_score else Side.SELL
    assert market.bid is not None and market.ask is not None
    spread = market.ask - market.bid
    sl_distance = params.sl_atr_multiplier * facts.atr
    tp_distance = params.tp_atr_multiplier * facts.atr + spread
    if tp_distance < params.min_tp_spread_ratio * spread:
        return _result(
            symbol,
            ScanStatus.SPREAD,
            f"TP distance {tp_distance:.5g} under {params.min_tp_spread_ratio:g} × spread",
            facts,
        )
    return ScanResult(
        symbol,
        ScanStatus.CANDIDATE,
        _reason(ScanStatus.CANDIDATE, _describe(facts, direction), direction),
        direction=direction,
        score=best,
        sl_distance=sl_distance,
        tp_distance=tp_distance,
        facts=facts,
    )


def reason_for_denial(verdict: Verdict) -> str:
    """The scan reason for a RiskManager denial: SPREAD and NEWS keep their own badges."""
    code = verdict.code
    if code is DenialCode.SPREAD_TOO_WIDE:
        return _reason(ScanStatus.SPREAD, verdict.message)
    if code is DenialCode.NEWS_BLACKOUT:
        return _reason(ScanStatus.NEWS, verdict.message)
    label = code.value if code is not None else "UNKNOWN"
    return _reason(ScanStatus.RISK_BLOCK, f"{label}: {verdict.message}")


def with_risk_denial(result: ScanResult, verdict: Verdict) -> ScanResult:
    """A candidate the RiskManager refused, re-labelled with the denial."""
    if verdict.allowed:
        return result
    reason = reason_for_denial(verdict)
    return ScanResult(
        result.symbol,
        status_of_reason(reason),
        reason,
        facts=result.facts,
        score=result.score,
    )


def rank_candidates(results: Iterable[ScanResult]) -> list[ScanResult]:
    """Candidates, best first (score, then symbol, so the order is deterministic)."""
    return sorted(
        (result for result in results if result.is_candidate),
        key=lambda result: (-result.score, result.symbol),
    )


def scan_summary(results: Sequence[ScanResult]) -> dict[str, str]:
    """``{symbol: reason}`` for SCAN_SUMMARY, one entry per symbol scanned."""
    return {result.symbol: result.reason for result in results}
