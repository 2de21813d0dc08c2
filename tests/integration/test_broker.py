"""The MT5Broker on the real daemon with the simulated terminal: the account and positions on
the API, orders and closes seen on a WebSocket and in the journal, every fault switch (the
broker degrades or rejects, recovers, and never sends an order twice), and the fault switch API.

Orders go in through a small client that joins the running system (:mod:`bench.broker_cli`, in
a process of its own); everything else is HTTP and WebSocket. The terminal's own books
(``sim.db``, read-only) are the oracle of how often an order was really sent.
"""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Iterator
from typing import Any

import pytest

from bench.broker_cli import run_in_subprocess
from bench.order_client import BENCH_SETTINGS, BENCH_START, terminal_books
from tests.support.daemon import Daemon
from tests.support.ws import EventClient

pytestmark = pytest.mark.integration

WEDNESDAY_LONDON = BENCH_START  # every market of the universe is open
BROKER_SETTINGS = (
    *BENCH_SETTINGS,  # a fixed market start; the Strategy stays idle and places nothing
    "broker.poll_interval_s=0.2",
    "broker.reconnect_initial_s=0.1",
    "broker.reconnect_max_s=0.5",
)
_ids = itertools.count(1)


def order_id(prefix: str) -> str:
    return f"{prefix}{next(_ids)}"


def broker_do(daemon: Daemon, *commands: dict[str, Any], timeout: float = 90.0) -> list[Any]:
    """Run broker commands through the order client; one result per command."""
    return run_in_subprocess(daemon.admin_port, commands, daemon.environment(), timeout)


def place(daemon: Daemon, coid: str, side: str = "BUY", symbol: str = "EURUSD",
          volume: float = 0.1, **extra: Any) -> list[dict[str, Any] | None]:
    """Every report of one PlaceOrder: one, or ``unknown`` and then the final one."""
    (reports,) = broker_do(daemon, {"op": "place", "client_order_id": coid, "symbol": symbol,
                                    "side": side, "volume": volume, **extra})
    return reports


def broker_status(daemon: Daemon) -> dict[str, Any]:
    return daemon.get("/api/state")["broker"]


def wait_broker(daemon: Daemon, state: str = "connected", timeout: float = 30.0) -> dict:
    return daemon.wait_until(lambda: (s := broker_status(daemon)).get("state") == state and s,
                             timeout, f"broker {state}")


def set_faults(daemon: Daemon, **changes: Any) -> dict[str, Any]:
    status, body = daemon.request("POST", "/api/sim/faults", body=changes)
    assert status == 200, body
    return body["faults"]


@pytest.fixture(scope="module")
def broker_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    daemon = Daemon(tmp_path_factory.mktemp("broker") / "data", *BROKER_SETTINGS)
    try:
        daemon.start()  # inside the try: a daemon that fails to get ready is stopped too
        wait_broker(daemon)
        yield daemon
    finally:
        daemon.stop()


def test_the_simulated_account_is_on_the_api(broker_daemon: Daemon) -> None:
    account = broker_daemon.wait_until(lambda: broker_daemon.get("/api/account"),
                                       what="ACCOUNT_UPDATE")
    assert {key: account[key] for key in ("balance", "equity", "currency", "leverage")} == {
        "balance": 10_000.0, "equity": 10_000.0, "currency": "USD", "leverage": 100}
    assert {"profit", "day_pl", "margin", "margin_free", "margin_level"} <= set(account)
    status = broker_status(broker_daemon)
    assert (status["kind"], status["account"], status["trade_mode"]) == ("sim", 51_234_567,
                                                                          "demo")
    assert broker_daemon.request("GET", "/api/account", token=None)[0] == 401


async def test_an_order_shows_up_live_and_its_close_is_reported_and_journalled(
    broker_daemon: Daemon, session: Any,
) -> None:
    daemon = broker_daemon
    client = await EventClient(session, f"{daemon.ws_url}?token={daemon.token}").connect()
    coid = order_id("W")
    (report,) = await asyncio.to_thread(place, daemon, coid, "SELL", decision_id="DEC-W")
    assert report["status"] == "done" and report["side"] == "SELL"
    ticket = report["ticket"]

    def has_position(event: dict[str, Any]) -> bool:
        return any(p["ticket"] == ticket for p in event["positions"])

    await client.wait_for(lambda: any(has_position(e) for e in client.of_type("POSITION_UPDATE")))
    (row,) = [p for p in daemon.get("/api/positions") if p["ticket"] == ticket]
    assert (row["symbol"], row["type"], row["direction"], row["volume"]) == ("EURUSD", 1,
                                                                            "SELL", 0.1)
    assert row["decision_id"] == "DEC-W" and row["entry_price"] == report["price"]
    assert {"price_current", "sl_price", "tp_price", "profit"} <= set(row)

    (closed, again) = await asyncio.to_thread(
        broker_do, daemon, {"op": "close", "op_id": f"close-{coid}", "ticket": ticket},
        {"op": "close", "op_id": f"close-{coid}", "ticket": ticket})
    assert closed["status"] == again["status"] == "done" and closed["ticket"] == ticket
    await client.wait_for(lambda: client.of_type("POSITION_CLOSED"))
    (event,) = client.of_type("POSITION_CLOSED")
    assert (event["ticket"], event["direction"], event["decision_id"]) == (ticket, "SELL",
                                                                          "DEC-W")
    (journal,) = await asyncio.to_thread(broker_do, daemon,
                                         {"op": "journal", "kind": "trade", "key": "EURUSD"})
    entries = [e for e in journal if e["record"]["ticket"] == ticket]
    assert len(entries) == 1 and entries[0]["decision_id"] == "DEC-W"
    assert entries[0]["record"]["exit_price"] == closed["price"]
    await client.wait_for(lambda: not any(has_position(e) for e in
                                          client.of_type("POSITION_UPDATE")[-1:]))
    # The same order again is answered from its record; nothing more reaches the terminal.
    (retry,) = await asyncio.to_thread(place, daemon, coid, "SELL")
    assert (retry["status"], retry["ticket"]) == ("done", ticket)
    assert terminal_books(daemon.data_dir, coid) == {"entries": 1, "exits": 0, "positions": 0}
    assert terminal_books(daemon.data_dir, closed["client_order_id"])["exits"] == 1
    await client.close()


