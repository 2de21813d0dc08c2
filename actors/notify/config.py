"""``[notify]``: where Ensemble's notifications go (Telegram, webhooks) and how they are sent.

Nothing is configured by default: with no Telegram chat and no webhook the notifier is not
started at all. Secrets never sit in the configuration: the bot token (and, if wanted, a
webhook's URL, which for Discord and Slack is itself a secret) is read from an environment
variable named here.
"""

from __future__ import annotations

import ipaddress
import os
import re
from collections.abc import Mapping
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from actors.runtime.config_section import Section

__all__ = ["NotifySettings", "TelegramSettings", "WebhookSettings", "missing_secrets",
           "notify_enabled"]

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_LOOPBACK_NAMES = {"localhost"}


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        raise ValueError("must name an environment variable (letters, digits and _, not "
                         "starting with a digit)")
    return value


def _is_loopback(host: str) -> bool:
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _http_url(value: str, what: str) -> str:
    """An http(s) URL with a host; plain http only to this machine (a token or a webhook's
    secret must not cross a network in clear text)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"{what} must be an http:// or https:// URL with a host")
    if parts.scheme == "http" and not _is_loopback(parts.hostname):
        raise ValueError(f"{what} may use plain http:// only on this machine (127.0.0.1, "
                         "localhost); use https:// for any other host")
    return value.rstrip("/")


class TelegramSettings(Section):
    """A Telegram bot: it sends the notifications to every allowed chat and obeys commands
    from those chats only. Off while ``chat_ids`` is empty."""

    token_env: str = Field(
        "ENSEMBLE_TELEGRAM_TOKEN",
        description="the environment variable holding the bot token (from @BotFather)")
    chat_ids: tuple[int, ...] = Field(
        (), description="the chats notified and obeyed (a user's or a group's id); empty: "
        "Telegram is off")
    api_base_url: str = Field(
        "https://api.telegram.org", description="the Bot API server (a self-hosted one, or a "
        "test server; plain http only on this machine)")
    poll_timeout_s: float = Field(
        25.0, ge=0, le=50, description="long-polling wait of one getUpdates call")
    confirm_timeout_s: float = Field(
        60.0, gt=0, le=600, description="how long /killswitch and /closeall wait for /confirm")

    @field_validator("token_env")
    @classmethod
    def _check_env(cls, value: str) -> str:
        return _env_name(value)

    @field_validator("api_base_url")
    @classmethod
    def _check_url(cls, value: str) -> str:
        return _http_url(value, "the Bot API URL")

    @property
    def enabled(self) -> bool:
        return bool(self.chat_ids)


class WebhookSettings(Section):
    """One JSON POST target: ``url`` (or ``url_env``, the variable holding it: Discord's and
    Slack's URLs are secrets) and the body's ``format``."""

    url: str | None = Field(None, description="where to POST")
    url_env: str | None = Field(None, description="the environment variable holding the URL")
    format: Literal["generic", "slack", "discord"] = Field(
        "generic", description="generic: {text, kind, event}; slack: {text}; discord: {content}")

    @field_validator("url")
    @classmethod
    def _check_url(cls, value: str | None) -> str | None:
        return None if value is None else _http_url(value, "a webhook's url")

    @field_validator("url_env")
    @classmethod
    def _check_env(cls, value: str | None) -> str | None:
        return None if value is None else _env_name(value)

    @model_validator(mode="after")
    def _one_source(self) -> WebhookSettings:
        if (self.url is None) == (self.url_env is None):
            raise ValueError("give a webhook exactly one of url and url_env")
        return self

    def resolved_url(self, environ: Mapping[str, str]) -> str | None:
        if self.url is not None:
            return self.url
        raw = environ.get(self.url_env or "", "").strip()
        return _http_url(raw, f"the URL in {self.url_env}") if raw else None


class NotifySettings(Section):
    """Notifications: Telegram and webhooks share one bounded send queue each, with retry."""

    telegram: TelegramSettings = TelegramSettings()
    webhooks: tuple[WebhookSettings, ...] = Field(
        (), description="JSON POST targets, e.g. [{url_env = \"DISCORD_HOOK\", format = "
        "\"discord\"}]")
    queue_limit: int = Field(
        200, ge=1, le=100_000, description="messages waiting per channel; past it the oldest "
        "are dropped (and the next message says how many)")
    retry_attempts: int = Field(5, ge=1, le=100, description="tries per message")
    retry_initial_s: float = Field(1.0, gt=0, le=600, description="first retry delay")
    retry_max_s: float = Field(60.0, gt=0, le=3600, description="longest retry delay")
    review_wait_s: float = Field(
        120.0, ge=0, le=3600, description="how long a closed trade waits for the Critic's "
        "lesson before it is sent without it")
    status_poll_s: float = Field(
        30.0, gt=0, le=3600, description="how often the broker day is checked (its end "
        "sends the daily summary)")


def notify_enabled(settings: NotifySettings) -> bool:
    """Whether the notifier runs at all."""
    return settings.telegram.enabled or bool(settings.webhooks)


def missing_secrets(settings: NotifySettings,
                    environ: Mapping[str, str] | None = None) -> list[str]:
    """What the configuration names but the environment does not hold, worded for the
    person who has to fix it (the daemon refuses to start with any)."""
    environ = os.environ if environ is None else environ
    problems = []
    if settings.telegram.enabled and not environ.get(settings.telegram.token_env, "").strip():
        problems.append(f"notify.telegram.token_env = {settings.telegram.token_env!r}: that "
                        "environment variable is not set (it must hold the bot token)")
    for index, hook in enumerate(settings.webhooks):
        if hook.url_env is None:
            continue
        try:
            found = hook.resolved_url(environ)
        except ValueError as error:
            problems.append(f"notify.webhooks[{index}].url_env = {hook.url_env!r}: {error}")
            continue
        if found is None:
            problems.append(f"notify.webhooks[{index}].url_env = {hook.url_env!r}: that "
                            "environment variable is not set (it must hold the URL)")
    return problems
