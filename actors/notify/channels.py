"""The notifier's I/O: a thread with its own asyncio loop that sends to Telegram and to the
webhooks and long-polls Telegram for commands. It decides nothing.

* actor → loop: :meth:`NotifierLoop.send` and :meth:`NotifierLoop.reply` cross with
  ``call_soon_threadsafe`` into one bounded :class:`~actors.notify.outbox.Outbox` per channel;
  each channel's sender task tries a message up to ``notify.retry_attempts`` times, with
  backoff (a server's ``retry_after`` wins), and gives up on an answer that retrying cannot
  change (a 4xx other than 429).
* loop → actor: each command received is put on :class:`Inbox` and a byte is written to a
  socketpair the actor watches (``ThespianWatch``), as the web front's bridge does.

Telegram is spoken through python-telegram-bot's :class:`telegram.Bot` (its request layer,
error classes and Bot API types), not its ``Application``: polling and sending are two small
tasks here, so the actor keeps the decisions and nothing else runs a loop of its own. The
token is in the Bot API's URLs, so every text this module logs goes through :func:`redact`,
and httpx's request log (which prints URLs) is kept below INFO in this process.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import queue
import socket
import sys
import threading
import time
import warnings
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import aiohttp
import telegram
from telegram import error as tg_error
from telegram.request import HTTPXRequest

from actors.notify.notices import Notice
from actors.notify.outbox import Outbox, RetryPolicy, retry_delay
from actors.runtime.brief import brief_error
from actors.runtime.logs import get_logger

__all__ = [
    "Inbox",
    "Incoming",
    "NotifierLoop",
    "TelegramTarget",
    "WebhookTarget",
    "quiet_http_logs",
    "redact",
]

log = get_logger("ensemble.notify")

BOT_COMMANDS = (("status", "mode, kill switch, account, the day"),
                ("positions", "open positions"), ("daily", "the broker day so far"),
                ("pause", "pause new entries"), ("resume", "resume new entries"),
                ("killswitch", "trip the kill switch (asks to confirm)"),
                ("closeall", "close every position (asks to confirm)"))
_WEBHOOK_TIMEOUT_S = 10.0
_HTTP_LOGGERS = ("httpx", "httpcore", "telegram")


def redact(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "<secret>")
    return text


class _Redacting(logging.Filter):
    def __init__(self, secrets: tuple[str, ...]) -> None:
        super().__init__()
        self.secrets = secrets

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = redact(message, self.secrets)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        return True


def quiet_http_logs(secrets: tuple[str, ...]) -> None:
    """httpx logs every request's URL at INFO, and python-telegram-bot its base URL at DEBUG;
    a Bot API URL holds the token. Those loggers are kept at WARNING and redact the secrets.
    They are found through the modules that log, not only by name: in a Thespian actor
    process ``logging.getLogger`` may hand out loggers of a newer manager than the one a
    library bound at import, which a level set by name would miss."""
    redacting = _Redacting(secrets)
    found: list[logging.Logger] = [logging.getLogger(name) for name in _HTTP_LOGGERS]
    for module_name, module in list(sys.modules.items()):
        if module is None or module_name.split(".")[0] not in _HTTP_LOGGERS:
            continue
        for value in list(vars(module).values()):
            if isinstance(value, logging.LoggerAdapter):
                value = value.logger
            if isinstance(value, logging.Logger):
                found.append(value)
    bot_logger = getattr(telegram.Bot, "_LOGGER", None)
    if isinstance(bot_logger, logging.Logger):
        found.append(bot_logger)
    for logger in {id(item): item for item in found}.values():
        logger.setLevel(logging.WARNING)
        logger.addFilter(redacting)
    for handler in logging.getLogger().handlers:
        handler.addFilter(redacting)


@dataclass(frozen=True, slots=True)
class Incoming:
    """A text message from a Telegram chat."""

    update_id: int
    chat_id: int
    text: str


class Inbox:
    """loop → actor: commands, and a wake-up byte on a socketpair the actor watches."""

    def __init__(self) -> None:
        self._reader, self._writer = socket.socketpair()
        self._reader.setblocking(False)
        self._writer.setblocking(False)
        self._items: queue.SimpleQueue[Incoming] = queue.SimpleQueue()

    def put(self, item: Incoming) -> None:
        self._items.put(item)
        with contextlib.suppress(BlockingIOError, OSError):
            self._writer.send(b"\0")

    def fileno(self) -> int:
        return self._reader.fileno()

    def drain(self) -> list[Incoming]:
        with contextlib.suppress(BlockingIOError, OSError):
            while self._reader.recv(4096):
                pass
        out: list[Incoming] = []
        while True:
            try:
                out.append(self._items.get_nowait())
            except queue.Empty:
                return out

    def close(self) -> None:
        self._reader.close()
        self._writer.close()


@dataclass(frozen=True, slots=True)
class TelegramTarget:
    token: str
    api_base_url: str
    chat_ids: tuple[int, ...]
    poll_timeout_s: float


@dataclass(frozen=True, slots=True)
class WebhookTarget:
    url: str
    format: str

    @property
    def where(self) -> str:
        """The URL without its path (which, for Discord and Slack, is the secret)."""
        scheme, _, rest = self.url.partition("://")
        return f"{scheme}://{rest.split('/', 1)[0]}/…"


class _Retry(Exception):
    def __init__(self, why: str, retry_after: float | None = None) -> None:
        super().__init__(why)
        self.retry_after = retry_after


class _GiveUp(Exception):
    pass


class _Sender:
    """One channel's queue and the task that empties it, one message at a time."""

    def __init__(self, name: str, limit: int, policy: RetryPolicy,
                 deliver: Callable[[Any, int], Awaitable[None]],
                 secrets: tuple[str, ...]) -> None:
        self.name = name
        self.outbox: Outbox[Any] = Outbox(limit)
        self.policy = policy
        self.deliver = deliver
        self.secrets = secrets
        self.wake = asyncio.Event()
        self.idle = asyncio.Event()
        self.sent = 0
        self.given_up = 0

    def put(self, item: Any) -> None:
        self.outbox.put(item)
        self.idle.clear()
        self.wake.set()

    async def run(self) -> None:
        while True:
            item = self.outbox.take()
            if item is None:
                self.idle.set()
                self.wake.clear()
                await self.wake.wait()
                continue
            await self._send_one(item, self.outbox.take_dropped())

    async def _send_one(self, item: Any, dropped: int) -> None:
        attempt = 0
        while True:
            attempt += 1
            try:
                await self.deliver(item, dropped)
                self.sent += 1
                return
            except _GiveUp as error:
                self._give_up(str(error))
                return
            except _Retry as error:
                delay = retry_delay(self.policy, attempt, error.retry_after)
                if delay is None:
                    self._give_up(f"{error} (after {attempt} tries)")
                    return
                log.info("notification not sent; retrying", channel=self.name,
                         reason=redact(str(error), self.secrets), attempt=attempt,
                         delay_s=round(delay, 3))
                await asyncio.sleep(delay)
            except Exception as error:  # a bug must not stop every later notification
                self._give_up(f"unexpected {brief_error(error)}")
                return

    def _give_up(self, why: str) -> None:
        self.given_up += 1
        log.warning("notification given up", channel=self.name,
                    reason=redact(why, self.secrets)[:300])


