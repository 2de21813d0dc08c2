"""Position sizing in account money, and the final approval of an order.

The risk of a trade is what it loses if its stop is hit, in the account currency:
``volume × |entry − sl| / tick_size × tick_value_loss``. :func:`size_position` picks the risk
percentage (quarter-Kelly from the recent closed trades, or a confidence band when there are
too few), multiplies it by the candidate's scaling factor, and only then caps it at 2 % of the
smaller of balance and equity, and at any extra cap (the day's remaining loss budget, the
tail-risk cap). The seed capped *before* multiplying, so a 2.0 scaling factor risked 4 %.

The volume is rounded *down* to the volume step and clamped to [volume_min, volume_max]. If
even volume_min would lose more than the cap at the stop, the order is denied
(``VOLUME_BELOW_MIN``) instead of being rounded up: the money lost at the stop never exceeds the
cap. :func:`approve_order` chains the risk rules, the sizing and the daily loss budget in the
order the RiskManager actor must follow.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from actors.risk.rules import (
    EXECUTION_RULES,
    RiskParams,
    RiskReport,
    Verdict,
    allow,
    base_symbol,
    check_execution,
    deny,
    exposure_gaps,
    missing_input,
    missing_named,
    money_at_sl,
    remaining_daily_loss_budget,
    run_rules,
)
from actors.risk.state import RiskState, closing_deals
from messages.risk import DenialCode, OrderInput

__all__ = [
    "SizedOrder",
    "SizingInput",
    "SizingParams",
    "SizingResult",
    "approve_order",
    "kelly_fraction",
    "quantise_down",
    "quantise_up",
    "risk_percent",
    "size_position",
]

# A float like 0.29 / 0.01 is 28.999999999999996; this much slack counts it as 29 steps. The
# money check afterwards still removes a step if that rounding ever pushed the risk over.
_STEP_EPSILON = 1e-9


@dataclass(frozen=True, slots=True)
class SizingParams:
    """The seed's sizing numbers: quarter-Kelly (0.25) once there are 20 closed trades, 2 %
    maximum risk, 1 / 1.5 / 2 % by confidence otherwise, and a 30 (account currency) loss cap
    on the tail-risk symbols (matched without the broker suffix)."""

    max_risk_pct: float = 2.0
    kelly_multiplier: float = 0.25
    kelly_min_trades: int = 20
    history_lookback_seconds: float = 30 * 86_400
    # (minimum confidence, risk %), highest first; confidence is the Researcher's 0–100.
    confidence_bands: tuple[tuple[float, float], ...] = ((80.0, 2.0), (65.0, 1.5), (0.0, 1.0))
    tail_risk_symbols: tuple[str, ...] = ("XAUUSD", "BTCUSD", "ETHUSD", "USOIL")
    tail_risk_max_loss: float = 30.0


@dataclass(frozen=True, slots=True)
class SizingInput:
    symbol: str
    balance: float | None
    equity: float | None
    entry_price: float | None
    stop_loss: float | None
    tick_size: float | None
    tick_value_loss: float | None
    volume_min: float | None
    volume_max: float | None
    volume_step: float | None
    confidence: float | None
    scaling_factor: float = 1.0
    # An extra ceiling on the loss at the stop, e.g. the day's remaining loss budget.
    max_risk_money: float | None = None


@dataclass(frozen=True, slots=True)
class SizingResult:
    verdict: Verdict
    volume: float = 0.0
    risk_money: float = 0.0
    cap_money: float = 0.0
    risk_pct: float = 0.0
    method: str = ""

    @property
    def allowed(self) -> bool:
        return self.verdict.allowed


def quantise_down(value: float, step: float) -> float:
    """The largest multiple of ``step`` not above ``value`` (within float noise)."""
    return _clean(math.floor(_steps(value, step) + _STEP_EPSILON) * step, step)


def quantise_up(value: float, step: float) -> float:
    """The smallest multiple of ``step`` not below ``value`` (within float noise)."""
    return _clean(math.ceil(_steps(value, step) - _STEP_EPSILON) * step, step)


def _steps(value: float, step: float) -> float:
    if step <= 0.0:
        raise ValueError(f"step must be > 0, got {step}")
    return value / step


def _clean(value: float, step: float) -> float:
    """Round away binary noise (0.29000000000000004) to the step's decimal places."""
    decimals = max(0, -math.floor(math.log10(step))) + 2
    return round(value, decimals)


