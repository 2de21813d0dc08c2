"""The write-ahead ledger: every transition, and the property that makes "never twice" hold —
whatever happens, including restarts that reload the ledger, a client order id becomes sendable
(``WRITING → SENDING``) at most once."""

from __future__ import annotations

import dataclasses

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.broker.intents import (
    Intent,
    IntentLedger,
    IntentStatus,
    close_order_id,
    intent_key,
    report_status,
)
from messages.market import Side
from messages.orders import (
    CLIENT_ORDER_ID_PATTERN,
    FateStatus,
    OrderFate,
    OrderIntent,
    OrderOutcome,
    Outcome,
)

NOW = 1_700_000_000.0


def _open(coid: str = "E1", **changes: object) -> Intent:
    intent = Intent(client_order_id=coid, kind="open", status=IntentStatus.WRITING,
                    symbol="EURUSD", side="BUY", volume=0.1, request_id="r1", created_at=NOW,
                    decision_id="D1")
    return dataclasses.replace(intent, **changes)


def _outcome(status: Outcome, reason: str = "done", **fields: object) -> OrderOutcome:
    return OrderOutcome(status, reason, "E1", sent=True, **fields)


def _sending(ledger: IntentLedger, intent: Intent | None = None) -> Intent:
    intent = intent or _open()
    ledger.begin(intent)
    return ledger.durable(intent.client_order_id, NOW)


def test_an_intent_is_sendable_only_after_its_write_ahead_is_durable() -> None:
    ledger = IntentLedger()
    begun = ledger.begin(_open())
    assert begun.status is IntentStatus.WRITING and not begun.unresolved
    with pytest.raises(ValueError):
        ledger.apply_outcome("E1", _outcome(Outcome.DONE), NOW)  # not durable: cannot be sent
    assert ledger.durable("E1", NOW).status is IntentStatus.SENDING
    with pytest.raises(ValueError):
        ledger.durable("E1", NOW)  # a second "go" is impossible


def test_a_known_client_order_id_cannot_be_begun_again() -> None:
    ledger = IntentLedger()
    _sending(ledger)
    with pytest.raises(KeyError):
        ledger.begin(_open())


def test_a_done_open_records_its_position_ticket_price_and_volume() -> None:
    ledger = IntentLedger()
    _sending(ledger)
    done = ledger.apply_outcome("E1", _outcome(Outcome.DONE, retcode=10009, order=501,
                                               price=1.1, volume=0.1), NOW + 1)
    assert (done.status, done.ticket, done.price, done.filled_volume, done.retcode) == (
        IntentStatus.DONE, 501, 1.1, 0.1, 10009)
    assert done.final and report_status(done.status) == "done"


@pytest.mark.parametrize("status", [Outcome.REJECTED, Outcome.WAIT, Outcome.RETRY_PRICE])
def test_outcomes_that_did_not_execute_are_rejected_and_final(status: Outcome) -> None:
    ledger = IntentLedger()
    _sending(ledger)
    rejected = ledger.apply_outcome("E1", _outcome(status, "no_money", retcode=10019), NOW)
    assert rejected.status is IntentStatus.REJECTED and rejected.reason == "no_money"
    assert rejected.final and not ledger.unresolved()


def test_a_close_that_finds_its_position_gone_is_done() -> None:
    ledger = IntentLedger()
    _sending(ledger, _open("x1", kind="close", ticket=77))
    outcome = OrderOutcome(Outcome.REJECTED, "position_not_found", "x1", sent=False)
    done = ledger.apply_outcome("x1", outcome, NOW)
    assert (done.status, done.reason, done.ticket) == (IntentStatus.DONE, "already_closed", 77)


def test_an_unknown_outcome_is_resolved_from_the_books_never_resent() -> None:
    ledger = IntentLedger()
    _sending(ledger)
    unknown = ledger.apply_outcome("E1", _outcome(Outcome.UNKNOWN, "ipc_timeout"), NOW)
    assert unknown.unresolved and report_status(unknown.status) == "unknown"
    assert ledger.unresolved() == [unknown]
    fate = OrderFate("E1", 7, FateStatus.FILLED, order=900, position=900, volume=0.1, price=1.2)
    done = ledger.apply_fate("E1", fate, NOW + 2, in_flight_s=60)
    assert (done.status, done.ticket, done.price) == (IntentStatus.DONE, 900, 1.2)
    assert ledger.apply_fate("E1", fate, NOW + 3, in_flight_s=60) is done  # final stays final


def test_not_found_is_final_only_once_the_order_cannot_be_in_flight() -> None:
    ledger = IntentLedger()
    _sending(ledger)
    ledger.apply_outcome("E1", _outcome(Outcome.UNKNOWN, "timeout"), NOW)
    missing = OrderFate("E1", 7, FateStatus.NOT_FOUND)
    early = ledger.apply_fate("E1", missing, NOW + 10, in_flight_s=60)
    assert early.status is IntentStatus.UNKNOWN and early.not_found_checks == 1
    late = ledger.apply_fate("E1", missing, NOW + 61, in_flight_s=60)
    assert (late.status, late.reason, late.not_found_checks) == (
        IntentStatus.REJECTED, "not_executed", 2)


