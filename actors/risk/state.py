"""The RiskManager's counters, and the pure functions that move them.

:class:`RiskState` is everything the risk rules remember between orders: the broker day's
realised P&L and trade count, the recent deals (for the kill switch, the payoff mandate and
Kelly sizing), consecutive losses and the last trade time per symbol, the latched kill switch,
the trading mode and the pause flag. It is immutable; every function returns a new state. The
RiskManager actor keeps the current one in SharedState (:func:`state_to_dict` /
:func:`state_from_dict`), and the broker hands it every deal once, across restarts of either
(its deal cursor), so nothing is "in memory only, lost on restart" as the seed's per-symbol
interval and circuit breaker were.

Times are real UTC epoch seconds. MT5 stamps deals in the broker's server time; the actor
turns a deal's stamp into UTC with the offset in force then. The broker *day* is the server's
calendar day (a deal's: the day its server stamped), which is the day the seed should have used
for its daily loss limit instead of the UTC day.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from enum import StrEnum
from typing import Any

from messages.books import DealRecord
from messages.server_time import server_day

__all__ = [
    "STATE_FORMAT_VERSION",
    "CountedDeal",
    "CounterParams",
    "KillSwitchParams",
    "RiskState",
    "TradingMode",
    "apply_deal",
    "broker_day",
    "closing_deals",
    "kill_switch_breach",
    "kill_switch_on",
    "latch_kill_switch",
    "record_order_sent",
    "reset_kill_switch",
    "roll_broker_day",
    "set_mode",
    "set_paused",
    "state_from_dict",
    "state_to_dict",
    "stop_the_day",
]

STATE_FORMAT_VERSION = 1
_SECONDS_PER_DAY = 86_400


class TradingMode(StrEnum):
    """ACTIVE trades normally; REDUCING only closes and protects; HALTED sends nothing but
    cancellations of pending orders."""

    ACTIVE = "ACTIVE"
    REDUCING = "REDUCING"
    HALTED = "HALTED"


@dataclass(frozen=True, slots=True)
class CountedDeal:
    """A deal as the counters remember it: its net result and whether it closed a position."""

    ticket: int
    symbol: str
    time: float
    closing: bool
    net_profit: float


RUNTIME = "runtime"
"""Field metadata: set by Ensemble at run time, not a configuration key."""


@dataclass(frozen=True, slots=True)
class KillSwitchParams:
    """The seed's kill switch: the last 15 closing deals lost more than 60 (account currency),
    counted only once there are at least 10 of them. The daemon's default scales with the
    account instead (``max_loss_pct``); :func:`kill_switch_on` turns that into money."""

    lookback_deals: int = 15
    max_loss: float | None = 60.0
    """The loss that trips it, in account currency (None: only ``max_loss_pct``)."""
    min_deals: int = 10
    max_loss_pct: float | None = None
    """The loss that trips it as a percentage of the balance (None or 0: off); with both set,
    the smaller."""


@dataclass(frozen=True, slots=True)
class CounterParams:
    """How the counters are kept: the broker's UTC offset, how long and how many deals are
    remembered (the seed read 30 days of deals), and the kill switch."""

    broker_utc_offset_seconds: int = field(default=0, metadata={RUNTIME: True})
    """Measured, not configured: the RiskManager sets it from the broker's profile (and again
    when the server's offset changes at a DST switch)."""
    deal_retention_seconds: float = 30 * _SECONDS_PER_DAY
    max_deals: int = 2000
    kill_switch: KillSwitchParams = field(default_factory=KillSwitchParams)


@dataclass(frozen=True, slots=True)
class RiskState:
    broker_day: int | None = None
    day_realised_pnl: float = 0.0
    day_trade_count: int = 0
    deals: tuple[CountedDeal, ...] = ()
    consecutive_losses: dict[str, int] = field(default_factory=dict)
    last_loss_time: dict[str, float] = field(default_factory=dict)
    last_trade_time: dict[str, float] = field(default_factory=dict)
    kill_switch_latched: bool = False
    kill_switch_reason: str = ""
    kill_switch_time: float | None = None
    # Deals before a manual reset no longer count towards the kill switch; without this, a
    # reset would be undone by the very deals that tripped it.
    kill_switch_reset_time: float | None = None
    mode: TradingMode = TradingMode.ACTIVE
    paused: bool = False
    # A trade that lost well beyond its stop (a gap, slippage) stops new entries for the rest
    # of its broker day: the stops the day's budget was planned on did not hold.
    day_stopped: int | None = None
    day_stopped_reason: str = ""


def broker_day(now: float, params: CounterParams) -> int:
    """The broker server's calendar day number for a UTC instant."""
    return math.floor((now + params.broker_utc_offset_seconds) / _SECONDS_PER_DAY)


def next_broker_day_at(now: float, params: CounterParams) -> float:
    """The UTC instant at which the broker day after ``now``'s begins."""
    return (broker_day(now, params) + 1) * _SECONDS_PER_DAY - params.broker_utc_offset_seconds


