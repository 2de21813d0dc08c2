"""Where trading stands: what stops new entries now, and the day's numbers, for a person.

The RiskManager answers ``GET /api/risk`` and announces RISK_STATE from these. Only the
account-wide rules count as blocking (mode, pause, kill switch, the day's loss, the day's trade
count): a symbol's spread or a correlation is a reason for one candidate, not for the account.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime

from actors.risk.reservations import Ledger
from actors.risk.rules import (
    RiskParams,
    check_daily_loss,
    check_daily_trade_count,
    check_day_stopped,
    check_kill_switch,
    check_trading_mode,
    daily_loss_limit,
    open_risk_money,
    realised_today,
)
from actors.risk.state import RiskState, broker_day
from messages.risk import PreScanInput
from messages.trading import RiskDay

__all__ = ["ACCOUNT_RULES", "Standing", "account_after_deals", "standing"]

ACCOUNT_RULES = (check_trading_mode, check_kill_switch, check_daily_loss, check_day_stopped,
                 check_daily_trade_count)

# What the dashboard header says for each blocking code.
_WORDS = {
    "MODE_HALTED": "halted", "MODE_REDUCING": "reducing only", "PAUSED": "paused",
    "KILL_SWITCH": "kill switch", "DAILY_LOSS_LIMIT": "daily loss limit",
    "DAILY_TRADE_LIMIT": "daily trade limit", "MISSING_INPUT": "waiting for the account",
    "DAY_STOPPED": "day stopped (loss beyond a stop)",
}


@dataclass(frozen=True, slots=True)
class Standing:
    blocked_by: tuple[str, ...]
    """The denial codes now stopping new entries (empty when none)."""
    day: RiskDay | None

    @property
    def words(self) -> str:
        return _words(self.blocked_by)

    @property
    def gating(self) -> tuple[str, ...]:
        """What the strategies are told to stop for. Not MISSING_INPUT: the account's figures
        come with the strategies' own requests, which every order's rules check anyway."""
        return tuple(code for code in self.blocked_by if code != "MISSING_INPUT")

    @property
    def gating_words(self) -> str:
        return _words(self.gating)


def _words(codes: tuple[str, ...]) -> str:
    return ", ".join(_WORDS.get(code, code.lower()) for code in codes)


def account_after_deals(market: PreScanInput | None, floating_pnl: float | None,
                        open_tickets: tuple[int, ...] | None) -> PreScanInput | None:
    """The latest account as the poll that read new deals saw it: its floating P&L, and
    without the positions those deals closed (their loss is realised now, and counted
    there)."""
    if market is None or floating_pnl is None:
        return market
    exposures = market.exposures
    if exposures is not None and open_tickets is not None:
        still_open = set(open_tickets)
        exposures = tuple(e for e in exposures if e.ticket is None or e.ticket in still_open)
    return replace(market, floating_pnl=floating_pnl, exposures=exposures)


def standing(state: RiskState, rules: RiskParams, ledger: Ledger,
             market: PreScanInput | None, now: float) -> Standing:
    """The account-wide blocks and the day's figures as of ``now`` (UTC), judged on the latest
    account the RiskManager has seen (``market``: None before the first scan)."""
    balance = market.balance if market is not None else None
    # The rules at ``now``, not at that account's time: a day stop ends with its broker day
    # even when no scan has come since (a blocked strategy sends none).
    probe = replace(market, now=now) if market is not None else PreScanInput(
        symbol="", now=now, bid=None, ask=None, spec=None, exposures=None, floating_pnl=None,
        news_blackout=None)
    blocked: list[str] = []
    for rule in ACCOUNT_RULES:
        verdict = rule(probe, state, rules)
        if not verdict.allowed and verdict.code is not None and str(verdict.code) not in blocked:
            blocked.append(str(verdict.code))
    exposures = tuple(market.exposures or ()) if market is not None else ()
    try:
        open_risk = round(open_risk_money(exposures), 2)
    except ValueError:
        open_risk = None  # an exposure without its stop or tick values: unknown, not zero
    limit = daily_loss_limit(rules, balance)
    realised = round(realised_today(state, now, rules), 2)
    reserved = round(ledger.reserved_money, 2)
    remaining = None
    if limit is not None and open_risk is not None:
        remaining = round(max(0.0, limit + min(0.0, realised) - open_risk - reserved), 2)
    day = datetime.fromtimestamp(broker_day(now, rules.counters) * 86_400, UTC).date()
    return Standing(tuple(blocked), RiskDay(
        broker_day=day.isoformat(), realised=realised, open_risk=open_risk, reserved=reserved,
        loss_limit=None if limit is None else round(limit, 2), remaining=remaining,
        trades=state.day_trade_count))
