"""Trade management: at most one rule per open position per cycle, in a fixed priority.

1. **Early cut** — the trade is 0.5 ATR under water and at least two of three momentum signals
   (RSI past 35/65, three MACD histogram bars against the trade, close on the wrong side of
   SMA20) say it will not recover: close it.
2. **Break-even** — once 0.5 ATR in profit: stop to entry ± 0.05 ATR, and close 30 % of the
   volume (rounded down to the volume step, and only if both parts stay ≥ volume_min).
3. **Trailing stop** — from 0.3 ATR in profit: stop at the best price seen minus a distance that
   narrows linearly from 1.0 ATR (at 0.3 ATR of best profit) to 0.4 ATR (at 3.0 ATR).

A stop only ever moves in the trade's favour, measured against the position's *current* stop as
the broker reports it. The seed ran break-even and then the trail in the same cycle against the
stale stop, so the trail moved the stop back below the entry; here the rules are exclusive, the
trail compares with the fresh stop and never goes below the break-even level once break-even is
done. The per-ticket memory (:class:`TicketState`) is a plain dataclass the actor keeps in
SharedState; :func:`manage_position` proposes, and :func:`confirm` records break-even and the
partial close only once the broker has accepted them (the seed recorded them either way).

A strategy that manages its own positions (``Strategy.manage``) answers in the API's words;
:func:`own_decision` turns that into the same kind of decision, under the same guards: a stop
only towards the market and clear of the stops level, a volume on the volume grid.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import asdict, dataclass, replace
from enum import StrEnum
from typing import Any

from actors.risk.rules import is_missing
from actors.risk.sizing import quantise_down, quantise_up
from actors.strategy.api import Exit, Hold, MoveStop
from messages.market import Side

__all__ = [
    "ManagementAction",
    "ManagementDecision",
    "ManagementParams",
    "MomentumView",
    "PositionView",
    "TicketState",
    "TradingLimits",
    "confirm",
    "manage_position",
    "own_decision",
    "prune_ticket_states",
    "ticket_state_from_dict",
    "ticket_state_to_dict",
    "trail_distance_atr",
]


class ManagementAction(StrEnum):
    HOLD = "HOLD"
    EARLY_CUT = "EARLY_CUT"
    BREAK_EVEN = "BREAK_EVEN"
    TRAIL = "TRAIL"
    MOVE_STOP = "MOVE_STOP"  # the strategy's own (Strategy.manage)
    EXIT = "EXIT"  # the strategy's own, all or part of the position


@dataclass(frozen=True, slots=True)
class ManagementParams:
    """The seed's smart-exit numbers (all distances in ATRs of the primary timeframe)."""

    early_cut_loss_atr: float = 0.5
    early_cut_min_signals: int = 2
    early_cut_rsi_long: float = 35.0
    early_cut_rsi_short: float = 65.0
    early_cut_macd_bars: int = 3
    breakeven_trigger_atr: float = 0.5
    breakeven_offset_atr: float = 0.05
    partial_close_fraction: float = 0.30
    trail_start_atr: float = 0.3
    trail_full_atr: float = 3.0
    trail_distance_start_atr: float = 1.0
    trail_distance_end_atr: float = 0.4
    # The seed's minimum stop step: 0.01 on gold, 0.0001 on forex, i.e. 10 points on both.
    min_stop_step_points: float = 10.0


@dataclass(frozen=True, slots=True)
class PositionView:
    """An open position as the broker reports it now. ``price`` is where it would close: the
    bid for a buy, the ask for a sell."""

    ticket: int
    symbol: str
    direction: Side
    volume: float
    entry_price: float
    stop_loss: float | None
    take_profit: float | None
    price: float


@dataclass(frozen=True, slots=True)
class MomentumView:
    """Closed-bar indicator values of the position's symbol on the primary timeframe."""

    atr: float | None
    rsi: float | None = None
    close: float | None = None
    sma20: float | None = None
    macd_histogram: tuple[float, ...] = ()


@dataclass(frozen=True, slots=True)
class TradingLimits:
    """From ``symbol_info``: price grid, volume grid and the minimum stop distance."""

    point: float
    volume_min: float
    volume_step: float
    stops_level_points: float = 0.0


@dataclass(frozen=True, slots=True)
class TicketState:
    ticket: int
    breakeven_done: bool = False
    partial_done: bool = False
    best_price: float | None = None


@dataclass(frozen=True, slots=True)
class ManagementDecision:
    """One action for one position. ``close_volume`` is the volume to close (all of it for an
    early cut, the partial for break-even, 0 otherwise); ``state`` carries the updated best
    price and must be stored whatever the broker answers."""

    ticket: int
    action: ManagementAction
    reason: str
    state: TicketState
    new_stop_loss: float | None = None
    close_volume: float = 0.0


