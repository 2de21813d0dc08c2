"""Telegram commands: who may give them, what they mean, and the confirmation that the two
dangerous ones need. Pure: the actor carries out what :meth:`CommandDesk.handle` returns.

Only the configured chats are obeyed; anything from another chat is ignored without an
answer (a bot's name is public, its allowed chats are not). ``/pause`` and ``/resume`` act at
once; ``/killswitch`` and ``/closeall`` first answer with a code, and act only on ``/confirm
CODE`` from the same chat within the confirmation time. Any other command in between cancels
the pending one. Controls carry an ``op_id`` made from the Telegram update, so one that is
delivered twice applies once (the REST API's idempotency key, on the same control path).
"""

from __future__ import annotations

import random
from dataclasses import dataclass

__all__ = [
    "COMMANDS",
    "CONFIRMED",
    "ChatReply",
    "CommandDesk",
    "Control",
    "Ignore",
    "Query",
    "parse_command",
]

# Command → the REST API's control name (``POST /api/control/{name}``).
DIRECT = {"pause": "pause", "resume": "resume"}
CONFIRMED = {"killswitch": "kill-switch", "closeall": "close-all"}
QUERIES = ("status", "positions", "daily")
COMMANDS = (*QUERIES, *DIRECT, *CONFIRMED, "confirm", "help")
_WHAT = {"kill-switch": "trip the kill switch (no new entries until it is reset from the "
                        "dashboard or the API)",
         "close-all": "close every open position of Ensemble's at market"}
_STRANGERS_KEPT = 1000  # chats reported once each; past that, no more reports
HELP = ("Commands: /status, /positions, /daily, /pause, /resume, /killswitch, /closeall "
        "(the last two ask for /confirm).")


@dataclass(frozen=True, slots=True)
class Ignore:
    reason: str
    report: bool = True
    """False for a chat already reported: a stranger writing on must not flood the log."""


@dataclass(frozen=True, slots=True)
class ChatReply:
    chat_id: int
    text: str


@dataclass(frozen=True, slots=True)
class Query:
    chat_id: int
    what: str  # status | positions | daily


@dataclass(frozen=True, slots=True)
class Control:
    chat_id: int
    command: str  # the REST API's control name
    op_id: str


ChatAction = Ignore | ChatReply | Query | Control


def parse_command(text: str) -> tuple[str, list[str]] | None:
    """``/Pause@MyBot now`` → ``("pause", ["now"])``; None when it is not a command."""
    words = text.strip().split()
    if not words or not words[0].startswith("/") or len(words[0]) < 2:
        return None
    name = words[0][1:].split("@", 1)[0].lower()
    return name, words[1:]


@dataclass(frozen=True, slots=True)
class _Pending:
    command: str
    code: str
    expires_at: float


class CommandDesk:
    def __init__(self, allowed_chats: tuple[int, ...], confirm_timeout_s: float,
                 rng: random.Random | None = None) -> None:
        self.allowed = frozenset(allowed_chats)
        self.confirm_timeout_s = confirm_timeout_s
        self._rng = rng or random.SystemRandom()
        self._pending: dict[int, _Pending] = {}
        self._strangers: set[int] = set()

    def handle(self, chat_id: int, update_id: int, text: str, now: float) -> ChatAction:
        if chat_id not in self.allowed:
            first = chat_id not in self._strangers and len(self._strangers) < _STRANGERS_KEPT
            if first:
                self._strangers.add(chat_id)
            return Ignore(f"chat {chat_id} is not in notify.telegram.chat_ids", report=first)
        parsed = parse_command(text)
        if parsed is None:
            return ChatReply(chat_id, HELP)
        name, args = parsed
        pending = self._pending.pop(chat_id, None)
        if name == "confirm":
            return self._confirm(chat_id, update_id, pending, args, now)
        if name in DIRECT:
            return Control(chat_id, DIRECT[name], f"telegram-{update_id}")
        if name in CONFIRMED:
            command = CONFIRMED[name]
            code = f"{self._rng.randrange(10_000):04d}"
            self._pending[chat_id] = _Pending(command, code, now + self.confirm_timeout_s)
            return ChatReply(chat_id, f"⚠ This will {_WHAT[command]}. To go ahead, send /confirm "
                         f"{code} within {self.confirm_timeout_s:g} s; anything else cancels.")
        if name in QUERIES:
            return Query(chat_id, name)
        return ChatReply(chat_id, HELP)

    def _confirm(self, chat_id: int, update_id: int, pending: _Pending | None,
                 args: list[str], now: float) -> ChatAction:
        if pending is None:
            return ChatReply(chat_id, "Nothing to confirm: send /killswitch or /closeall first.")
        if now > pending.expires_at:
            return ChatReply(chat_id, "That confirmation expired; nothing was done.")
        if args[:1] != [pending.code]:
            return ChatReply(chat_id, "That is not the code; nothing was done.")
        return Control(chat_id, pending.command, f"telegram-{update_id}")
