"""The daily summary at the broker day's end, and the answers' wording."""

from __future__ import annotations

from actors.notify.daily import DayWatch
from actors.notify.replies import control_text, daily_text, positions_text, status_text
from messages.trading import BrokerSnapshot, ControlReply, RiskDay, RiskStatus


def _day(label: str, realised: float, trades: int) -> RiskDay:
    return RiskDay(broker_day=label, realised=realised, open_risk=0.0, reserved=0.0,
                   loss_limit=200.0, remaining=200.0 + min(0.0, realised), trades=trades)


def test_the_summary_comes_when_the_broker_day_changes_with_that_days_figures() -> None:
    watch = DayWatch()
    assert watch.observe(_day("2024-12-03", 0.0, 0)) is None
    watch.closed(30.0)
    watch.closed(-12.0)
    assert watch.observe(_day("2024-12-03", 18.0, 2)) is None
    summary = watch.observe(_day("2024-12-04", 0.0, 0), equity=10_018.0, currency="USD")
    assert summary is not None and summary.kind == "daily"
    assert summary.text == ("📅 Broker day 2024-12-03 ended: realised +18.00 USD, 2 trade(s), "
                            "open risk 0.00, loss limit 200.00 (200.00 left); 1 won, 1 lost; "
                            "best +30.00 USD, worst -12.00 USD. Equity 10,018.00 USD.")
    assert summary.data["day"] == "2024-12-03" and summary.data["wins"] == 1
    assert watch.tally.best is None  # a new day, a new tally
    assert watch.observe(_day("2024-12-04", 0.0, 0)) is None


def _risk(**changes) -> RiskStatus:
    values = {"request_id": "r", "mode": "ACTIVE", "kill_switch": False, "paused": False,
              "reason": "", "blocked_by": (), "day": _day("2024-12-03", -5.0, 1),
              "loaded": True}
    return RiskStatus(**{**values, **changes})


def test_status_says_the_mode_what_blocks_and_the_day() -> None:
    text = status_text(_risk(mode="PAUSED", blocked_by=("PAUSED",), reason="telegram"),
                       BrokerSnapshot("r", True, True, 0.0, None, (), ()), "USD")
    assert text.splitlines() == [
        "Mode PAUSED; kill switch off; new entries blocked by paused.", "Reason: telegram",
        "Broker connected; no account yet.",
        "Broker day 2024-12-03: realised -5.00 USD, 1 trade(s), open risk 0.00, loss limit "
        "200.00 (195.00 left)."]
    assert "Broker: no answer." in status_text(_risk(), None)


def test_positions_daily_and_control_answers() -> None:
    assert positions_text(BrokerSnapshot("r", True, True, 0.0, None, (), ())) == \
        "No open positions."
    assert daily_text(_risk(day=None), DayWatch().tally).startswith("The RiskManager has no")
    assert control_text("pause", ControlReply("r", 200, "PAUSED", False, "")) == \
        "✅ pause: done; (mode PAUSED, kill switch off)."
    assert control_text("resume", ControlReply("r", 409, "ACTIVE", False, "not paused")) == \
        "✋ resume: not done: not paused (mode ACTIVE, kill switch off)."
    assert "try again" in control_text("pause", ControlReply("r", 503, "", False, "loading"))
