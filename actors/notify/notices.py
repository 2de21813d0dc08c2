"""Which events become which notification, worded for a phone: pure, no actor, no I/O.

:class:`Notices` is fed the journal's events in seq order (plain dicts, as they travel) and
returns :class:`Notice` records to send. It remembers just enough to speak of changes rather
than states: the kill switch tripping or being reset, trading becoming blocked or open again,
the broker dropping or coming back. A closed trade waits for the Critic's review of it (at most
``review_wait_s``) so that its P&L and its lesson arrive as one message.
"""

from __future__ import annotations

from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any

__all__ = ["MAX_TEXT", "WATCHED_EVENTS", "Notice", "Notices", "money", "words_for"]

MAX_TEXT = 4000  # Telegram refuses a message longer than 4096 characters
WATCHED_EVENTS = ("TRADE_EXECUTION", "POSITION_CLOSED", "CRITIC_REVIEW", "RISK_STATE",
                  "BROKER_STATUS", "ACTOR_RESTARTED")
_REMEMBERED = 1000  # closed trades and early reviews held at most
# What a blocking denial code means to a person (``/api/risk``'s ``blocked_by``).
_WORDS = {"MODE_HALTED": "halted", "MODE_REDUCING": "reducing only", "PAUSED": "paused",
          "KILL_SWITCH": "kill switch", "DAILY_LOSS_LIMIT": "daily loss limit",
          "DAILY_TRADE_LIMIT": "daily trade limit"}
_NOT_A_BLOCK = "MISSING_INPUT"  # waiting for the first account figures: not worth a message
_BROKER_DOWN = {"disconnected": "disconnected", "degraded": "degraded",
                "auth_failed": "refused the login"}


@dataclass(frozen=True, slots=True)
class Notice:
    """One message: ``kind`` says what it is about (for webhooks and filters), ``data`` is
    the event or figures it was made from."""

    kind: str
    text: str
    data: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if len(self.text) > MAX_TEXT:
            object.__setattr__(self, "text", self.text[: MAX_TEXT - 1] + "…")


def money(value: Any, currency: str = "") -> str:
    """``+12.34 USD`` / ``-5.00``: a signed amount with two decimals."""
    try:
        amount = float(value)
    except (TypeError, ValueError):
        return "?"
    return f"{amount:+,.2f}" + (f" {currency}" if currency else "")


def words_for(codes: Any) -> str:
    return ", ".join(_WORDS.get(str(code), str(code).lower().replace("_", " "))
                     for code in codes or ())


def _ticket(event: dict[str, Any]) -> str:
    ticket = event.get("ticket")
    return f"#{ticket}" if ticket is not None else "#?"


def _by(event: dict[str, Any]) -> str:
    strategy = event.get("strategy")
    return f", {strategy}" if strategy else ""


@dataclass(slots=True)
class _Closed:
    event: dict[str, Any]
    due: float


