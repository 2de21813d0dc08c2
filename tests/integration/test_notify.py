"""The notifier on the real daemon, against a fake Telegram Bot API server and a webhook
receiver on 127.0.0.1: what a trader reads on the phone, and the commands it obeys."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
from collections.abc import Callable

import pytest

from actors.notify.actor import CURSOR_FILE
from tests.support.daemon import FAST_MARKET, REPO, Daemon
from tests.support.notify_servers import FakeTelegram, FakeWebhook

pytestmark = pytest.mark.integration

TOKEN = "987654321:integration-TOKEN-never-in-logs"
TOKEN_ENV = "ENSEMBLE_TEST_TG_TOKEN"
CHAT, STRANGER = 7001, 9999
LIMITS_LIFTED = ("risk.kill_switch.max_loss_pct=0", "risk.rules.day_stop_beyond_stop_r=1e6",
                 "risk.rules.consecutive_loss_limit=1000",
                 "risk.rules.max_daily_loss_pct=0", "risk.rules.max_daily_loss=1000000",
                 "risk.rules.min_trade_interval_seconds=0")
QUICK_TRADER = ("strategy.scan_interval_s=2",
                f"strategy.plugins=['{REPO}/examples/strategies/sma_cross.py:SmaCross']",
                "strategy.params.SmaCross.fast=3", "strategy.params.SmaCross.slow=8",
                "strategy.params.SmaCross.symbols=['EURUSD', 'GBPUSD', 'AUDUSD', 'USDCAD']")


@pytest.fixture
def servers():
    telegram, webhook = FakeTelegram(TOKEN).start(), FakeWebhook().start()
    yield telegram, webhook
    telegram.stop()
    webhook.stop()


def _notified(daemon: Daemon, telegram: FakeTelegram, webhook: FakeWebhook) -> Daemon:
    daemon.settings += [f"notify.telegram.chat_ids=[{CHAT}]",
                        f"notify.telegram.token_env={TOKEN_ENV}",
                        f"notify.telegram.api_base_url={telegram.base_url}",
                        "notify.telegram.poll_timeout_s=5",
                        f'notify.webhooks=[{{url = "{webhook.url}", format = "generic"}}]',
                        "notify.review_wait_s=90"]
    daemon.extra_env = {TOKEN_ENV: TOKEN}
    return daemon


def _answer(telegram: FakeTelegram, text: str, expect: str, timeout: float = 30.0) -> str:
    """Say ``text`` in the allowed chat and wait for the next answer containing ``expect``."""
    before = len(telegram.texts(CHAT))
    telegram.user_says(CHAT, text)
    return telegram.wait_for(lambda: next((t for t in telegram.texts(CHAT)[before:]
                                           if expect in t), None),
                             timeout=timeout, what=f"an answer to {text} with {expect!r}")


def _risk(daemon: Daemon) -> dict:
    return daemon.get("/api/risk")


def test_a_trader_follows_and_steers_ensemble_from_telegram(make_daemon, servers) -> None:
    telegram, webhook = servers
    daemon = _notified(make_daemon(*FAST_MARKET, *LIMITS_LIFTED, *QUICK_TRADER, start=False),
                       telegram, webhook).start()
    telegram.wait_for(lambda: any("started" in t for t in telegram.texts(CHAT)),
                      what="the start message")
    daemon.wait_until(lambda: _risk(daemon)["mode"] == "ACTIVE", what="risk loaded")

    # A chat that is not allowed is ignored: no answer, no effect. Updates are handled in
    # order, so once the allowed chat's /status is answered the stranger's /pause was seen.
    telegram.user_says(STRANGER, "/pause")
    status = _answer(telegram, "/status", "Mode")
    assert "Mode ACTIVE" in status and "kill switch off" in status and "Broker connected" in status
    assert telegram.texts(STRANGER) == [] and _risk(daemon)["mode"] == "ACTIVE"

    # Each execution is reported.
    execution = telegram.wait_for(lambda: next((t for t in telegram.texts(CHAT)
                                                if t.startswith("✅ Executed")), None),
                                  timeout=240, what="an execution message")
    assert re.search(r"Executed (BUY|SELL) [\d.]+ [A-Z]{6} @ [\d.]+ \(#\d+, SmaCross\)",
                     execution), execution

    # /pause goes the control path: the mode the API shows changes.
    assert "done" in _answer(telegram, "/pause", "pause:")
    assert _risk(daemon)["mode"] == "PAUSED"
    positions = _answer(telegram, "/positions", "open position")
    assert positions == "No open positions." or re.search(r"#\d+ (BUY|SELL)", positions)

    # /closeall asks first; only the right code within the time closes the positions.
    _answer(telegram, "/closeall", "/confirm")
    assert "not the code" in _answer(telegram, "/confirm 99999", "nothing was done")
    prompt = _answer(telegram, "/closeall", "/confirm")
    code = re.search(r"/confirm (\d{4})", prompt).group(1)
    assert "close-all: done" in _answer(telegram, f"/confirm {code}", "close-all")
    closed = telegram.wait_for(lambda: next((t for t in telegram.texts(CHAT)
                                             if t.startswith("💰 Closed")), None),
                               timeout=120, what="a closed trade")
    assert re.search(r"Closed (BUY|SELL) [\d.]+ [A-Z]{6} #\d+, SmaCross: [+-][\d,]+\.\d\d",
                     closed), closed
    assert "🧐 Critic (score" in closed, closed  # its lesson in the same message

    # /killswitch asks first too; confirmed, the kill switch is latched and announced.
    _answer(telegram, "/killswitch", "/confirm")
    assert _risk(daemon)["kill_switch"] is False
    _answer(telegram, "/status", "Mode")  # any other command cancels the pending one
    assert "Nothing to confirm" in _answer(telegram, "/confirm 0000", "confirm")
    prompt = _answer(telegram, "/killswitch", "/confirm")
    code = re.search(r"/confirm (\d{4})", prompt).group(1)
    assert "kill-switch: done" in _answer(telegram, f"/confirm {code}", "kill-switch")
    assert _risk(daemon)["kill_switch"] is True
    telegram.wait_for(lambda: any("KILL SWITCH tripped" in t for t in telegram.texts(CHAT)),
                      what="the kill switch notice")
    assert "Broker day" in _answer(telegram, "/daily", "Broker day")

    # The webhook received the same notifications, as JSON.
    webhook.wait_for(lambda: {"start", "execution", "trade_closed", "kill_switch"} <= {
        body["kind"] for body in webhook.bodies}, what="the webhook's notifications")

    for path in ("/api/state", "/api/supervisors", "/api/kv", "/api/risk", "/api/broker"):
        assert TOKEN not in json.dumps(daemon.get(path)), path

    assert daemon.stop() == 0
    telegram.wait_for(lambda: any("stopping" in t for t in telegram.texts(CHAT)),
                      what="the stop message")
    assert telegram.texts(STRANGER) == []
    logs = daemon.log() + "".join(path.read_text(errors="replace")
                                  for path in daemon.data_dir.glob("*.log"))
    assert TOKEN not in logs and "s3cret-path" not in logs
    assert "Telegram command ignored" in logs  # the stranger, without the token


def test_telegram_configured_without_its_token_refuses_to_start(tmp_path, servers) -> None:
    telegram, webhook = servers
    daemon = _notified(Daemon(tmp_path / "data"), telegram, webhook)
    daemon.extra_env = {}
    result = subprocess.run(daemon.command("run"), cwd=REPO, capture_output=True, text=True,
                            timeout=30, env=daemon.environment())
    assert result.returncode == 2
    assert f"notify.telegram.token_env = '{TOKEN_ENV}'" in result.stderr
    assert "not set" in result.stderr


def _cursor(daemon: Daemon) -> int:
    try:
        return int(json.loads((daemon.data_dir / CURSOR_FILE).read_text())["seq"])
    except (OSError, ValueError, KeyError):
        return 0


def _seq_of_restart(daemon: Daemon, role: str) -> int:
    with sqlite3.connect(daemon.data_dir / "events.db") as db:
        rows = db.execute("SELECT seq, body FROM events WHERE type = 'ACTOR_RESTARTED' "
                          "ORDER BY seq").fetchall()
    seqs = [seq for seq, body in rows if json.loads(body).get("name") == role]
    return seqs[-1] if seqs else 1 << 62


def test_broker_disconnects_and_actor_restarts_reach_the_phone(make_daemon, servers) -> None:
    telegram, webhook = servers
    daemon = _notified(make_daemon(start=False), telegram, webhook).start()
    telegram.wait_for(lambda: any("started" in t for t in telegram.texts(CHAT)),
                      what="the start message")

    def seen(fragment: str) -> Callable[[], bool]:
        return lambda: any(fragment in t for t in telegram.texts(CHAT))

    daemon.request("POST", "/api/sim/faults", body={"disconnect": True})
    telegram.wait_for(seen("⚠ Broker sim disconnected"), what="the disconnect notice")
    daemon.request("POST", "/api/sim/faults", body={"disconnect": False})
    telegram.wait_for(seen("✅ Broker sim connected again."), what="the reconnect notice")

    # A restarted actor is told; so is the notifier's own restart, which goes on from the
    # journal position its predecessor saved and so reports its own ACTOR_RESTARTED too.
    old = daemon.node("risk")["pid"]
    os.kill(old, signal.SIGKILL)
    telegram.wait_for(seen("♻ risk restarted"), what="the risk restart notice")
    # The notifier saves how far it has read just after it hands a batch to its channels; a
    # kill in between would send the batch again (at least once, by design), so wait for it.
    daemon.wait_until(lambda: _cursor(daemon) >= _seq_of_restart(daemon, "risk"),
                      what="the notifier's cursor past the risk restart")
    os.kill(daemon.node("notify")["pid"], signal.SIGKILL)
    telegram.wait_for(seen("♻ The notifier restarted"), what="the notifier back")
    telegram.wait_for(seen("♻ notify restarted"), what="its own restart, caught up")
    restarts = [t for t in telegram.texts(CHAT) if t.startswith("♻ risk restarted")]
    assert len(restarts) == 1, "an event was told twice after the notifier's restart"
