"""An operator's close-all over its tries: a refusal that passes soon is tried again, a lasting
one is not, and the operator's answer counts what every try closed."""

from __future__ import annotations

from actors.risk.close_all import TRIES, CloseAllTries
from messages.trading import OrderReport

FROZEN = OrderReport("r", "rejected", "8: frozen", closed=(7,), retry_later=True)


def test_a_frozen_position_is_tried_again_under_a_fresh_op_id_until_it_closes() -> None:
    tries = CloseAllTries("op-1")
    assert tries.next_op_id == "op-1"  # the operator's own: asked again, answered from records
    tries = tries.answered(FROZEN)
    assert tries.again(FROZEN) and tries.next_op_id == "op-1/try2"
    closed = OrderReport("r", "done", "closed 1 position(s)", closed=(8,))
    tries = tries.answered(closed)
    assert not tries.again(closed)
    assert tries.answer(closed) == (200, "closed 2 position(s) in 2 tries")


def test_the_tries_end_and_the_operator_hears_the_last_refusal() -> None:
    tries = CloseAllTries("op-1")
    for _ in range(TRIES):
        assert tries.tries < TRIES
        tries = tries.answered(FROZEN if tries.tries == 0 else
                               OrderReport("r", "rejected", "8: frozen", retry_later=True))
    assert not tries.again(FROZEN)
    assert tries.answer(FROZEN) == (
        409, f"close-all rejected: 8: frozen (closed 1 position(s) in {TRIES} tries)")


def test_a_lasting_refusal_is_answered_at_once() -> None:
    no_money = OrderReport("r", "rejected", "8: no_money", retry_later=False)
    tries = CloseAllTries("op-1").answered(no_money)
    assert not tries.again(no_money)
    assert tries.answer(no_money) == (409, "close-all rejected: 8: no_money")
    done = OrderReport("r", "done", "closed 3 position(s)", closed=(1, 2, 3))
    assert CloseAllTries("op-2").answered(done).answer(done) == (200, "closed 3 position(s)")
