"""Controls, the trade journal and the charts on the real app; the RiskManager and the broker
are played by replies declared here, SharedState by its own logic over a real state.db."""

from __future__ import annotations

import csv
import io

import numpy as np

from actors.shared_state.keys import review_op_id
from messages.events import AccountUpdate
from messages.trading import (
    ControlCommand,
    ControlReply,
    MarketData,
    MarketDataRequest,
)
from tests.support.rows import account_row
from tests.unit.web.conftest import WebFixture
from web.journal import TRADE_CSV_COLUMNS

NOW = "2026-01-01T00:00:00Z"
BARS_DTYPE = np.dtype([("time", "i8"), ("open", "f8"), ("high", "f8"), ("low", "f8"),
                       ("close", "f8")])


def risk_answers(status: int = 200) -> object:
    def reply(command: ControlCommand) -> ControlReply:
        return ControlReply(command.request_id, status, "PAUSED" if status == 200 else "ACTIVE",
                            False, f"{command.command} ({command.op_id}, {command.reason})")
    return reply


async def test_a_control_goes_to_the_risk_manager_with_its_op_id(web_app: WebFixture) -> None:
    await web_app.ready()
    web_app.responder.on(ControlCommand, risk_answers())
    status, body = await web_app.call("POST", "/api/control/pause",
                                      json={"op_id": "op-1", "reason": "lunch"})
    assert status == 200 and body == {"command": "pause", "mode": "PAUSED",
                                      "kill_switch": False, "detail": "pause (op-1, lunch)"}
    (request,) = [r for r in web_app.responder.received if isinstance(r.message, ControlCommand)]
    assert request.role == "risk" and request.message.op_id == "op-1"


async def test_a_control_that_does_not_apply_is_a_409(web_app: WebFixture) -> None:
    await web_app.ready()
    web_app.responder.on(ControlCommand, risk_answers(409))
    status, body = await web_app.call("POST", "/api/control/resume")
    assert status == 409 and body["error"] == "conflict" and body["mode"] == "ACTIVE"


async def test_an_unknown_control_is_a_404_naming_the_known_ones(web_app: WebFixture) -> None:
    status, body = await web_app.call("POST", "/api/control/explode")
    assert status == 404 and "close-all" in body["detail"]
    assert (await web_app.call("POST", "/api/control/pause", token=False))[0] == 401


async def test_a_control_nobody_answers_is_a_json_error_not_a_hang(web_app: WebFixture) -> None:
    await web_app.ready()
    status, body = await web_app.call("POST", "/api/control/pause")
    assert status == 503 and body["error"] == "unavailable"


async def test_journal_trades_come_with_their_review(web_app: WebFixture) -> None:
    store = web_app.responder.store
    store.journal_append("t1", "trade", "7", {"ticket": 7, "profit": 12.5,
                                               "closed_at": 1_767_225_600}, "d-1")
    store.journal_append(review_op_id(7), "review", "XAUUSD", {
        "ticket": 7, "score": 0.8, "outcome": "WIN", "confidence": 0.7,
        "lesson": {"advice": "ok"}})
    status, trades = await web_app.call("GET", "/api/journal/trades")
    assert status == 200 and trades[0]["ticket"] == 7 and trades[0]["decision_id"] == "d-1"
    assert trades[0]["review"]["score"] == 0.8 and trades[0]["review"]["lesson"] == "ok"
    status, daily = await web_app.call("GET", "/api/journal/daily?day=2026-01-01")
    assert status == 200 and (daily["total"], daily["wins"]) == (1, 1)
    status, chain = await web_app.call("GET", "/api/journal/decisions/d-1")
    assert status == 200 and [step["kind"] for step in chain["steps"]] == ["trade"]
    assert (await web_app.call("GET", "/api/journal/decisions/nope"))[0] == 404
    assert (await web_app.call("GET", "/api/journal/daily?day=yesterday"))[0] == 400


