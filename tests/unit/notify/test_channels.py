"""The notifier's sending and polling against real local servers: a fake Telegram Bot API
server spoken to through python-telegram-bot, and a webhook receiver."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from actors.notify.channels import (
    Inbox,
    NotifierLoop,
    TelegramTarget,
    WebhookTarget,
    quiet_http_logs,
    redact,
)
from actors.notify.notices import Notice
from actors.notify.outbox import RetryPolicy
from tests.support.notify_servers import FakeTelegram, FakeWebhook

TOKEN = "123456:TEST-token-that-must-not-leak"
CHAT = 1001
FAST_RETRY = RetryPolicy(attempts=3, initial_s=0.01, max_s=0.05)


@pytest.fixture
def telegram_server() -> Iterator[FakeTelegram]:
    server = FakeTelegram(TOKEN).start()
    yield server  # type: ignore[misc]
    server.stop()


@pytest.fixture
def webhook_server() -> Iterator[FakeWebhook]:
    server = FakeWebhook().start()
    yield server  # type: ignore[misc]
    server.stop()


def _loop(telegram_server: FakeTelegram | None, hooks: tuple[WebhookTarget, ...] = (),
          token: str = TOKEN, limit: int = 50, started_at: float = 0.0) -> NotifierLoop:
    target = None if telegram_server is None else TelegramTarget(
        token, telegram_server.base_url, (CHAT, 1002), poll_timeout_s=1.0)
    loop = NotifierLoop(target, hooks, Inbox(), limit, FAST_RETRY, started_at=started_at)
    loop.start()
    assert loop.ready.wait(5)
    return loop


def test_a_notice_goes_to_every_allowed_chat_and_the_commands_menu_is_set(telegram_server):
    loop = _loop(telegram_server)
    try:
        loop.send(Notice("execution", "✅ Executed BUY 0.1 EURUSD"))
        telegram_server.wait_for(lambda: len(telegram_server.sent) == 2, what="two messages")
        assert {m["chat_id"] for m in telegram_server.sent} == {CHAT, 1002}
        assert telegram_server.texts(CHAT) == ["✅ Executed BUY 0.1 EURUSD"]
        names = [c["command"] for c in telegram_server.commands]
        assert names == ["status", "positions", "daily", "pause", "resume", "killswitch",
                         "closeall"]
    finally:
        loop.stop()


def test_commands_arrive_in_the_inbox_in_order_and_are_confirmed(telegram_server):
    loop = _loop(telegram_server)
    try:
        first = telegram_server.user_says(CHAT, "/status")
        second = telegram_server.user_says(555, "/pause")
        received = []
        telegram_server.wait_for(lambda: received.extend(loop.inbox.drain()) or
                                 len(received) == 2, what="two commands")
        assert [(i.update_id, i.chat_id, i.text) for i in received] == [
            (first, CHAT, "/status"), (second, 555, "/pause")]
        telegram_server.wait_for(lambda: telegram_server.confirmed >= second,
                                 what="the updates confirmed")
        loop.reply(CHAT, "answer")
        telegram_server.wait_for(lambda: telegram_server.texts(CHAT) == ["answer"],
                                 what="the reply")
    finally:
        loop.stop()


def test_messages_sent_before_the_notifier_started_are_not_carried_out(telegram_server):
    telegram_server.user_says(CHAT, "/closeall")
    loop = _loop(telegram_server, started_at=4_000_000_000.0)  # "started" in the future
    try:
        telegram_server.user_says(CHAT, "/pause")
        telegram_server.wait_for(lambda: telegram_server.confirmed >= 1002,
                                 what="both updates read")
        assert loop.inbox.drain() == []
    finally:
        loop.stop()


def test_flood_control_and_server_errors_are_retried_bad_requests_are_not(telegram_server):
    telegram_server.fail_sends = [
        (429, {"ok": False, "error_code": 429, "description": "Too Many Requests",
               "parameters": {"retry_after": 1}}),
        (502, {"ok": False, "error_code": 502, "description": "Bad Gateway"}),
    ]
    telegram_server.refused_texts = {"refused"}
    loop = _loop(telegram_server)
    try:
        loop.reply(CHAT, "retried")  # 429, then 502, then sent
        loop.reply(CHAT, "refused")  # 400: given up at once
        loop.reply(CHAT, "after")
        telegram_server.wait_for(lambda: telegram_server.texts(CHAT) == ["retried", "after"],
                                 what="the retried message and the next one")
        assert loop._senders["telegram"].given_up == 1
        assert telegram_server.calls.count("sendMessage") == 5  # 3 + 1 + 1
    finally:
        loop.stop()


def test_a_refused_token_gives_up_cleanly_and_never_shows_the_token(telegram_server, caplog):
    quiet_http_logs((TOKEN + "x",))
    with caplog.at_level(logging.DEBUG):
        loop = _loop(telegram_server, token=TOKEN + "x")
        try:
            loop.reply(CHAT, "lost")
            telegram_server.wait_for(lambda: loop._senders["telegram"].given_up == 1,
                                     what="the message given up")
            assert telegram_server.sent == [] and "getUpdates" not in telegram_server.calls
        finally:
            loop.stop()
    assert TOKEN not in caplog.text


def test_the_queue_is_bounded_and_says_what_it_dropped(telegram_server):
    loop = _loop(telegram_server, limit=2)
    try:
        telegram_server.hold()
        loop.reply(CHAT, "m0")
        telegram_server.wait_for(lambda: telegram_server.held == 1, what="m0 in flight")
        for index in range(1, 6):  # while m0 is on its way, five more for a queue of two
            loop.reply(CHAT, f"m{index}")
        sender = loop._senders["telegram"]
        telegram_server.wait_for(lambda: sender.outbox.dropped == 3, timeout=5,
                                 what="three dropped")
        telegram_server.release()
        telegram_server.wait_for(lambda: len(telegram_server.sent) == 3, what="the sends")
        assert telegram_server.texts(CHAT) == [
            "m0", "(3 earlier notification(s) dropped: the queue was full)\nm4", "m5"]
    finally:
        loop.stop()


def test_webhooks_get_json_in_their_format_and_5xx_is_retried(webhook_server):
    webhook_server.statuses = [503]
    hooks = (WebhookTarget(webhook_server.url, "generic"),
             WebhookTarget(webhook_server.url, "slack"),
             WebhookTarget(webhook_server.url, "discord"))
    loop = _loop(None, hooks)
    try:
        loop.send(Notice("kill_switch", "🛑 KILL SWITCH tripped", {"mode": "HALTED"}))
        webhook_server.wait_for(lambda: len(webhook_server.bodies) == 3, what="three posts")
        by_shape = {tuple(sorted(body)): body for body in webhook_server.bodies}
        generic = by_shape[("dropped", "event", "kind", "sent_at", "text")]
        assert generic["kind"] == "kill_switch" and generic["event"] == {"mode": "HALTED"}
        assert by_shape[("text",)] == {"text": "🛑 KILL SWITCH tripped"}
        assert by_shape[("content",)] == {"content": "🛑 KILL SWITCH tripped"}
    finally:
        loop.stop()
    assert "s3cret-path" not in hooks[0].where


def test_redact_replaces_every_secret() -> None:
    assert redact(f"POST /bot{TOKEN}/sendMessage", (TOKEN, "")) == "POST /bot<secret>/sendMessage"