def trail_distance_atr(best_profit_atr: float, params: ManagementParams) -> float:
    """The trailing distance in ATRs for a best profit in ATRs (linear, clamped)."""
    span = params.trail_full_atr - params.trail_start_atr
    progress = min(max((best_profit_atr - params.trail_start_atr) / span, 0.0), 1.0)
    start, end = params.trail_distance_start_atr, params.trail_distance_end_atr
    return start + (end - start) * progress


def _early_cut_signals(
    position: PositionView, momentum: MomentumView, params: ManagementParams
) -> list[str]:
    """Momentum signals against the trade; a missing input simply does not fire."""
    sign = position.direction.sign
    signals = []
    rsi = momentum.rsi
    if not is_missing(rsi):
        assert rsi is not None
        if (sign > 0 and rsi < params.early_cut_rsi_long) or (
            sign < 0 and rsi > params.early_cut_rsi_short
        ):
            signals.append(f"RSI {rsi:.0f}")
    bars = momentum.macd_histogram[-params.early_cut_macd_bars :]
    if len(bars) == params.early_cut_macd_bars and all(
        not is_missing(value) and sign * value < 0.0 for value in bars
    ):
        signals.append(f"MACD histogram against for {len(bars)} bars")
    if not is_missing(momentum.close) and not is_missing(momentum.sma20):
        assert momentum.close is not None and momentum.sma20 is not None
        if sign * (momentum.close - momentum.sma20) < 0.0:
            signals.append("close beyond SMA20")
    return signals


def _snap(price: float, point: float, direction: Side) -> float:
    """Put a stop on the price grid, away from the market (never closer than asked)."""
    return quantise_down(price, point) if direction is Side.BUY else quantise_up(price, point)


def _improved_stop(
    position: PositionView,
    wanted: float,
    limits: TradingLimits,
    params: ManagementParams,
    may_pull_back: bool = True,
) -> float | None:
    """``wanted`` on the price grid and at least the stops level (and one point) from the
    price, if it improves the current stop by at least the minimum step; else None. When
    ``wanted`` is too close to the price, it is pulled back to the nearest allowed level,
    unless ``may_pull_back`` is False (break-even is all or nothing)."""
    sign = position.direction.sign
    gap = max(limits.stops_level_points, 1.0) * limits.point
    nearest_allowed = position.price - sign * gap
    if sign * (wanted - nearest_allowed) > 0.0:
        if not may_pull_back:
            return None
        wanted = nearest_allowed
    stop = _snap(wanted, limits.point, position.direction)
    if position.stop_loss is None:
        return stop
    min_step = params.min_stop_step_points * limits.point
    if sign * (stop - position.stop_loss) >= min_step - 1e-12:
        return stop
    return None


def manage_position(
    position: PositionView,
    momentum: MomentumView,
    limits: TradingLimits,
    state: TicketState | None = None,
    params: ManagementParams | None = None,
) -> ManagementDecision:
    """Decide this cycle's single action for one position."""
    params = params or ManagementParams()
    state = state or TicketState(position.ticket)
    sign = position.direction.sign
    best = position.price
    if state.best_price is not None and sign * (state.best_price - best) > 0.0:
        best = state.best_price
    state = replace(state, best_price=best)

    def hold(reason: str) -> ManagementDecision:
        return ManagementDecision(position.ticket, ManagementAction.HOLD, reason, state)

    atr = momentum.atr
    if is_missing(atr) or atr is None or atr <= 0.0:
        return hold("no ATR: stops left as they are")
    profit_atr = sign * (position.price - position.entry_price) / atr
    breakeven_level = position.entry_price + sign * params.breakeven_offset_atr * atr
    # A stop already at or past the entry means break-even happened, even if the ticket's
    # memory was lost (restart) or the confirmation never arrived.
    stop_past_entry = position.stop_loss is not None and (
        sign * (position.stop_loss - position.entry_price) >= 0.0
    )
    breakeven_done = state.breakeven_done or stop_past_entry

    # 1. Early cut.
    if profit_atr <= -params.early_cut_loss_atr:
        signals = _early_cut_signals(position, momentum, params)
        if len(signals) >= params.early_cut_min_signals:
            return ManagementDecision(
                position.ticket,
                ManagementAction.EARLY_CUT,
                f"early cut at {profit_atr:.2f} ATR: {', '.join(signals)}",
                state,
                close_volume=position.volume,
            )

    # 2. Break-even with a partial close.
    if profit_atr >= params.breakeven_trigger_atr and not breakeven_done:
        stop = _improved_stop(position, breakeven_level, limits, params, may_pull_back=False)
        partial = 0.0
        if not state.partial_done:
            partial = quantise_down(
                position.volume * params.partial_close_fraction, limits.volume_step
            )
            remainder = position.volume - partial
            if partial < limits.volume_min or remainder < limits.volume_min - 1e-12:
                partial = 0.0
        if stop is not None or partial > 0.0:
            parts = [f"stop to {stop}" if stop is not None else "stop held by the stops level"]
            if partial > 0.0:
                parts.append(f"close {partial:g} of {position.volume:g}")
            return ManagementDecision(
                position.ticket,
                ManagementAction.BREAK_EVEN,
                f"break-even at {profit_atr:.2f} ATR: {'; '.join(parts)}",
                state,
                new_stop_loss=stop,
                close_volume=partial,
            )

    # 3. Trailing stop from the best price.
    best_profit_atr = sign * (best - position.entry_price) / atr
    if profit_atr >= params.trail_start_atr:
        distance = trail_distance_atr(best_profit_atr, params) * atr
        wanted = best - sign * distance
        if breakeven_done and sign * (breakeven_level - wanted) > 0.0:
            wanted = breakeven_level
        stop = _improved_stop(position, wanted, limits, params)
        if stop is not None:
            return ManagementDecision(
                position.ticket,
                ManagementAction.TRAIL,
                f"trail {distance / atr:.2f} ATR behind best {best}: stop to {stop}",
                state,
                new_stop_loss=stop,
            )
    return hold(f"no rule applies at {profit_atr:.2f} ATR")