def kelly_fraction(net_results: list[float]) -> float:
    """Full Kelly f = p − (1 − p) / b from trade results (b = average win / average loss).
    Minus infinity with no win, p with no loss."""
    wins = [result for result in net_results if result > 0.0]
    losses = [-result for result in net_results if result < 0.0]
    if not wins:
        return -math.inf
    p = len(wins) / len(net_results)
    if not losses:
        return p
    payoff = (sum(wins) / len(wins)) / (sum(losses) / len(losses))
    return p - (1.0 - p) / payoff


def risk_percent(
    state: RiskState, now: float, confidence: float | None, params: SizingParams
) -> tuple[float | None, str, Verdict]:
    """(risk % before scaling and caps, method, verdict)."""
    rule = "sizing"
    history = [
        deal.net_profit
        for deal in closing_deals(state, since=now - params.history_lookback_seconds)
    ]
    if len(history) >= params.kelly_min_trades:
        fraction = kelly_fraction(history)
        if fraction <= 0.0:
            return (
                None,
                "kelly",
                deny(
                    rule,
                    DenialCode.NO_EDGE,
                    f"Kelly fraction {fraction:.3f} over {len(history)} trades: no edge",
                ),
            )
        return fraction * params.kelly_multiplier * 100.0, "kelly", allow(rule)
    gap = missing_input(rule, confidence=confidence)
    if gap:
        return None, "confidence band", gap
    assert confidence is not None
    if not 0.0 <= confidence <= 100.0:
        return (
            None,
            "confidence band",
            deny(rule, DenialCode.INVALID_INPUT, f"confidence {confidence} outside 0–100"),
        )
    for threshold, percent in params.confidence_bands:
        if confidence >= threshold:
            return percent, "confidence band", allow(rule)
    return (
        None,
        "confidence band",
        deny(rule, DenialCode.INVALID_INPUT, f"no confidence band covers {confidence}"),
    )


def size_position(
    request: SizingInput, state: RiskState, now: float, params: SizingParams | None = None
) -> SizingResult:
    """The volume to send, and what it loses at the stop; or a denial."""
    params = params or SizingParams()
    rule = "sizing"
    gap = missing_input(
        rule,
        now=now,
        balance=request.balance,
        equity=request.equity,
        entry_price=request.entry_price,
        stop_loss=request.stop_loss,
        tick_size=request.tick_size,
        tick_value_loss=request.tick_value_loss,
        volume_min=request.volume_min,
        volume_max=request.volume_max,
        volume_step=request.volume_step,
        scaling_factor=request.scaling_factor,
    )
    if gap:
        return SizingResult(gap)
    assert request.balance is not None and request.equity is not None
    assert request.entry_price is not None and request.stop_loss is not None
    assert request.tick_size is not None and request.tick_value_loss is not None
    assert request.volume_min is not None and request.volume_max is not None
    assert request.volume_step is not None
    invalid = [
        name
        for name, value in (
            ("balance", request.balance),
            ("equity", request.equity),
            ("tick_size", request.tick_size),
            ("tick_value_loss", request.tick_value_loss),
            ("volume_min", request.volume_min),
            ("volume_step", request.volume_step),
            ("scaling_factor", request.scaling_factor),
        )
        if value <= 0.0
    ]
    if request.volume_max < request.volume_min:
        invalid.append("volume_max")
    if request.entry_price == request.stop_loss:
        invalid.append("stop_loss")
    if request.max_risk_money is not None and math.isnan(request.max_risk_money):
        invalid.append("max_risk_money")
    if invalid:
        return SizingResult(
            deny(rule, DenialCode.INVALID_INPUT, f"sizing: invalid {', '.join(invalid)}")
        )

    base_pct, method, verdict = risk_percent(state, now, request.confidence, params)
    if base_pct is None:
        return SizingResult(verdict, method=method)
    capital = min(request.balance, request.equity)
    # The cap applies after every multiplier (seed bug: 2 % × scaling 2.0 = 4 %).
    risk_pct = min(base_pct * request.scaling_factor, params.max_risk_pct)
    cap_money = capital * params.max_risk_pct / 100.0
    if base_symbol(request.symbol) in params.tail_risk_symbols:
        cap_money = min(cap_money, params.tail_risk_max_loss)
    if request.max_risk_money is not None:
        cap_money = min(cap_money, request.max_risk_money)
    target_money = min(capital * risk_pct / 100.0, cap_money)
    if cap_money <= 0.0:
        return SizingResult(
            deny(rule, DenialCode.DAILY_LOSS_BUDGET, "no loss budget left for a new order"),
            cap_money=cap_money,
            method=method,
        )

    def loss(volume: float) -> float:
        return money_at_sl(
            volume, request.entry_price, request.stop_loss, request.tick_size,
            request.tick_value_loss,
        )  # fmt: skip

    if loss(1.0) <= 0.0:
        return SizingResult(
            deny(rule, DenialCode.INVALID_INPUT, "the stop is less than one tick from the entry"),
            method=method,
        )
    step = request.volume_step
    smallest = quantise_up(request.volume_min, step)
    largest = quantise_down(request.volume_max, step)
    if smallest > largest:
        return SizingResult(
            deny(rule, DenialCode.INVALID_INPUT, "no multiple of the volume step in [min, max]"),
            method=method,
        )
    volume = min(quantise_down(target_money / loss(1.0), step), largest)
    if volume < smallest:
        # The target is below one minimum lot; the minimum is still fine if it fits the cap.
        volume = smallest
    while volume >= smallest and loss(volume) > cap_money:
        volume = _clean(volume - step, step)
    if volume < smallest or volume > largest:
        return SizingResult(
            deny(
                rule,
                DenialCode.VOLUME_BELOW_MIN,
                f"the minimum volume {smallest:g} would lose {loss(smallest):.2f} at the stop, "
                f"above the cap {cap_money:.2f}",
            ),
            cap_money=cap_money,
            method=method,
        )
    risk_money = loss(volume)
    return SizingResult(
        allow(rule),
        volume=volume,
        risk_money=risk_money,
        cap_money=cap_money,
        risk_pct=100.0 * risk_money / capital,
        method=method,
    )