def test_market_data_has_every_symbol_and_timeframe_in_one_reply(broker_daemon: Daemon) -> None:
    (data,) = broker_do(broker_daemon, {"op": "market_data", "symbols": [],
                                        "timeframes": ["M5", "H1"], "bars": 200})
    assert data["errors"] == {} and len(data["bars"]) == 11
    forming = (data["server_time"] + 2 * 3600) // 300 * 300  # server clock: UTC+2
    for bars in data["bars"].values():
        assert bars["M5"]["rows"] == bars["H1"]["rows"] == 200
        assert forming - 600 <= bars["M5"]["times"][-1] < forming  # closed bars only
    assert abs(data["server_time"] - WEDNESDAY_LONDON) < 3600


def test_the_fault_switch_api_checks_what_it_is_given(broker_daemon: Daemon) -> None:
    daemon = broker_daemon
    faults = daemon.get("/api/sim/faults")["faults"]
    assert faults["disconnect"] is False and "timeout_after_execution" in faults
    assert daemon.request("GET", "/api/sim/faults", token=None)[0] == 401
    status, body = daemon.request("POST", "/api/sim/faults", body={"disconect": True})
    assert status == 400 and "'disconect'" in body["detail"]
    status, body = daemon.request("POST", "/api/sim/faults", body={"requote_rate": 3})
    assert status == 400 and "requote_rate" in body["detail"]
    status, body = daemon.request("POST", "/api/sim/faults", body={"no_money": "yes"})
    assert status == 400 and "no_money" in body["detail"]
    assert daemon.request("POST", "/api/sim/faults", raw=b"[1]")[0] == 400


# switch, its "on" value, what an order gets meanwhile (status, reason), broker state meanwhile
FAULTS = [
    ("disconnect", True, ("refused", "disconnected"), "disconnected"),
    ("ipc_timeout", True, ("refused", "disconnected"), "disconnected"),
    ("requote_rate", 1.0, ("rejected", "requote"), "connected"),
    ("price_off_rate", 1.0, ("rejected", "price_off"), "connected"),
    ("algo_trading_off", True, ("refused", "terminal_not_trading"), "degraded"),
    ("no_money", True, ("rejected", "no_money"), "connected"),
    ("timeout_after_execution", True, ("done", "done"), "connected"),
]


@pytest.mark.parametrize(("switch", "on", "expected", "state"), FAULTS,
                         ids=[fault[0] for fault in FAULTS])
def test_each_fault_degrades_or_rejects_recovers_and_never_sends_twice(
    broker_daemon: Daemon, switch: str, on: Any, expected: tuple[str, str], state: str,
) -> None:
    daemon = broker_daemon
    wait_broker(daemon)
    assert set_faults(daemon, **{switch: on})[switch] == on
    try:
        meanwhile = wait_broker(daemon, state)
        if state != "connected":
            assert meanwhile["detail"], "a degraded broker says why"
        during = order_id("F")
        reports = place(daemon, during)
        final = reports[-1]
        assert final is not None and (final["status"], final["reason"]) == expected
        if switch == "timeout_after_execution":
            # The terminal executed it but the answer was lost: reported unknown, resolved
            # from the books under the same request id, never sent again.
            assert [r["status"] for r in reports] == ["unknown", "done"]
            assert reports[0]["request_id"] == final["request_id"] and final["ticket"]
        retried = place(daemon, during)[-1]
        assert retried is not None and retried["status"] == final["status"]
    finally:
        set_faults(daemon, **{switch: type(on)()})  # False / 0.0
    wait_broker(daemon)
    after = order_id("F")
    (recovered,) = place(daemon, after)
    assert recovered is not None and recovered["status"] == "done"
    sent = 1 if expected[0] == "done" else 0
    assert terminal_books(daemon.data_dir, during)["entries"] == sent
    assert terminal_books(daemon.data_dir, after)["entries"] == 1
    broker_do(daemon, {"op": "close_all", "op_id": f"flat-{after}"})


def test_an_order_not_sent_by_the_risk_manager_is_refused(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """With the approval check on (the default), the same client's order never reaches the
    terminal: only the RiskManager may open a position."""
    daemon = Daemon(tmp_path_factory.mktemp("approval") / "data", *BROKER_SETTINGS,
                    "broker.require_approval=true")
    try:
        daemon.start()
        wait_broker(daemon)
        coid = order_id("R")
        (report,) = place(daemon, coid)
        assert report is not None
        assert (report["status"], report["reason"]) == ("rejected", "NOT_FROM_RISK")
        assert terminal_books(daemon.data_dir, coid) == {"entries": 0, "exits": 0,
                                                         "positions": 0}
        broker = daemon.get("/api/broker")
        assert (broker["kind"], broker["connected"], broker["trade_mode"]) == ("sim", True,
                                                                             "demo")
        assert broker["server_utc_offset_s"] == 7200 and broker["account"] == 51_234_567
    finally:
        daemon.stop()
