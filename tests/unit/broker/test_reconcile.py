"""The broker's checks of the account and terminal, its reconciliation plan, and its order gate."""

from __future__ import annotations

import dataclasses

import pytest

from actors.broker.gate import GateState, refusal_reason
from actors.broker.intents import Intent, IntentLedger, IntentStatus
from actors.broker.positions_tracker import TrackedPosition
from actors.broker.reconcile import (
    connection_verdict,
    estimate_server_offset,
    foreign_summary,
    plan_reconciliation,
    trade_mode_name,
)
from messages.books import AccountRecord, OrderRecord, PositionRecord, TerminalRecord

MAGIC = 234000


def _account(**changes: object) -> AccountRecord:
    account = AccountRecord(
        login=51, trade_mode=0, leverage=100, limit_orders=0, margin_so_mode=0,
        trade_allowed=True, trade_expert=True, margin_mode=2, currency_digits=2,
        fifo_close=False, balance=1.0, credit=0.0, profit=0.0, equity=1.0, margin=0.0,
        margin_free=1.0, margin_level=0.0, margin_so_call=50.0, margin_so_so=30.0,
        margin_initial=0.0, margin_maintenance=0.0, assets=0.0, liabilities=0.0,
        commission_blocked=0.0, name="n", server="Demo-1", currency="USD", company="c",
    )  # fmt: skip
    return dataclasses.replace(account, **changes)


def _terminal(**changes: object) -> TerminalRecord:
    terminal = TerminalRecord(
        community_account=False, community_connection=False, connected=True,
        dlls_allowed=False, trade_allowed=True, tradeapi_disabled=False, email_enabled=False,
        ftp_enabled=False, notifications_enabled=False, mqid=False, build=4000, maxbars=100000,
        codepage=0, ping_last=0, community_balance=0.0, retransmission=0.0, company="c",
        name="t", language="en", path="", data_path="", commondata_path="",
    )  # fmt: skip
    return dataclasses.replace(terminal, **changes)


def _verdict(account: AccountRecord, terminal: TerminalRecord | None = None, *,
             login: int | None = None, server: str | None = None, allow_real: bool = False):
    return connection_verdict(account, terminal or _terminal(), expected_login=login,
                              expected_server=server, allow_real_account=allow_real)


def test_a_demo_account_on_a_trading_terminal_is_connected() -> None:
    verdict = _verdict(_account())
    assert verdict.state == "connected" and verdict.may_trade and verdict.detail == ""


def test_a_real_account_is_refused_unless_allowed() -> None:
    refused = _verdict(_account(trade_mode=2))
    assert refused.state == "refused" and "allow_real_account" in refused.detail
    assert _verdict(_account(trade_mode=2), allow_real=True).state == "connected"
    assert trade_mode_name(2) == "real" and trade_mode_name(0) == "demo"


def test_the_wrong_account_or_server_is_refused() -> None:
    assert _verdict(_account(), login=52).state == "refused"
    assert _verdict(_account(), server="Other").state == "refused"
    assert _verdict(_account(), login=51, server="Demo-1").state == "connected"


@pytest.mark.parametrize(("terminal", "account", "words"), [
    ({"trade_allowed": False}, {}, "algo trading is disabled"),
    ({"connected": False}, {}, "not connected to its trade server"),
    ({"tradeapi_disabled": True}, {}, "Python API"),
    ({}, {"trade_expert": False}, "expert trading"),
])
def test_a_terminal_that_cannot_trade_is_degraded_and_says_why(
    terminal: dict[str, bool], account: dict[str, bool], words: str,
) -> None:
    verdict = _verdict(_account(**account), _terminal(**terminal))
    assert verdict.state == "degraded" and not verdict.may_trade and words in verdict.detail


def _position(ticket: int, magic: int) -> PositionRecord:
    return PositionRecord(ticket, 0, 0, 0, 0, 0, magic, ticket, 3, 0.1, 1.1, 0.0, 0.0, 1.1,
                          0.0, 0.0, "EURUSD", f"E{ticket}", "")


def _order(ticket: int, magic: int) -> OrderRecord:
    return OrderRecord(ticket, 0, 0, 0, 0, 0, 2, 0, 2, 1, magic, 0, 0, 0, 0.1, 0.1, 1.0, 0.0,
                       0.0, 1.1, 0.0, "EURUSD", "", "")


def test_the_plan_adopts_ours_leaves_foreign_alone_and_finds_what_closed_meanwhile() -> None:
    ledger = IntentLedger()
    ledger.load({"k": Intent("E9", "open", IntentStatus.SENDING, "EURUSD", "BUY", 0.1, "r",
                             1.0).to_record()})
    tracked = {1: TrackedPosition.adopt(_position(1, MAGIC)),
               5: TrackedPosition.adopt(_position(5, MAGIC))}
    plan = plan_reconciliation(
        [_position(1, MAGIC), _position(2, MAGIC), _position(3, 0)],
        [_order(8, MAGIC), _order(9, 11)], MAGIC, tracked, ledger,
    )  # fmt: skip
    assert [p.ticket for p in plan.ours] == [1, 2]
    assert [p.ticket for p in plan.adopt] == [2]
    assert [p.ticket for p in plan.foreign] == [3]
    assert [o.ticket for o in plan.our_orders] == [8]
    assert [o.ticket for o in plan.foreign_orders] == [9]
    assert [t.ticket for t in plan.vanished] == [5]
    assert [i.client_order_id for i in plan.unresolved] == ["E9"]
    summary = foreign_summary(plan)
    assert "1 foreign position(s) left alone (3)" in summary and "order(s)" in summary


def test_the_server_offset_is_read_from_a_fresh_tick_only() -> None:
    now = 1_700_000_000.0
    assert estimate_server_offset(now + 7200 - 3, now) == 7200
    assert estimate_server_offset(now - 3600 + 1, now) == -3600
    assert estimate_server_offset(now - 20_000, now) is None  # a tick from the last close
    assert estimate_server_offset(now + 20 * 3600, now) is None


def _refusal(opening: bool = True, **changes: object) -> str | None:
    state: dict[str, object] = {"connected": True, "reconciled": True, "may_trade": True,
                                "gate": GateState(), "unresolved_orders": 0}
    state.update(changes)
    return refusal_reason(opening=opening, **state)  # type: ignore[arg-type]


@pytest.mark.parametrize(("changes", "opening", "reason"), [
    ({}, True, None),
    ({"connected": False}, False, "disconnected"),
    ({"reconciled": False}, False, "not_reconciled"),
    ({"may_trade": False}, False, "terminal_not_trading"),
    ({"gate": GateState(kill_switch=True)}, True, "kill_switch"),
    ({"gate": GateState(kill_switch=True)}, False, None),
    ({"gate": GateState("HALTED")}, True, "trading_halted"),
    ({"gate": GateState("HALTED")}, False, None),
    ({"gate": GateState("REDUCING")}, True, "trading_reducing"),
    ({"gate": GateState("REDUCING")}, False, None),
    ({"gate": GateState("PAUSED")}, True, "trading_paused"),
    ({"gate": GateState("SOMETHING")}, True, "trading_mode_unknown"),
    ({"unresolved_orders": 1}, True, "unresolved_order"),
    ({"unresolved_orders": 1}, False, None),
])
def test_the_gate(changes: dict[str, object], opening: bool, reason: str | None) -> None:
    assert _refusal(opening, **changes) == reason
