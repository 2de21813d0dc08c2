"""Answers to the Telegram queries and controls, worded from the actors' replies. Pure."""

from __future__ import annotations

from typing import Any

from actors.notify.daily import DayTally, day_text
from actors.notify.notices import money, words_for

__all__ = ["control_text", "daily_text", "positions_text", "status_text"]

_SIDES = {0: "BUY", 1: "SELL"}
_MAX_LISTED = 30


def status_text(risk: Any, snapshot: Any | None, currency: str = "") -> str:
    """``risk``: a ``RiskStatus``; ``snapshot``: a ``BrokerSnapshot`` (None: no answer)."""
    blocked = words_for(code for code in risk.blocked_by if code != "MISSING_INPUT")
    lines = [f"Mode {risk.mode}; kill switch {'TRIPPED' if risk.kill_switch else 'off'}; "
             f"new entries {'blocked by ' + blocked if blocked else 'allowed'}."]
    if risk.reason:
        lines.append(f"Reason: {risk.reason}")
    if snapshot is None:
        lines.append("Broker: no answer.")
    else:
        account = snapshot.account
        state = "connected" if snapshot.connected else "DISCONNECTED"
        if account is not None:
            lines.append(f"Broker {state}; balance {account.balance:,.2f}, equity "
                         f"{account.equity:,.2f} {currency}".rstrip() + "; "
                         f"{len(snapshot.positions)} open position(s).")
        else:
            lines.append(f"Broker {state}; no account yet.")
    if risk.day is not None:
        lines.append(f"Broker day {risk.day.broker_day}: {day_text(risk.day, currency)}.")
    return "\n".join(lines)


def positions_text(snapshot: Any, currency: str = "") -> str:
    if not snapshot.positions:
        return "No open positions."
    lines = [f"{len(snapshot.positions)} open position(s):"]
    for position in snapshot.positions[:_MAX_LISTED]:
        lines.append(f"#{position.ticket} {_SIDES.get(position.type, position.type)} "
                     f"{position.volume} {position.symbol} @ {position.price_open} → "
                     f"{position.price_current}; SL {position.sl or '—'}, TP "
                     f"{position.tp or '—'}; P&L {money(position.profit, currency)}")
    if len(snapshot.positions) > _MAX_LISTED:
        lines.append(f"… and {len(snapshot.positions) - _MAX_LISTED} more.")
    return "\n".join(lines)


def daily_text(risk: Any, tally: DayTally, currency: str = "") -> str:
    if risk.day is None:
        return "The RiskManager has no figures for the day yet."
    return (f"Broker day {risk.day.broker_day} so far: {day_text(risk.day, currency)}; "
            f"{tally.words(currency)}.")


def control_text(command: str, reply: Any) -> str:
    """``reply``: a ``ControlReply`` (HTTP-like status: 200 done, 409 not applicable, 503 not
    ready)."""
    state = f"mode {reply.mode}, kill switch {'TRIPPED' if reply.kill_switch else 'off'}"
    if reply.status == 200:
        detail = f" {reply.detail}" if reply.detail else ""
        return f"✅ {command}: done;{detail} ({state})."
    if reply.status == 503:
        return f"⏳ {command}: not now ({reply.detail}); try again."
    return f"✋ {command}: not done: {reply.detail} ({state})."