class Notices:
    """Events in, notices out. ``now`` is any monotonic clock; only differences matter."""

    def __init__(self, review_wait_s: float = 120.0) -> None:
        self.review_wait_s = review_wait_s
        self.currency = ""
        self._kill_switch: bool | None = None
        self._blocked: tuple[str, ...] | None = None
        self._broker_state: str | None = None
        self._closed: OrderedDict[Any, _Closed] = OrderedDict()
        self._early_reviews: OrderedDict[Any, dict[str, Any]] = OrderedDict()
        self._sent_without_lesson: OrderedDict[Any, None] = OrderedDict()

    # --- the daemon's own ---------------------------------------------------------------------

    @staticmethod
    def started(version: str, broker: str, strategies: tuple[str, ...], restarted: bool) -> Notice:
        if restarted:
            return Notice("notifier_restarted", "♻ The notifier restarted; notifications go on.")
        names = ", ".join(strategies) or "Confluence"
        return Notice("start", f"▶ Ensemble {version} started: broker {broker}, strategies "
                      f"{names}.", {"version": version, "broker": broker,
                                   "strategies": list(strategies)})

    @staticmethod
    def stopping() -> Notice:
        return Notice("stop", "⏹ Ensemble is stopping.")

    # --- events -------------------------------------------------------------------------------

    def feed(self, event: dict[str, Any], now: float) -> list[Notice]:
        kind = event.get("type")
        if kind == "TRADE_EXECUTION":
            return [self._execution(event)]
        if kind == "POSITION_CLOSED":
            return self._position_closed(event, now)
        if kind == "CRITIC_REVIEW":
            return self._review(event, now)
        if kind == "RISK_STATE":
            return self._risk(event)
        if kind == "BROKER_STATUS":
            return self._broker(event)
        if kind == "ACTOR_RESTARTED":
            return [Notice("actor_restarted",
                           f"♻ {event.get('name')} restarted (restart {event.get('restarts')}): "
                           f"{event.get('reason') or 'no reason given'}", event)]
        return []

    def due(self, now: float) -> list[Notice]:
        """Closed trades whose review did not come in time, sent without a lesson."""
        out = []
        for ticket, held in list(self._closed.items()):
            if held.due > now:
                break  # held in arrival order, so the rest are due later
            del self._closed[ticket]
            self._remember(self._sent_without_lesson, ticket, None)
            out.append(self._closed_notice(held.event, None))
        return out

    def _execution(self, event: dict[str, Any]) -> Notice:
        return Notice("execution", f"✅ Executed {event.get('direction')} {event.get('lot')} "
                      f"{event.get('symbol')} @ {event.get('price')} ({_ticket(event)}"
                      f"{_by(event)})", event)

    def _position_closed(self, event: dict[str, Any], now: float) -> list[Notice]:
        ticket = event.get("ticket")
        review = self._early_reviews.pop(ticket, None)
        if review is not None:
            return [self._closed_notice(event, review)]
        self._closed.pop(ticket, None)
        self._remember(self._closed, ticket, _Closed(event, now + self.review_wait_s))
        return [] if self.review_wait_s > 0 else self.due(now)

    def _review(self, event: dict[str, Any], now: float) -> list[Notice]:
        ticket = event.get("ticket")
        held = self._closed.pop(ticket, None)
        if held is not None:
            return [self._closed_notice(held.event, event)]
        if ticket in self._sent_without_lesson:
            del self._sent_without_lesson[ticket]
            return [Notice("review", f"🧐 Critic on {event.get('symbol')} {_ticket(event)} "
                           f"(score {event.get('score')}/10): {event.get('lesson')}", event)]
        self._remember(self._early_reviews, ticket, event)
        return []

    def _closed_notice(self, event: dict[str, Any], review: dict[str, Any] | None) -> Notice:
        text = (f"💰 Closed {event.get('direction')} {event.get('volume')} {event.get('symbol')} "
                f"{_ticket(event)}{_by(event)}: {money(event.get('profit'), self.currency)} "
                f"({event.get('entry_price')} → {event.get('exit_price')})")
        data = dict(event)
        if review is not None:
            text += f"\n🧐 Critic (score {review.get('score')}/10): {review.get('lesson')}"
            data["review"] = {key: review.get(key) for key in ("score", "lesson", "analysis")}
        return Notice("trade_closed", text, data)

    def _risk(self, event: dict[str, Any]) -> list[Notice]:
        out = []
        kill = bool(event.get("kill_switch"))
        reason = event.get("reason") or ""
        if kill != bool(self._kill_switch) and (kill or self._kill_switch is not None):
            out.append(Notice("kill_switch", f"🛑 KILL SWITCH tripped: {reason}. No new entries "
                              "until it is reset (dashboard or API)." if kill else
                              "✅ Kill switch reset.", event))
        self._kill_switch = kill
        blocked = tuple(code for code in event.get("blocked_by") or ()
                        if code not in (_NOT_A_BLOCK, "KILL_SWITCH"))
        previous = self._blocked
        self._blocked = blocked
        if blocked and blocked != previous:
            out.append(Notice("blocked", f"⛔ New entries blocked: {words_for(blocked)} (mode "
                              f"{event.get('mode')}{'; ' + reason if reason else ''})", event))
        elif not blocked and previous:
            out.append(Notice("unblocked", f"▶ Trading open again (mode {event.get('mode')}).",
                              event))
        return out

    def _broker(self, event: dict[str, Any]) -> list[Notice]:
        if event.get("currency"):
            self.currency = str(event["currency"])
        state = str(event.get("state") or "")
        previous, self._broker_state = self._broker_state, state
        if state == previous:
            return []
        detail = f": {event['detail']}" if event.get("detail") else ""
        if state in _BROKER_DOWN:
            return [Notice("broker", f"⚠ Broker {event.get('kind')} "
                           f"{_BROKER_DOWN[state]}{detail}", event)]
        if state == "connected" and previous in _BROKER_DOWN:
            return [Notice("broker", f"✅ Broker {event.get('kind')} connected again.",
                           event)]
        return []

    @staticmethod
    def _remember(store: OrderedDict[Any, Any], key: Any, value: Any) -> None:
        store[key] = value
        while len(store) > _REMEMBERED:
            store.popitem(last=False)