async def test_the_daily_totals_are_by_broker_day(web_app: WebFixture) -> None:
    """A trade closed at 22:30 UTC on a UTC+2 server belongs to the server's next day."""
    store = web_app.responder.store
    store.journal_append("t1", "trade", "7", {"ticket": 7, "profit": -20.0,
                                               "closed_at": 1_700_087_400,
                                               "broker_day": "2023-11-16"}, "d-1")
    store.journal_append("t2", "trade", "8", {"ticket": 8, "profit": 5.0,
                                               "closed_at": 1_700_080_000,
                                               "broker_day": "2023-11-15"}, "d-2")
    _, on_the_16th = await web_app.call("GET", "/api/journal/daily?day=2023-11-16")
    assert (on_the_16th["total"], on_the_16th["total_profit"]) == (1, -20.0)
    _, on_the_15th = await web_app.call("GET", "/api/journal/daily?day=2023-11-15")
    assert (on_the_15th["total"], on_the_15th["total_profit"]) == (1, 5.0)


async def test_bars_are_in_utc_seconds(web_app: WebFixture) -> None:
    server_time = 1_767_232_800  # the broker's clock, two hours ahead of UTC
    rates = np.array([(server_time, 1.1, 1.2, 1.0, 1.15)], dtype=BARS_DTYPE)

    def broker(request: MarketDataRequest) -> MarketData:
        return MarketData(request.request_id, float(server_time), {}, {},
                          {request.symbols[0]: {request.timeframes[0]: rates}},
                          server_utc_offset_s=7200.0)

    web_app.responder.on(MarketDataRequest, broker)
    status, bars = await web_app.call("GET", "/api/bars?symbol=EURUSD&timeframe=H1&count=1")
    assert status == 200
    assert bars == [{"time": server_time - 7200, "open": 1.1,
                     "high": 1.2, "low": 1.0, "close": 1.15}]
    status, body = await web_app.call("GET", "/api/bars?symbol=EURUSD&timeframe=W9")
    assert status == 400 and body["parameter"] == "timeframe"


async def test_equity_is_read_from_the_account_updates(web_app: WebFixture) -> None:
    web_app.feed.publish(AccountUpdate(timestamp=NOW, account=account_row(equity=1.0, balance=1.0)),
                         AccountUpdate(timestamp=NOW, account=account_row(equity=2.0, balance=1.0)))
    status, points = await web_app.call("GET", "/api/equity")
    assert status == 200 and [(p["seq"], p["equity"]) for p in points] == [(1, 1.0), (2, 2.0)]


async def test_old_trades_are_reached_by_time_with_their_own_reviews(
        web_app: WebFixture) -> None:
    """``until`` reaches a trade older than the newest ones, with its review however many
    newer reviews there are; ``since``/``until`` bound its close time, ``until`` excluded."""
    store = web_app.responder.store
    old_close = 1_700_000_000
    store.journal_append("t-old", "trade", "EURUSD", {"ticket": 1, "profit": -5.0,
                                                        "closed_at": old_close}, "d-old")
    store.journal_append(review_op_id(1), "review", "EURUSD",
                         {"ticket": 1, "score": 3, "outcome": "LOSS", "lesson": {"advice": "x"}})
    for ticket in range(2, 152):  # newer trades, each reviewed
        store.journal_append(f"t{ticket}", "trade", "EURUSD", {
            "ticket": ticket, "profit": 1.0, "closed_at": old_close + ticket * 60}, f"d{ticket}")
        store.journal_append(review_op_id(ticket), "review", "EURUSD",
                             {"ticket": ticket, "score": 7, "outcome": "WIN"})
    status, trades = await web_app.call(
        "GET", "/api/journal/trades?until=2023-11-14T22:14:00Z&limit=10")
    assert status == 200
    assert [t["ticket"] for t in trades] == [1]  # closed 22:13:20; the next at 22:15:20
    assert trades[0]["review"]["score"] == 3
    _, window = await web_app.call(
        "GET", "/api/journal/trades?since=2023-11-14T22:15:20Z&until=2023-11-14T22:17:20Z")
    assert [t["ticket"] for t in window] == [3, 2]  # newest first; until excluded
    _, newest = await web_app.call("GET", "/api/journal/trades?limit=3")
    assert [t["ticket"] for t in newest] == [151, 150, 149]
    assert all(t["review"]["score"] == 7 for t in newest)


