"""The operator's controls and the trade journal, through HTTP on the real daemon."""

from __future__ import annotations

import pytest

from actors.risk.close_all import TRIES
from tests.integration.test_broker import BROKER_SETTINGS, order_id, place, set_faults, wait_broker
from tests.support.daemon import Daemon
from tests.support.ws import EventClient

pytestmark = pytest.mark.integration


def _control(daemon: Daemon, command: str, token: str | None = "default") -> tuple[int, dict]:
    return daemon.request("POST", f"/api/control/{command}", body={}, token=token)


def _ready(daemon: Daemon) -> None:
    daemon.wait_until(lambda: daemon.get("/api/state")["risk"].get("mode") == "ACTIVE",
                      what="the RiskManager to load its state")


@pytest.mark.parametrize("command", ["pause", "resume", "kill-switch", "reset-kill-switch",
                                     "close-all"])
def test_controls_need_the_token(shared_daemon: Daemon, command: str) -> None:
    status, body = _control(shared_daemon, command, token=None)
    assert status == 401 and body["error"] == "unauthorized"


def test_unknown_control_is_a_404_naming_the_known_ones(shared_daemon: Daemon) -> None:
    status, body = _control(shared_daemon, "panic")
    assert status == 404 and "pause, resume, kill-switch" in body["detail"]


async def test_pause_resume_and_409_when_a_command_does_not_apply(make_daemon, session) -> None:
    daemon = make_daemon()
    _ready(daemon)
    watcher = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()
    assert _control(daemon, "resume")[0] == 409  # not paused
    status, body = _control(daemon, "pause")
    assert status == 200 and body["mode"] == "PAUSED"
    status, body = _control(daemon, "pause")
    assert status == 409 and body["detail"] == "already paused" and body["mode"] == "PAUSED"
    status, body = _control(daemon, "resume")
    assert status == 200 and body["mode"] == "ACTIVE"
    await watcher.wait_for(lambda: len(watcher.of_type("CONTROL_RESULT")) >= 4)
    results = [(e["command"], e["ok"], e["mode"]) for e in watcher.of_type("CONTROL_RESULT")]
    assert results == [("resume", False, "ACTIVE"), ("pause", True, "PAUSED"),
                       ("pause", False, "PAUSED"), ("resume", True, "ACTIVE")]
    modes = [e["mode"] for e in watcher.of_type("RISK_STATE")]
    assert modes[-2:] == ["PAUSED", "ACTIVE"]
    await watcher.close()


def test_the_kill_switch_latches_survives_a_restart_and_is_reset_only_by_the_operator(
    make_daemon, tmp_path,
) -> None:
    data_dir = tmp_path / "latched"
    first = make_daemon(data_dir=data_dir)
    _ready(first)
    status, body = _control(first, "kill-switch")
    assert status == 200 and body["mode"] == "HALTED" and body["kill_switch"] is True
    assert _control(first, "kill-switch")[0] == 409
    assert _control(first, "resume")[0] == 409
    assert first.stop() == 0

    second = make_daemon(data_dir=data_dir)
    state = second.wait_until(lambda: (s := second.get("/api/state"))["risk"] and s["risk"],
                              what="the risk state")
    assert state["mode"] == "HALTED" and state["kill_switch"] is True
    stored = second.get("/api/kv/risk.kill_switch")["value"]
    assert stored["latched"] is True and "operator" in stored["reason"]
    status, body = _control(second, "reset-kill-switch")
    assert status == 200 and body["mode"] == "ACTIVE" and body["kill_switch"] is False
    assert second.get("/api/kv/risk.kill_switch")["value"]["latched"] is False


def test_the_journal_answers_before_any_trade(make_daemon) -> None:
    # A daemon of its own that takes no trade: the module's shared one trades whenever the
    # wall-clock market is open, and may have closed one by the time this runs.
    daemon = make_daemon("risk.rules.max_daily_trades=0")
    assert daemon.get("/api/journal/trades") == []
    daily = daemon.get("/api/journal/daily")
    assert daily["total"] == 0 and daily["win_rate"] is None
    calibration = daemon.get("/api/journal/calibration")
    assert calibration["count"] == 0 and calibration["brier"] is None
    assert len(calibration["bins"]) == 10
    status, body = daemon.request("GET", "/api/journal/decisions/nope")
    assert status == 404 and "no decision" in body["detail"]
    assert daemon.request("GET", "/api/journal/daily?day=yesterday")[0] == 400



def test_close_all_tries_a_frozen_position_again_and_answers_once(make_daemon) -> None:
    """A position whose price is within the freeze level of its stop cannot be closed at a
    real broker (10029) until the price moves away or the stop is hit; close-all asks again
    for a moment before it answers, and says how many tries it took."""
    daemon = make_daemon(*BROKER_SETTINGS)
    wait_broker(daemon)
    _ready(daemon)
    tickets = [place(daemon, order_id("Z"))[-1]["ticket"] for _ in range(2)]
    set_faults(daemon, frozen_position_requests=1000)  # frozen throughout
    status, body = _control(daemon, "close-all")
    assert status == 409, body
    assert body["detail"] == ("close-all rejected: " + "; ".join(f"{t}: frozen" for t in tickets)
                              + f" (closed 0 position(s) in {TRIES} tries)")
    left = daemon.get("/api/sim/faults")["faults"]["frozen_position_requests"]
    assert left == 1000 - 2 * TRIES  # two closes a try, each sent once
    assert len(daemon.get("/api/positions")) == 2

    set_faults(daemon, frozen_position_requests=2)  # the first try's two closes only
    status, body = _control(daemon, "close-all")
    assert (status, body["detail"]) == (200, "closed 2 position(s) in 2 tries"), body
    daemon.wait_until(lambda: daemon.get("/api/positions") == [], what="no position left")