def roll_broker_day(state: RiskState, now: float, params: CounterParams,
                    day: int | None = None) -> RiskState:
    """Start a new broker day when ``now`` (or the broker day ``day``, when given) is past the
    state's: the day's P&L and count reset."""
    today = broker_day(now, params) if day is None else day
    if state.broker_day is not None and today <= state.broker_day:
        return state
    return replace(state, broker_day=today, day_realised_pnl=0.0, day_trade_count=0)


def stop_the_day(state: RiskState, day: int, reason: str) -> RiskState:
    """No new entries for the rest of broker day ``day`` (a later day is not stopped)."""
    if state.day_stopped is not None and state.day_stopped >= day:
        return state
    return replace(state, day_stopped=day, day_stopped_reason=reason)


def closing_deals(
    state: RiskState, symbol: str | None = None, since: float | None = None
) -> tuple[CountedDeal, ...]:
    """Closing deals, oldest first, optionally of one symbol and not older than ``since``."""
    return tuple(
        deal
        for deal in state.deals
        if deal.closing
        and (symbol is None or deal.symbol == symbol)
        and (since is None or deal.time >= since)
    )


def kill_switch_on(params: KillSwitchParams, balance: float | None) -> KillSwitchParams:
    """``params`` with the loss that trips it in money on this ``balance`` (the smaller of the
    two limits when both are set). A percentage on an unknown balance trips nothing yet: the
    RiskManager learns the balance with the first scan, before any order of its own."""
    limits = [] if params.max_loss is None else [params.max_loss]
    if params.max_loss_pct and balance is not None and balance > 0:
        limits.append(balance * params.max_loss_pct / 100.0)
    return replace(params, max_loss=min(limits) if limits else None, max_loss_pct=None)


def kill_switch_breach(state: RiskState, params: KillSwitchParams) -> str | None:
    """Why the kill switch must trip now, or None. Deals before a manual reset are ignored;
    ``params`` holds the limit in money (:func:`kill_switch_on`)."""
    if params.max_loss is None:
        return None
    window = closing_deals(state, since=state.kill_switch_reset_time)[-params.lookback_deals :]
    if len(window) < params.min_deals:
        return None
    total = sum(deal.net_profit for deal in window)
    if total < -params.max_loss:
        return (
            f"last {len(window)} closing deals lost {-total:.2f} "
            f"(limit {params.max_loss:.2f} over {params.lookback_deals} deals)"
        )
    return None


def _insert_and_retain(
    deals: tuple[CountedDeal, ...], record: CountedDeal, params: CounterParams
) -> tuple[CountedDeal, ...]:
    """Insert in (time, ticket) order, then forget deals past the retention window or count."""
    ordered = list(deals)
    bisect.insort(ordered, record, key=lambda deal: (deal.time, deal.ticket))
    horizon = ordered[-1].time - params.deal_retention_seconds
    first_kept = bisect.bisect_left(ordered, horizon, key=lambda deal: deal.time)
    return tuple(ordered[max(first_kept, len(ordered) - params.max_deals) :])


def apply_deal(state: RiskState, deal: DealRecord, utc_time: float,
               params: CounterParams) -> RiskState:
    """Fold one of the broker's trading deals into the counters. ``utc_time`` is when it
    happened (its server time with the offset then in force: ``messages.server_time``); its
    broker day is the day its server stamped. Applying the same ticket twice changes nothing,
    so a handler that Thespian re-runs cannot count a loss twice. Apply deals in time order:
    the loss streak follows arrival order. A balance operation is not a trade: it changes
    nothing."""
    if not deal.is_trade or any(known.ticket == deal.ticket for known in state.deals):
        return state
    if state.deals and utc_time < state.deals[-1].time - params.deal_retention_seconds:
        # Older than anything remembered: it can no longer matter, and counting its loss again
        # (its ticket is forgotten) would corrupt the loss streak.
        return state
    closing = not deal.opens
    record = CountedDeal(deal.ticket, deal.symbol, utc_time, closing, deal.net_profit)
    deal_day = server_day(deal.time_msc / 1000.0)
    state = roll_broker_day(state, utc_time, params, deal_day)
    day_pnl = state.day_realised_pnl
    if deal_day == state.broker_day:
        day_pnl += record.net_profit
    deals = _insert_and_retain(state.deals, record, params)
    consecutive = dict(state.consecutive_losses)
    last_loss = dict(state.last_loss_time)
    last_trade = dict(state.last_trade_time)
    if closing:
        if record.net_profit < 0.0:
            consecutive[deal.symbol] = consecutive.get(deal.symbol, 0) + 1
            last_loss[deal.symbol] = max(utc_time, last_loss.get(deal.symbol, utc_time))
        elif record.net_profit > 0.0:
            consecutive[deal.symbol] = 0
    else:
        last_trade[deal.symbol] = max(utc_time, last_trade.get(deal.symbol, utc_time))
    state = replace(
        state,
        day_realised_pnl=day_pnl,
        deals=deals,
        consecutive_losses=consecutive,
        last_loss_time=last_loss,
        last_trade_time=last_trade,
    )
    if not state.kill_switch_latched:
        reason = kill_switch_breach(state, params.kill_switch)
        if reason is not None:
            state = latch_kill_switch(state, reason, utc_time)
    return state


