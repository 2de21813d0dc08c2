"""The broker's pacing of its own terminal reads (actors.broker.pacing): a due read yields once
to waiting messages, waits while an order is on its way out, and quote rounds cut short by
their budget go on in turn."""

from __future__ import annotations

from actors.broker.pacing import (
    QUOTE_COST_SHARE,
    QuoteRotation,
    ReadStep,
    defer_read,
    next_quote_delay,
    read_step,
)


def test_a_due_read_yields_once_then_waits_for_an_order_on_its_way_then_reads() -> None:
    assert read_step(yielded=False, order_waiting=False) is ReadStep.YIELD
    assert read_step(yielded=False, order_waiting=True) is ReadStep.YIELD
    assert read_step(yielded=True, order_waiting=True) is ReadStep.WAIT
    assert read_step(yielded=True, order_waiting=False) is ReadStep.READ


def test_market_data_waits_for_an_order_on_its_way_and_then_keeps_its_turn() -> None:
    assert defer_read(order_waiting=True, held=0)
    assert defer_read(order_waiting=False, held=2)  # those held go first
    assert not defer_read(order_waiting=False, held=0)


def test_the_next_quote_round_waits_its_interval_or_ten_times_its_cost() -> None:
    assert next_quote_delay(0.25, 0.001) == 0.25
    assert next_quote_delay(0.25, 0.6) == 0.6 * QUOTE_COST_SHARE


def test_rounds_cut_short_go_on_from_the_next_symbol_and_cover_every_symbol() -> None:
    universe = ("A", "B", "C", "D", "E")
    rotation = QuoteRotation()
    assert rotation.order(universe) == universe
    seen: list[str] = []
    for read in (1, 2, 1, 3):
        seen += rotation.order(universe)[:read]
        rotation.advance(read, len(universe))
    assert seen == ["A", "B", "C", "D", "E", "A", "B"]
    assert rotation.order(universe) == ("C", "D", "E", "A", "B")
    rotation.advance(5, 5)  # a whole round: the same start again
    assert rotation.order(universe)[0] == "C"
    assert rotation.order(("X", "Y")) == ("X", "Y")  # a smaller universe after a reconnect
    assert rotation.order(()) == ()