@dataclass(frozen=True, slots=True)
class SizedOrder:
    """The RiskManager's answer: a volume to send, or the reason not to."""

    report: RiskReport
    sizing: SizingResult | None = None
    volume: float = 0.0
    loss_budget: float | None = None

    @property
    def allowed(self) -> bool:
        return self.report.allowed and self.volume > 0.0

    @property
    def denial(self) -> Verdict | None:
        return self.report.first_denial


def approve_order(
    order: OrderInput,
    state: RiskState,
    params: RiskParams | None = None,
    sizing: SizingParams | None = None,
) -> SizedOrder:
    """Rules, then sizing inside the day's remaining loss budget, then every execution rule
    again on the sized order (which includes the budget check on its final volume)."""
    params = params or RiskParams()
    sizing = sizing or SizingParams()
    # Every rule but the last: the daily loss budget needs the volume, which sizing provides.
    before = run_rules(EXECUTION_RULES[:-1], replace(order, volume=None), state, params)
    if not before.allowed:
        return SizedOrder(before)
    market = order.market
    spec = market.spec
    # The rules above already refused a missing clock, exposure list or symbol spec.
    assert market.now is not None and market.exposures is not None and spec is not None
    absent = missing_named("daily_loss_budget", exposure_gaps(market.exposures))
    if absent:
        return SizedOrder(RiskReport((*before.verdicts, absent)))
    budget = remaining_daily_loss_budget(state, market.now, market.exposures, params,
                                         order.balance)
    result = size_position(
        SizingInput(
            symbol=market.symbol,
            balance=order.balance,
            equity=order.equity,
            entry_price=order.entry_price,
            stop_loss=order.stop_loss,
            tick_size=spec.tick_size,
            tick_value_loss=spec.tick_value_loss,
            volume_min=spec.volume_min,
            volume_max=spec.volume_max,
            volume_step=spec.volume_step,
            confidence=order.confidence,
            scaling_factor=order.scaling_factor,
            max_risk_money=budget,
        ),
        state,
        market.now,
        sizing,
    )
    if not result.allowed:
        return SizedOrder(RiskReport((*before.verdicts, result.verdict)), result)
    final = check_execution(replace(order, volume=result.volume), state, params)
    if not final.allowed:
        return SizedOrder(final, result)
    return SizedOrder(final, result, result.volume, budget)