def own_decision(
    answer: Hold | MoveStop | Exit,
    position: PositionView,
    limits: TradingLimits,
    state: TicketState | None = None,
    params: ManagementParams | None = None,
) -> ManagementDecision:
    """The decision a strategy's own answer about ``position`` makes. A stop that would not move
    towards the market (or not by the minimum step), and a volume below the symbol's minimum,
    are held, with the reason; any other answer type raises TypeError (the strategy's bug)."""
    params = params or ManagementParams()
    state = state or TicketState(position.ticket)

    def hold(reason: str) -> ManagementDecision:
        return ManagementDecision(position.ticket, ManagementAction.HOLD, reason, state)

    if isinstance(answer, Hold):
        return hold(answer.reason or "the strategy holds")
    if isinstance(answer, MoveStop):
        stop = _improved_stop(position, answer.stop_loss, limits, params)
        if stop is None:
            return hold(f"stop {answer.stop_loss} refused: not towards the market by "
                        f"{params.min_stop_step_points:g} points")
        return ManagementDecision(position.ticket, ManagementAction.MOVE_STOP,
                                  answer.reason or "the strategy moves its stop", state,
                                  new_stop_loss=stop)
    if isinstance(answer, Exit):
        volume = position.volume if answer.volume is None else min(
            quantise_down(answer.volume, limits.volume_step), position.volume)
        if volume < limits.volume_min - 1e-12:
            return hold(f"exit of {answer.volume} lots refused: below the minimum "
                        f"{limits.volume_min}")
        return ManagementDecision(position.ticket, ManagementAction.EXIT,
                                  answer.reason or "the strategy exits", state,
                                  close_volume=volume)
    raise TypeError(f"Strategy.manage returned {answer!r}; expected Hold, MoveStop, Exit or "
                    "None")


def confirm(
    state: TicketState,
    decision: ManagementDecision,
    stop_applied: bool,
    partial_applied: bool,
) -> TicketState:
    """The ticket's memory after the broker answered the decision's orders."""
    state = replace(state, best_price=decision.state.best_price)
    if decision.action is ManagementAction.BREAK_EVEN:
        if stop_applied and decision.new_stop_loss is not None:
            state = replace(state, breakeven_done=True)
        if partial_applied and decision.close_volume > 0.0:
            state = replace(state, partial_done=True)
    return state


def prune_ticket_states(
    states: Mapping[int, TicketState], open_tickets: Iterable[int]
) -> dict[int, TicketState]:
    """Forget closed tickets (the seed's sets grew for ever)."""
    keep = set(open_tickets)
    return {ticket: state for ticket, state in states.items() if ticket in keep}


def ticket_state_to_dict(state: TicketState) -> dict[str, Any]:
    return asdict(state)


def ticket_state_from_dict(data: Mapping[str, Any]) -> TicketState:
    best = data.get("best_price")
    return TicketState(
        ticket=int(data["ticket"]),
        breakeven_done=bool(data["breakeven_done"]),
        partial_done=bool(data["partial_done"]),
        best_price=None if best is None else float(best),
    )
