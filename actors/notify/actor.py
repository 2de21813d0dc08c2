"""The Notifier actor: reads the event journal, tells Telegram and the webhooks what matters,
and carries out Telegram commands on the REST API's control path.

Thin by design: :mod:`actors.notify.notices` decides which event becomes which message,
:mod:`~actors.notify.commands` what a command means (and holds the confirmations),
:mod:`~actors.notify.daily` when a broker day ended, :mod:`~actors.notify.replies` the
wording of answers; :mod:`~actors.notify.channels` does the sending and polling on a thread of
its own, so this actor creates no child actors (DESIGN.md §1).

Events come from ``events.db`` (read-only, like the web front's replay), from the seq at which
the notifier started; a restarted notifier goes on from the seq it last handled (saved in
``<data-dir>/notify.cursor``). Controls are :class:`~messages.trading.ControlCommand` to the
RiskManager, exactly what ``POST /api/control/{command}`` sends; queries ask the RiskManager
(``RiskStatus``) and the broker (``BrokerSnapshot``), as ``/api/risk`` and the snapshots do.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thespian.actors import WatchMessage

from actors.broadcaster.journal import EVENTS_FILE, JournalReader
from actors.notify.channels import (
    Inbox,
    Incoming,
    NotifierLoop,
    TelegramTarget,
    WebhookTarget,
    quiet_http_logs,
)
from actors.notify.commands import ChatReply, CommandDesk, Control, Ignore, Query
from actors.notify.daily import DayWatch
from actors.notify.notices import WATCHED_EVENTS, Notice, Notices
from actors.notify.outbox import RetryPolicy
from actors.notify.replies import control_text, daily_text, positions_text, status_text
from actors.runtime.base import EnsembleActor, handles
from actors.runtime.distribution import version
from messages.trading import (
    BrokerSnapshot,
    BrokerSnapshotRequest,
    ControlCommand,
    ControlReply,
    RiskDay,
    RiskStatus,
    RiskStatusRequest,
)

__all__ = ["CURSOR_FILE", "NotifierActor"]

CURSOR_FILE = "notify.cursor"
JOURNAL_POLL_S = 0.5
DUE_CHECK_S = 1.0
ASK_TIMEOUT_S = 10.0
CATCH_UP_LIMIT = 5000  # events a restarted notifier goes back at most
STOP_FLUSH_S = 2.0


@dataclass(frozen=True, slots=True)
class _ReadJournal:
    pass


@dataclass(frozen=True, slots=True)
class _CheckDay:
    pass


class NotifierActor(EnsembleActor):
    role = "Notifier"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.inbox: Inbox | None = None
        self.channels: NotifierLoop | None = None
        self.journal: JournalReader | None = None
        self.cursor = 0
        self.notices = Notices()
        self.day = DayWatch()
        self.desk: CommandDesk | None = None
        self._cursor_path: Path | None = None
        self._saved_cursor = 0
        self._due_at = 0.0

    # --- lifecycle ----------------------------------------------------------------------------

    def on_configure(self) -> None:
        notify = self.settings.notify
        telegram = notify.telegram
        target = None
        if telegram.enabled:
            target = TelegramTarget(os.environ.get(telegram.token_env, "").strip(),
                                    telegram.api_base_url, tuple(telegram.chat_ids),
                                    telegram.poll_timeout_s)
            if not target.token:
                self.log.error("no Telegram bot token: the environment variable is empty",
                               variable=telegram.token_env)
                target = None
        hooks = []
        for index, hook in enumerate(notify.webhooks):
            url = hook.resolved_url(os.environ)
            if url is None:
                self.log.error("a webhook has no URL: its environment variable is empty",
                               webhook=index, variable=hook.url_env)
                continue
            hooks.append(WebhookTarget(url, hook.format))
        self.notices = Notices(notify.review_wait_s)
        self.desk = CommandDesk(tuple(telegram.chat_ids), telegram.confirm_timeout_s)
        self.inbox = Inbox()
        self.channels = NotifierLoop(
            target, tuple(hooks), self.inbox, notify.queue_limit,
            RetryPolicy(notify.retry_attempts, notify.retry_initial_s, notify.retry_max_s),
            started_at=time.time())
        quiet_http_logs(self.channels.secrets)
        self._open_journal()
        self.channels.start()
        self.channels.ready.wait(5.0)
        self.channels.send(Notices.started(version(), str(self.settings.broker.kind),
                                           self._strategies(), restarted=self.incarnation > 1))
        self.log.info("notifier started", telegram_chats=len(target.chat_ids) if target else 0,
                      webhooks=len(hooks), from_seq=self.cursor)
        self.after(JOURNAL_POLL_S, _ReadJournal())
        self.after(0.0, _CheckDay())

    def _strategies(self) -> tuple[str, ...]:
        names = []
        for spec in self.settings.strategy.plugins:
            names.append(str(spec).rsplit(":", 1)[-1])
        return tuple(names)

    def _open_journal(self) -> None:
        data_path = self.settings.data_path
        self.journal = JournalReader(data_path / EVENTS_FILE)
        last = self.journal.last_seq()
        for _, _, text in self.journal.latest_of_type("BROKER_STATUS", 1):
            with contextlib.suppress(ValueError, AttributeError):
                self.notices.currency = str(json.loads(text).get("currency") or "")
        self._cursor_path = data_path / CURSOR_FILE
        self.cursor = last
        if self.incarnation > 1:  # go on from where the last notifier stopped
            with contextlib.suppress(OSError, ValueError, TypeError):
                saved = int(json.loads(self._cursor_path.read_text())["seq"])
                self.cursor = max(min(saved, last), last - CATCH_UP_LIMIT)
        self._save_cursor()

    def _save_cursor(self) -> None:
        if self._cursor_path is None or self.cursor == self._saved_cursor:
            return
        temporary = self._cursor_path.with_suffix(".tmp")
        temporary.write_text(json.dumps({"seq": self.cursor}))
        temporary.replace(self._cursor_path)
        self._saved_cursor = self.cursor

    def on_stop(self) -> None:
        if self.channels is not None:
            if not self._crashed:
                self.channels.send(Notices.stopping())
            self.channels.stop(STOP_FLUSH_S)
            self.channels = None
        if self.journal is not None:
            self.journal.close()
            self.journal = None
        if self.inbox is not None:
            self.inbox.close()
            self.inbox = None

    def watched_fds(self) -> list[int]:
        return [self.inbox.fileno()] if self.inbox is not None else []

    def _send(self, notices: list[Notice]) -> None:
        if self.channels is None:
            return
        for notice in notices:
            if notice.kind == "trade_closed":
                self.day.closed(notice.data.get("profit"))
            self.channels.send(notice)

    def _reply(self, chat_id: int, text: str) -> None:
        if self.channels is not None:
            self.channels.reply(chat_id, text)

    # --- events -------------------------------------------------------------------------------

    @handles(_ReadJournal)
    def _on_read_journal(self, message: _ReadJournal, sender: Any) -> None:
        try:
            if self.journal is None:
                return
            now = time.monotonic()
            for seq, _, text in self.journal.texts_after(self.cursor, 500, WATCHED_EVENTS):
                self.cursor = seq
                try:
                    event = json.loads(text)
                except ValueError:
                    continue
                self._send(self.notices.feed(event, now))
            self._send(self.notices.due(now))
            self._save_cursor()
        finally:
            self.after(JOURNAL_POLL_S, _ReadJournal())

    @handles(_CheckDay)
    def _on_check_day(self, message: _CheckDay, sender: Any) -> None:
        self.ask_peer("risk", RiskStatusRequest, self._on_day_status, ASK_TIMEOUT_S)
        self.after(self.settings.notify.status_poll_s, _CheckDay())

    def _on_day_status(self, status: RiskStatus) -> None:
        day = status.day
        if not status.loaded or day is None:
            return
        if self.day.day is not None and day.broker_day != self.day.day:
            # The day ended: the summary carries the account's equity as it is now.
            self.ask_peer("broker", BrokerSnapshotRequest,
                          lambda snapshot: self._summarise(day, snapshot), ASK_TIMEOUT_S,
                          lambda: self._summarise(day, None))
            return
        self.day.observe(day)

    def _summarise(self, day: RiskDay, snapshot: BrokerSnapshot | None) -> None:
        account = snapshot.account if snapshot is not None else None
        notice = self.day.observe(day, account.equity if account is not None else None,
                                  self.notices.currency)
        if notice is not None:
            self._send([notice])

    # --- commands -----------------------------------------------------------------------------

    @handles(WatchMessage)
    def _on_wake(self, message: WatchMessage, sender: Any) -> None:
        if self.inbox is None or self.desk is None:
            return
        for incoming in self.inbox.drain():
            self._command(incoming)

    def _command(self, incoming: Incoming) -> None:
        assert self.desk is not None
        action = self.desk.handle(incoming.chat_id, incoming.update_id, incoming.text,
                                  time.monotonic())
        if isinstance(action, Ignore):
            if action.report:
                self.log.warning("Telegram command ignored (reported once per chat)",
                                 reason=action.reason)
        elif isinstance(action, ChatReply):
            self._reply(action.chat_id, action.text)
        elif isinstance(action, Control):
            self._control(action)
        elif isinstance(action, Query):
            self._query(action)

    def _control(self, action: Control) -> None:
        command = action.command
        self.ask_peer(
            "risk", lambda rid: ControlCommand(rid, command, action.op_id, "telegram"),
            lambda reply: self._reply(action.chat_id, control_text(command, reply))
            if isinstance(reply, ControlReply) else None,
            ASK_TIMEOUT_S,
            lambda: self._reply(action.chat_id, f"⏳ {command}: the RiskManager did not answer "
                                "(starting or restarting); try again."))

    def _query(self, action: Query) -> None:
        chat_id = action.chat_id
        currency = self.notices.currency
        no_answer = f"⏳ /{action.what}: no answer (starting or restarting); try again."

        def unanswered() -> None:
            self._reply(chat_id, no_answer)

        if action.what == "positions":
            self.ask_peer("broker", BrokerSnapshotRequest,
                          lambda snapshot: self._reply(chat_id, positions_text(snapshot,
                                                                               currency)),
                          ASK_TIMEOUT_S, unanswered)
        elif action.what == "daily":
            self.ask_peer("risk", RiskStatusRequest,
                          lambda risk: self._reply(chat_id, daily_text(risk, self.day.tally,
                                                                       currency)),
                          ASK_TIMEOUT_S, unanswered)
        else:
            def with_broker(risk: RiskStatus) -> None:
                self.ask_peer("broker", BrokerSnapshotRequest,
                              lambda snapshot: self._reply(chat_id, status_text(risk, snapshot,
                                                                                currency)),
                              ASK_TIMEOUT_S,
                              lambda: self._reply(chat_id, status_text(risk, None, currency)))

            self.ask_peer("risk", RiskStatusRequest, with_broker, ASK_TIMEOUT_S, unanswered)