def test_a_terminal_in_our_own_process_settles_not_found_at_once() -> None:
    ledger = IntentLedger()
    _sending(ledger)
    settled = ledger.apply_fate("E1", OrderFate("E1", 7, FateStatus.NOT_FOUND), NOW, 0.0)
    assert settled.status is IntentStatus.REJECTED


@pytest.mark.parametrize(("fate", "status", "reason"), [
    (FateStatus.PENDING, IntentStatus.DONE, "placed"),
    (FateStatus.CANCELLED, IntentStatus.REJECTED, "cancelled"),
])
def test_pending_and_cancelled_fates(fate: FateStatus, status: IntentStatus,
                                     reason: str) -> None:
    ledger = IntentLedger()
    _sending(ledger)
    resolved = ledger.apply_fate("E1", OrderFate("E1", 7, fate, order=5), NOW, 60)
    assert (resolved.status, resolved.reason) == (status, reason)


def test_a_recorded_but_unsent_intent_can_be_refused_and_a_failed_write_abandoned() -> None:
    ledger = IntentLedger()
    _sending(ledger)
    refused = ledger.refuse("E1", "disconnected", NOW)
    assert refused.status is IntentStatus.REFUSED and report_status(refused.status) == "refused"
    ledger.begin(_open("E2"))
    ledger.abandon("E2")
    assert "E2" not in ledger
    with pytest.raises(ValueError):
        ledger.abandon("E1")  # only a write in progress can be abandoned


def test_records_round_trip_and_a_reloaded_writing_record_reads_as_sending() -> None:
    ledger = IntentLedger()
    _sending(ledger)
    done = ledger.apply_outcome("E1", _outcome(Outcome.DONE, order=3), NOW)
    assert Intent.from_record(done.to_record()) == done
    reloaded = IntentLedger()
    broken = reloaded.load({
        intent_key("E1"): done.to_record(),
        intent_key("E9"): _open("E9").to_record(),  # WRITING is never persisted; if it were…
        intent_key("bad"): {"client_order_id": "bad"},
    })
    assert broken == [intent_key("bad")]
    assert reloaded["E1"] == done
    assert reloaded["E9"].status is IntentStatus.SENDING  # …it may have been sent: unresolved


def test_the_open_behind_a_position_is_found_by_comment_or_ticket() -> None:
    ledger = IntentLedger()
    _sending(ledger)
    ledger.apply_outcome("E1", _outcome(Outcome.DONE, order=42), NOW)
    assert ledger.opened_position(42).client_order_id == "E1"
    assert ledger.opened_position(0, comment="E1").decision_id == "D1"
    assert ledger.opened_position(43) is None


def test_close_order_ids_are_stable_distinct_and_fit_the_mt5_comment() -> None:
    first, again, other = close_order_id("op-1"), close_order_id("op-1"), close_order_id("op-2")
    assert first == again != other
    assert len(first) == 25 and CLIENT_ORDER_ID_PATTERN.match(first)
    OrderIntent("EURUSD", Side.SELL, 0.1, first, 7)  # accepted by the gateway


_OPS = st.lists(
    st.tuples(st.sampled_from(["begin", "durable", "outcome", "unknown", "fate", "restart"]),
              st.sampled_from(["A", "B", "C"])),
    max_size=60,
)


@settings(max_examples=300, deadline=None)
@given(_OPS)
def test_whatever_happens_a_client_order_id_is_released_for_sending_at_most_once(
    ops: list[tuple[str, str]],
) -> None:
    ledger = IntentLedger()
    durable: dict[str, Intent] = {}  # what SharedState holds: only durable records
    sends = dict.fromkeys("ABC", 0)
    for op, coid in ops:
        intent = ledger.get(coid)
        try:
            if op == "begin" and intent is None:
                ledger.begin(_open(coid))
            elif op == "durable":
                durable[coid] = ledger.durable(coid, NOW)
                sends[coid] += 1
            elif op in ("outcome", "unknown"):
                status = Outcome.DONE if op == "outcome" else Outcome.UNKNOWN
                durable[coid] = ledger.apply_outcome(coid, _outcome(status), NOW)
            elif op == "fate" and intent is not None:
                fate = OrderFate(coid, 7, FateStatus.NOT_FOUND)
                durable[coid] = ledger.apply_fate(coid, fate, NOW, 0.0)
            elif op == "restart":
                ledger = IntentLedger()
                ledger.load({intent_key(c): i.to_record() for c, i in durable.items()})
        except (KeyError, ValueError):
            pass  # a transition that does not apply in this state is refused
    assert all(count <= 1 for count in sends.values()), sends
