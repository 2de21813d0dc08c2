"""The RiskManager's submission steps: a retry is answered from its reservation, nothing goes
out without a saved reservation, and only a final report moves the books."""

from __future__ import annotations

from actors.risk.reservations import Ledger
from actors.risk.state import RiskState, broker_day
from actors.risk.submission import (
    OnItsWay,
    Refuse,
    Reserve,
    order_reported,
    reservation_written,
    submit,
)
from messages.orders import Outcome
from messages.risk import DenialCode
from messages.trading import OrderReport
from tests.unit.risk.builders import order, walk_bars
from tests.unit.risk.test_reservations import METALS, RULES, SIZING


def _reserved() -> tuple[Ledger, RiskState, Reserve]:
    candidate = order(market={"symbol": METALS[0]},
                      m1_bars={s: walk_bars(1, start=2350.0) for s in METALS})
    now = candidate.market.now or 0.0
    state = RiskState(broker_day=broker_day(now, RULES.counters))
    ledger, state, step = submit(candidate, "E1", Ledger(), state, None, RULES, SIZING, now, 0.0)
    assert isinstance(step, Reserve) and step.risk_money > 0
    assert state is not None and "E1" in ledger
    return ledger, state, step


def test_a_retried_submission_is_answered_from_its_reservation_and_reserves_nothing_more() -> None:
    ledger, state, step = _reserved()
    again, _, retry = submit(order(), "E1", ledger, state, None, RULES, SIZING, 0.0, 0.0)
    assert retry == OnItsWay(step.sized.volume, step.risk_money)
    assert again is ledger


def test_without_a_state_or_an_input_nothing_is_judged() -> None:
    _, _, loading = submit(order(), "E2", Ledger(), None, None, RULES, SIZING, 0.0, 0.0)
    assert loading == Refuse(DenialCode.MISSING_INPUT.value, "the risk state is still loading")
    ledger, _, blind = submit(order(), "E2", Ledger(), RiskState(), "no broker clock", RULES,
                              SIZING, 0.0, 0.0)
    assert blind == Refuse(DenialCode.MISSING_INPUT.value, "no broker clock")
    assert "E2" not in ledger


def test_an_order_goes_only_once_its_reservation_is_saved() -> None:
    ledger, _, _ = _reserved()
    assert reservation_written(ledger, "E1", saved=True) == (ledger, None)
    released, refusal = reservation_written(ledger, "E1", saved=False)
    assert refusal is not None and refusal.code == DenialCode.MISSING_INPUT.value
    assert "SharedState" in refusal.why and "E1" not in released


def test_a_fill_becomes_the_position_and_counts_the_trade_a_refusal_releases() -> None:
    ledger, state, _ = _reserved()
    filled = order_reported(ledger, state, "E1", METALS[0],
                            OrderReport("r", Outcome.DONE.value, "", "E1", ticket=7, volume=0.2),
                            1000.0, RULES)
    held = filled.ledger.reservations["E1"]
    assert held.filled and held.exposure.ticket == 7 and held.exposure.volume == 0.2
    assert filled.state.last_trade_time[METALS[0]] == 1000.0
    assert filled.ledger_changed and filled.state_changed

    refused = order_reported(ledger, state, "E1", METALS[0],
                             OrderReport("r", Outcome.REJECTED.value, "no money", "E1"),
                             1000.0, RULES)
    assert "E1" not in refused.ledger and refused.ledger_changed and not refused.state_changed

    waiting = order_reported(ledger, state, "E1", METALS[0],
                             OrderReport("r", Outcome.UNKNOWN.value, "sent", "E1"), 1000.0, RULES)
    assert waiting == type(waiting)(ledger, state, False, False)