def record_order_sent(
    state: RiskState, symbol: str, now: float, params: CounterParams
) -> RiskState:
    """Count an order that opens risk (market or pending) the moment it is sent, so the
    per-symbol interval and the daily count hold even if the fill is reported late."""
    state = roll_broker_day(state, now, params)
    last_trade = dict(state.last_trade_time)
    last_trade[symbol] = max(now, last_trade.get(symbol, now))
    return replace(state, day_trade_count=state.day_trade_count + 1, last_trade_time=last_trade)


def latch_kill_switch(state: RiskState, reason: str, now: float) -> RiskState:
    """Trip the kill switch; it stays tripped until :func:`reset_kill_switch`."""
    if state.kill_switch_latched:
        return state
    return replace(state, kill_switch_latched=True, kill_switch_reason=reason, kill_switch_time=now)


def reset_kill_switch(state: RiskState, now: float) -> RiskState:
    """A person's decision to trade again: deals before ``now`` stop counting."""
    return replace(
        state,
        kill_switch_latched=False,
        kill_switch_reason="",
        kill_switch_time=None,
        kill_switch_reset_time=now,
    )


def set_mode(state: RiskState, mode: TradingMode) -> RiskState:
    return replace(state, mode=TradingMode(mode))


def set_paused(state: RiskState, paused: bool) -> RiskState:
    return replace(state, paused=bool(paused))


# --- SharedState serialisation ---------------------------------------------------------------


def state_to_dict(state: RiskState) -> dict[str, Any]:
    """Plain JSON-compatible data (str, int, float, bool, None, lists, dicts)."""
    return {
        "version": STATE_FORMAT_VERSION,
        "broker_day": state.broker_day,
        "day_realised_pnl": state.day_realised_pnl,
        "day_trade_count": state.day_trade_count,
        "deals": [
            [deal.ticket, deal.symbol, deal.time, deal.closing, deal.net_profit]
            for deal in state.deals
        ],
        "consecutive_losses": dict(state.consecutive_losses),
        "last_loss_time": dict(state.last_loss_time),
        "last_trade_time": dict(state.last_trade_time),
        "kill_switch_latched": state.kill_switch_latched,
        "kill_switch_reason": state.kill_switch_reason,
        "kill_switch_time": state.kill_switch_time,
        "kill_switch_reset_time": state.kill_switch_reset_time,
        "mode": state.mode.value,
        "paused": state.paused,
        "day_stopped": state.day_stopped,
        "day_stopped_reason": state.day_stopped_reason,
    }


def _optional_float(value: Any) -> float | None:
    return None if value is None else float(value)


def state_from_dict(data: Mapping[str, Any]) -> RiskState:
    """The inverse of :func:`state_to_dict`. Raises ValueError on any malformed field, so a
    corrupted record is never silently read as "no losses, kill switch off"."""
    try:
        if data["version"] != STATE_FORMAT_VERSION:
            raise ValueError(f"unsupported risk state version {data['version']!r}")
        deals = tuple(
            CountedDeal(int(ticket), str(symbol), float(time), bool(closing), float(profit))
            for ticket, symbol, time, closing, profit in data["deals"]
        )
        day = data["broker_day"]
        return RiskState(
            broker_day=None if day is None else int(day),
            day_realised_pnl=float(data["day_realised_pnl"]),
            day_trade_count=int(data["day_trade_count"]),
            deals=deals,
            consecutive_losses={str(k): int(v) for k, v in data["consecutive_losses"].items()},
            last_loss_time={str(k): float(v) for k, v in data["last_loss_time"].items()},
            last_trade_time={str(k): float(v) for k, v in data["last_trade_time"].items()},
            kill_switch_latched=bool(data["kill_switch_latched"]),
            kill_switch_reason=str(data["kill_switch_reason"]),
            kill_switch_time=_optional_float(data["kill_switch_time"]),
            kill_switch_reset_time=_optional_float(data["kill_switch_reset_time"]),
            mode=TradingMode(data["mode"]),
            paused=bool(data["paused"]),
            # Absent from states saved before days could be stopped.
            day_stopped=None if data.get("day_stopped") is None else int(data["day_stopped"]),
            day_stopped_reason=str(data.get("day_stopped_reason", "")),
        )
    except (KeyError, TypeError, AttributeError) as exc:
        raise ValueError(f"malformed risk state: {exc!r}") from exc