async def test_journal_trades_as_csv_have_a_header_and_one_row_per_trade(
        web_app: WebFixture) -> None:
    store = web_app.responder.store
    for ticket, profit, comment in ((7, 12.5, "TP"), (8, -4.25, "=HYPERLINK(\"x\")"),
                                    (9, 0.0, "SL")):
        store.journal_append(f"t{ticket}", "trade", "XAUUSD", {
            "ticket": ticket, "symbol": "XAUUSD", "direction": "BUY", "volume": 0.1,
            "entry_price": 2350.0, "exit_price": 2351.25, "sl": 2348.0, "tp": 2354.0,
            "profit": profit, "opened_at": 1_767_225_000, "closed_at": 1_767_225_600,
            "exit_reason": comment}, f"d-{ticket}")
    store.journal_append(review_op_id(7), "review", "XAUUSD", {
        "ticket": 7, "score": 8, "outcome": "WIN", "r_multiple": 1.5,
        "lesson": {"advice": "ok"}})
    status, text = await web_app.call("GET", "/api/journal/trades.csv")
    assert status == 200
    rows = list(csv.DictReader(io.StringIO(text)))
    assert list(rows[0]) == list(TRADE_CSV_COLUMNS)
    _, trades = await web_app.call("GET", "/api/journal/trades")
    assert [row["ticket"] for row in rows] == [str(t["ticket"]) for t in trades]
    assert sorted(row["ticket"] for row in rows) == ["7", "8", "9"]
    by_ticket = {row["ticket"]: row for row in rows}
    assert by_ticket["7"]["profit"] == "12.5" and by_ticket["7"]["symbol"] == "XAUUSD"
    assert (by_ticket["7"]["review_score"], by_ticket["7"]["review_lesson"]) == ("8", "ok")
    assert by_ticket["9"]["review_score"] == "" and by_ticket["8"]["profit"] == "-4.25"
    assert by_ticket["7"]["closed_at"] == "2026-01-01T00:00:00Z"
    assert by_ticket["7"]["decision_id"] == "d-7"
    assert by_ticket["8"]["exit_reason"] == "'=HYPERLINK(\"x\")"  # not run as a formula
    status, limited = await web_app.call("GET", "/api/journal/trades.csv?limit=1")
    assert status == 200 and len(list(csv.DictReader(io.StringIO(limited)))) == 1
    status, body = await web_app.call("GET", "/api/journal/trades.csv?limit=0")
    assert status == 400 and body["parameter"] == "limit"
    assert (await web_app.call("GET", "/api/journal/trades.csv", token=False))[0] == 401


async def test_a_control_while_the_daemon_starts_is_a_503_naming_what_it_waits_for(
    web_app: WebFixture,
) -> None:
    web_app.responder.on(ControlCommand, risk_answers())
    status, body = await web_app.call("POST", "/api/control/pause")
    assert status == 503 and "starting" in body["detail"] and "RiskManager" in body["detail"]
    assert not any(isinstance(r.message, ControlCommand) for r in web_app.responder.received)


async def test_a_risk_manager_still_loading_after_a_restart_is_a_503(web_app: WebFixture) -> None:
    await web_app.ready()
    web_app.responder.on(ControlCommand, lambda m: ControlReply(
        m.request_id, 503, "HALTED", False, "the risk state is still loading; try again"))
    status, body = await web_app.call("POST", "/api/control/pause")
    assert status == 503 and body["error"] == "unavailable" and "loading" in body["detail"]


async def test_journal_trades_filter_by_strategy_as_json_and_csv(web_app: WebFixture) -> None:
    store = web_app.responder.store
    for ticket, strategy in ((1, "Confluence"), (2, "SmaCross"), (3, "Confluence")):
        store.journal_append(f"t{ticket}", "trade", "EURUSD", {
            "ticket": ticket, "symbol": "EURUSD", "direction": "SELL", "profit": 1.0,
            "opened_at": 1_767_225_000 + ticket, "closed_at": 1_767_225_600 + ticket,
            "strategy": strategy}, f"d-{ticket}")
    _, trades = await web_app.call("GET", "/api/journal/trades?strategy=Confluence")
    assert sorted(t["ticket"] for t in trades) == [1, 3]
    status, text = await web_app.call("GET", "/api/journal/trades.csv?strategy=SmaCross")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert status == 200 and [(r["ticket"], r["strategy"]) for r in rows] == [("2", "SmaCross")]
    _, one = await web_app.call("GET", "/api/journal/trades?strategy=Confluence&limit=1")
    assert [t["ticket"] for t in one] == [3]
    status, body = await web_app.call("GET", "/api/journal/trades?strategy=" + "x" * 65)
    assert status == 400 and body["parameter"] == "strategy"
