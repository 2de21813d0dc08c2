"""Which events become which notification, and how they read."""

from __future__ import annotations

from actors.notify.notices import MAX_TEXT, Notice, Notices


def _closed(ticket: int = 7, profit: float = 12.5) -> dict:
    return {"type": "POSITION_CLOSED", "ticket": ticket, "symbol": "EURUSD", "direction": "BUY",
            "volume": 0.1, "entry_price": 1.085, "exit_price": 1.0862, "profit": profit,
            "strategy": "Confluence"}


def _review(ticket: int = 7) -> dict:
    return {"type": "CRITIC_REVIEW", "ticket": ticket, "symbol": "EURUSD", "score": 7.5,
            "lesson": "Let winners run.", "analysis": "..."}


def test_an_execution_is_one_line_with_side_size_symbol_price_ticket_and_strategy() -> None:
    [notice] = Notices().feed({"type": "TRADE_EXECUTION", "symbol": "EURUSD", "direction": "SELL",
                               "price": 1.085, "lot": 0.2, "ticket": 9, "strategy": "Sma"}, 0.0)
    assert notice.kind == "execution"
    assert notice.text == "✅ Executed SELL 0.2 EURUSD @ 1.085 (#9, Sma)"


def test_a_closed_trade_waits_for_its_review_and_carries_the_lesson() -> None:
    notices = Notices(review_wait_s=60)
    notices.feed({"type": "BROKER_STATUS", "state": "connected", "currency": "USD"}, 0.0)
    assert notices.feed(_closed(), 0.0) == []
    [notice] = notices.feed(_review(), 5.0)
    assert notice.kind == "trade_closed"
    assert notice.text == ("💰 Closed BUY 0.1 EURUSD #7, Confluence: +12.50 USD (1.085 → 1.0862)"
                           "\n🧐 Critic (score 7.5/10): Let winners run.")
    assert notice.data["review"]["lesson"] == "Let winners run."
    assert notices.due(1000.0) == []  # sent once


def test_without_a_review_in_time_it_goes_alone_and_the_late_lesson_follows() -> None:
    notices = Notices(review_wait_s=60)
    notices.feed(_closed(profit=-3.0), 0.0)
    assert notices.due(59.0) == []
    [alone] = notices.due(60.0)
    assert "-3.00" in alone.text and "Critic" not in alone.text
    [late] = notices.feed(_review(), 61.0)
    assert late.kind == "review" and "Let winners run." in late.text


def test_a_review_that_arrives_first_is_joined_to_its_trade() -> None:
    notices = Notices(review_wait_s=60)
    assert notices.feed(_review(), 0.0) == []
    [notice] = notices.feed(_closed(), 1.0)
    assert "Let winners run." in notice.text


def test_the_kill_switch_and_blocks_are_told_as_changes() -> None:
    notices = Notices()
    base = {"type": "RISK_STATE", "mode": "ACTIVE", "kill_switch": False, "reason": ""}
    assert notices.feed({**base, "blocked_by": ["MISSING_INPUT"]}, 0) == []
    assert notices.feed({**base, "blocked_by": []}, 0) == []
    [paused] = notices.feed({**base, "mode": "PAUSED", "blocked_by": ["PAUSED"],
                             "reason": "telegram"}, 0)
    assert paused.kind == "blocked"
    assert paused.text == "⛔ New entries blocked: paused (mode PAUSED; telegram)"
    assert notices.feed({**base, "mode": "PAUSED", "blocked_by": ["PAUSED"]}, 0) == []
    kinds = [n.kind for n in notices.feed({**base, "mode": "HALTED", "kill_switch": True,
                                           "reason": "operator",
                                           "blocked_by": ["MODE_HALTED", "KILL_SWITCH"]}, 0)]
    assert kinds == ["kill_switch", "blocked"]
    [reset, open_again] = notices.feed({**base, "blocked_by": []}, 0)
    assert reset.text == "✅ Kill switch reset." and open_again.kind == "unblocked"


def test_a_kill_switch_latched_at_start_is_told() -> None:
    [notice] = Notices().feed({"type": "RISK_STATE", "mode": "HALTED",
                               "kill_switch": True, "reason": "daily loss",
                               "blocked_by": ["KILL_SWITCH"]}, 0)
    assert notice.kind == "kill_switch" and "daily loss" in notice.text


def test_broker_disconnects_and_returns_once_each() -> None:
    notices = Notices()
    status = {"type": "BROKER_STATUS", "kind": "sim"}
    assert notices.feed({**status, "state": "connected"}, 0) == []
    [down] = notices.feed({**status, "state": "disconnected", "detail": "IPC timeout"}, 0)
    assert down.text == "⚠ Broker sim disconnected: IPC timeout"
    assert notices.feed({**status, "state": "disconnected"}, 0) == []
    [back] = notices.feed({**status, "state": "connected"}, 0)
    assert back.text == "✅ Broker sim connected again."
    [auth] = notices.feed({**status, "state": "auth_failed", "detail": "bad password"}, 0)
    assert "refused the login: bad password" in auth.text


def test_an_actor_restart_names_the_actor_and_why() -> None:
    [notice] = Notices().feed({"type": "ACTOR_RESTARTED", "name": "risk", "old_pid": 1,
                               "new_pid": 2, "reason": "crashed: KeyError", "restarts": 1}, 0)
    assert notice.text == "♻ risk restarted (restart 1): crashed: KeyError"


def test_other_events_say_nothing_and_long_texts_fit_telegram() -> None:
    assert Notices().feed({"type": "SCAN_SUMMARY"}, 0) == []
    assert len(Notice("x", "y" * 10_000).text) == MAX_TEXT


def test_start_and_stop() -> None:
    start = Notices.started("0.1.0", "sim", ("SmaCross",), restarted=False)
    assert start.text == "▶ Ensemble 0.1.0 started: broker sim, strategies SmaCross."
    assert Notices.started("0.1.0", "sim", (), restarted=True).kind == "notifier_restarted"
    assert Notices.stopping().kind == "stop"
