"""The bounded queue, the retry rule, and ``[notify]``'s validation."""

from __future__ import annotations

import pytest

from actors.app.settings import ConfigError, Settings, load_settings
from actors.app.tree import NOTIFIER, CoreSupervisor
from actors.notify.config import missing_secrets, notify_enabled
from actors.notify.outbox import Outbox, RetryPolicy, retry_delay


def test_the_outbox_keeps_the_newest_and_counts_what_it_dropped() -> None:
    box: Outbox[int] = Outbox(2)
    for item in range(5):
        box.put(item)
    assert len(box) == 2 and box.take_dropped() == 3 and box.take_dropped() == 0
    assert [box.take(), box.take(), box.take()] == [3, 4, None]


def test_retry_backs_off_caps_honours_retry_after_and_gives_up() -> None:
    policy = RetryPolicy(attempts=4, initial_s=1.0, max_s=3.0)
    assert [retry_delay(policy, n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 3.0, None]
    assert retry_delay(policy, 1, retry_after=7) == 7.0


def test_with_no_notify_configuration_no_notifier_runs() -> None:
    settings = Settings()
    assert not notify_enabled(settings.notify)
    supervisor = CoreSupervisor()
    supervisor.settings = settings
    assert NOTIFIER not in supervisor.child_specs()
    supervisor.settings = load_settings(assignments=["notify.telegram.chat_ids=[5]"], environ={})
    assert supervisor.child_specs()[-1] == NOTIFIER


@pytest.mark.parametrize(("assignment", "words"), [
    ("notify.telegram.chat_ids=['me']", "notify.telegram.chat_ids.0 = 'me'"),
    ("notify.telegram.token_env='1BAD'", "must name an environment variable"),
    ("notify.telegram.api_base_url='http://bot.example'", "plain http:// only on this machine"),
    ("notify.telegram.api_base_url='ftp://x'", "http:// or https:// URL"),
    ("notify.webhooks=[{format = 'slack'}]", "exactly one of url and url_env"),
    ("notify.webhooks=[{url = 'https://h.example/x', format = 'teams'}]",
     "notify.webhooks.0.format = 'teams'"),
    ("notify.telegram.chat_id=[1]", "unknown key (allowed: api_base_url, chat_ids"),
    ("notify.queue_limit=0", "notify.queue_limit = 0"),
])
def test_bad_values_are_refused_naming_the_key_and_what_is_allowed(assignment, words) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(assignments=[assignment], environ={})
    assert words in str(raised.value)


def test_a_named_secret_must_be_in_the_environment() -> None:
    settings = load_settings(assignments=[
        "notify.telegram.chat_ids=[5]", "notify.telegram.token_env=MY_TG",
        "notify.webhooks=[{url_env = 'MY_HOOK'}]"], environ={})
    problems = missing_secrets(settings.notify, {})
    assert problems == [
        "notify.telegram.token_env = 'MY_TG': that environment variable is not set (it must "
        "hold the bot token)",
        "notify.webhooks[0].url_env = 'MY_HOOK': that environment variable is not set (it "
        "must hold the URL)"]
    assert missing_secrets(settings.notify, {"MY_TG": "1:x", "MY_HOOK": "https://h.example/"}
                           ) == []
    assert "plain http://" in missing_secrets(settings.notify, {
        "MY_TG": "1:x", "MY_HOOK": "http://h.example/"})[0]