def _with_dropped(text: str, dropped: int) -> str:
    if not dropped:
        return text
    return f"({dropped} earlier notification(s) dropped: the queue was full)\n{text}"


def _seconds(value: Any) -> float | None:
    if isinstance(value, timedelta):
        return value.total_seconds()
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


class NotifierLoop(threading.Thread):
    def __init__(self, telegram_target: TelegramTarget | None,
                 webhooks: tuple[WebhookTarget, ...], inbox: Inbox, queue_limit: int,
                 policy: RetryPolicy, started_at: float) -> None:
        super().__init__(name="notifier", daemon=True)
        self.telegram = telegram_target
        self.webhooks = webhooks
        self.inbox = inbox
        self.queue_limit = queue_limit
        self.policy = policy
        self.started_at = started_at
        self.secrets = tuple(s for s in ([telegram_target.token] if telegram_target else [])
                             + [hook.url for hook in webhooks] if s)
        self.loop = asyncio.new_event_loop()
        self.ready = threading.Event()
        self._senders: dict[str, _Sender] = {}
        self._stopping: asyncio.Event | None = None
        self._flush_s = 0.0
        self._bot: telegram.Bot | None = None
        self._bot_ready: asyncio.Event | None = None
        self._bot_refused = False

    # --- actor side -------------------------------------------------------------------------

    def send(self, notice: Notice) -> None:
        """To every Telegram chat and every webhook."""
        self._on_loop(self._enqueue_notice, notice)

    def reply(self, chat_id: int, text: str) -> None:
        """To one Telegram chat (an answer to its command)."""
        self._on_loop(self._enqueue_telegram, chat_id, text)

    def stop(self, flush_s: float = 2.0) -> None:
        """Send what is queued for at most ``flush_s``, then end the loop."""
        self._flush_s = flush_s
        if self._stopping is not None and self.loop.is_running():
            self.loop.call_soon_threadsafe(self._stopping.set)
        self.join(flush_s + 3.0)

    def _on_loop(self, function: Callable[..., None], *args: Any) -> None:
        if self.loop.is_running():
            with contextlib.suppress(RuntimeError):  # closing
                self.loop.call_soon_threadsafe(function, *args)

    # --- loop side --------------------------------------------------------------------------

    def run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_until_complete(self._main())
        except BaseException as error:
            log.error("the notifier's loop ended", reason=redact(brief_error(error),
                                                                 self.secrets))
        finally:
            self.ready.set()
            self.loop.close()

    async def _main(self) -> None:
        self._stopping = asyncio.Event()
        tasks: list[asyncio.Task[None]] = []
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(
                total=_WEBHOOK_TIMEOUT_S)) as session:
            if self.telegram is not None:
                self._bot_ready = asyncio.Event()
                self._bot = telegram.Bot(
                    self.telegram.token, base_url=f"{self.telegram.api_base_url}/bot",
                    base_file_url=f"{self.telegram.api_base_url}/file/bot",
                    request=HTTPXRequest(connection_pool_size=4, connect_timeout=10.0,
                                         read_timeout=15.0, write_timeout=15.0),
                    get_updates_request=HTTPXRequest(
                        connect_timeout=10.0, read_timeout=self.telegram.poll_timeout_s + 15.0))
                sender = _Sender("telegram", self.queue_limit, self.policy,
                                 self._deliver_telegram, self.secrets)
                self._senders["telegram"] = sender
                tasks += [asyncio.create_task(sender.run()),
                          asyncio.create_task(self._poll_telegram())]
            for index, hook in enumerate(self.webhooks):
                sender = _Sender(f"webhook {index} ({hook.where})", self.queue_limit,
                                 self.policy, self._webhook_delivery(session, hook),
                                 self.secrets)
                self._senders[f"webhook{index}"] = sender
                tasks.append(asyncio.create_task(sender.run()))
            self.ready.set()
            await self._stopping.wait()
            idle = [asyncio.create_task(s.idle.wait()) for s in self._senders.values()
                    if not s.idle.is_set()]
            if idle:
                await asyncio.wait(idle, timeout=self._flush_s)
            for task in [*tasks, *idle]:
                task.cancel()
            await asyncio.gather(*tasks, *idle, return_exceptions=True)
            if self._bot is not None:
                with contextlib.suppress(Exception):
                    await self._bot.shutdown()

    def _enqueue_notice(self, notice: Notice) -> None:
        if self.telegram is not None:
            for chat_id in self.telegram.chat_ids:
                self._enqueue_telegram(chat_id, notice.text)
        for index in range(len(self.webhooks)):
            self._senders[f"webhook{index}"].put(notice)

    def _enqueue_telegram(self, chat_id: int, text: str) -> None:
        sender = self._senders.get("telegram")
        if sender is not None:
            sender.put((chat_id, text))

    # --- Telegram ---------------------------------------------------------------------------

    async def _start_bot(self) -> bool:
        """getMe until it answers; False when the token is refused (nothing will work)."""
        assert self._bot is not None and self._bot_ready is not None
        attempt = 0
        while True:
            attempt += 1
            try:
                await self._bot.initialize()
                break
            except tg_error.InvalidToken:
                self._bot_refused = True
                self._bot_ready.set()
                log.error("Telegram refused the bot token: check notify.telegram.token_env; "
                          "Telegram notifications and commands are off")
                return False
            except tg_error.TelegramError as error:
                delay = min(self.policy.max_s, self.policy.initial_s * 2 ** min(attempt, 10))
                log.warning("Telegram does not answer yet", reason=redact(
                    brief_error(error), self.secrets), retry_in_s=delay)
                await asyncio.sleep(delay)
        self._bot_ready.set()
        with contextlib.suppress(tg_error.TelegramError):
            await self._bot.set_my_commands(
                [telegram.BotCommand(name, text) for name, text in BOT_COMMANDS])
        log.info("Telegram bot ready", bot=self._bot.username,
                 chats=len(self.telegram.chat_ids) if self.telegram else 0)
        return True

    async def _poll_telegram(self) -> None:
        assert self._bot is not None and self.telegram is not None
        if not await self._start_bot():
            return
        offset: int | None = None
        failures = 0
        while True:
            try:
                updates = await self._bot.get_updates(
                    offset=offset, timeout=int(self.telegram.poll_timeout_s),
                    allowed_updates=["message"])
                failures = 0
            except tg_error.InvalidToken:
                log.error("Telegram refused the bot token; commands are off")
                return
            except Exception as error:  # Telegram's errors, and anything unexpected: poll on
                failures += 1
                delay = min(self.policy.max_s, self.policy.initial_s * 2 ** min(failures, 10))
                log.warning("getUpdates failed", reason=redact(brief_error(error),
                                                               self.secrets), retry_in_s=delay)
                await asyncio.sleep(delay)
                continue
            for update in updates:
                offset = update.update_id + 1
                message = update.message
                if message is None or not message.text:
                    continue
                if message.date.timestamp() < int(self.started_at):
                    continue  # sent before this notifier started: not carried out now
                self.inbox.put(Incoming(update.update_id, message.chat.id, message.text))

    async def _deliver_telegram(self, item: tuple[int, str], dropped: int) -> None:
        assert self._bot is not None and self._bot_ready is not None
        await self._bot_ready.wait()
        if self._bot_refused:
            raise _GiveUp("the bot token was refused")
        chat_id, text = item
        try:
            await self._bot.send_message(chat_id, _with_dropped(text, dropped))
        except tg_error.RetryAfter as error:
            with warnings.catch_warnings():  # its type changes in a later major version
                warnings.simplefilter("ignore")
                retry_after = error.retry_after
            raise _Retry("flood control", _seconds(retry_after)) from None
        except (tg_error.BadRequest, tg_error.Forbidden, tg_error.InvalidToken,
                tg_error.ChatMigrated) as error:
            raise _GiveUp(f"chat {chat_id}: {brief_error(error)}") from None
        except tg_error.TelegramError as error:
            raise _Retry(brief_error(error)) from None

    # --- webhooks ---------------------------------------------------------------------------

    @staticmethod
    def _webhook_delivery(session: aiohttp.ClientSession, hook: WebhookTarget
                          ) -> Callable[[Notice, int], Awaitable[None]]:
        async def deliver(notice: Notice, dropped: int) -> None:
            text = _with_dropped(notice.text, dropped)
            if hook.format == "slack":
                body: dict[str, Any] = {"text": text}
            elif hook.format == "discord":
                body = {"content": text[:2000]}
            else:
                body = {"text": text, "kind": notice.kind, "event": notice.data,
                        "dropped": dropped, "sent_at": time.time()}
            try:
                async with session.post(hook.url, json=body) as response:
                    if 200 <= response.status < 300:
                        return
                    if response.status == 429 or response.status >= 500:
                        raise _Retry(f"HTTP {response.status}",
                                     _seconds(response.headers.get("Retry-After")))
                    raise _GiveUp(f"HTTP {response.status} from {hook.where}")
            except (TimeoutError, aiohttp.ClientError) as error:
                raise _Retry(f"{type(error).__name__} from {hook.where}") from None

        return deliver
