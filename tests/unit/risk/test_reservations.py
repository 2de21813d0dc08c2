"""Reserved risk: approvals judged on an old snapshot of the books still never exceed the
day's budget together, because each approval sees what the earlier ones reserved."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.risk.reservations import Ledger, approve_and_reserve, ledger_from_dict, ledger_to_dict
from actors.risk.rules import RiskParams
from actors.risk.sizing import SizingParams
from actors.risk.state import RiskState
from messages.books import DealRecord
from messages.risk import Exposure
from tests.unit.risk.builders import GOLD_SPEC, order, walk_bars

# Correlation and currency limits off: this is about the budget alone.
RULES = RiskParams(max_correlation=1.01, max_currency_exposure=100, max_concurrent=100)
# About 30 a trade against the daily 100: the fourth approval must not fit in full.
SIZING = SizingParams(max_risk_pct=0.3, confidence_bands=((0.0, 0.3),))
LIMIT = RULES.max_daily_loss
METALS = ("XAUUSD", "XAGUSD", "XPTUSD", "XPDUSD", "XAUEUR", "XAGEUR")


def _approve(ledger: Ledger, books: tuple[Exposure, ...], coid: str, wall: float = 0.0):
    symbol = METALS[int(coid[1:]) % len(METALS)]  # one position a symbol, as the rules want
    bars = walk_bars(int(coid[1:]), start=2350.0)
    candidate = order(market={"symbol": symbol, "exposures": books},
                      m1_bars={s: bars for s in METALS})
    return approve_and_reserve(candidate, coid, ledger, RiskState(), RULES, SIZING, wall)


def test_approvals_from_the_same_old_snapshot_share_one_budget() -> None:
    ledger, approved = Ledger(), []
    for n in range(6):  # every one judged on the same, empty, books
        approval, ledger = _approve(ledger, (), f"E{n}")
        if approval.allowed:
            approved.append(approval.sizing.risk_money)
    assert len(approved) >= 3  # the budget is used, not refused outright
    assert sum(approved) <= LIMIT + 1e-9


def test_a_refusal_gives_the_budget_back_and_a_fill_keeps_it_until_the_books_show_it() -> None:
    ledger = Ledger()
    for n in range(4):
        _, ledger = _approve(ledger, (), f"E{n}")
    full = ledger.reserved_money
    refused, ledger_after = _approve(ledger, (), "E9")
    assert not refused.allowed or ledger_after.reserved_money <= LIMIT
    ledger = ledger.release("E0")
    assert ledger.reserved_money < full
    filled = ledger.fill("E1", ticket=501, volume=None, price=None)
    held = filled.reservations["E1"].exposure
    assert held.ticket == 501 and not held.pending
    # The same position, now in the books, is counted once.
    books = (replace(held, pending=False),)
    assert len(filled.exposures_with(books)) == len(filled.reservations)
    assert "E1" not in filled.seen_in(books)


def _exit_deal(position: int, volume: float) -> DealRecord:
    return DealRecord(ticket=position + 10_000, order=position + 20_000, time=0, time_msc=0,
                      type=1, entry=1, magic=234000, position_id=position, reason=4,
                      volume=volume, price=0.0, commission=0.0, swap=0.0, profit=-3.0,
                      fee=0.0, symbol="", comment="", external_id="")


def test_a_position_closed_before_any_books_showed_it_no_longer_counts_as_open() -> None:
    """Opened and closed between two polls (a TP one point away): its closing deal ends the
    reservation, so its risk is not held on top of its realised loss until it expires."""
    _, ledger = _approve(Ledger(), (), "E0")
    volume = ledger.reservations["E0"].exposure.volume
    ledger = ledger.fill("E0", ticket=501)
    assert "E0" in ledger.closed_by([_exit_deal(501, volume / 2)])  # the rest is still open
    assert "E0" in ledger.closed_by([_exit_deal(777, volume)])  # another position's exit
    closed = ledger.closed_by([_exit_deal(501, volume / 2), _exit_deal(501, volume / 2)])
    assert "E0" not in closed
    again, _ = _approve(closed, (), "E6")  # E6 trades E0's symbol (one position a symbol)
    assert again.allowed
    blocked, _ = _approve(ledger, (), "E6")
    assert not blocked.allowed


def test_a_reservation_that_hears_nothing_expires() -> None:
    _, ledger = _approve(Ledger(ttl_s=600.0), (), "E1", wall=1000.0)
    assert "E1" in ledger.expire(1500.0)
    assert "E1" not in ledger.expire(1600.0)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["approve", "fill", "refuse", "refresh"]),
                          st.integers(0, 9)), min_size=1, max_size=30))
def test_no_interleaving_of_approvals_fills_refusals_and_stale_books_exceeds_the_budget(
        steps: list[tuple[str, int]]) -> None:
    ledger = Ledger()
    live: dict[str, float] = {}  # what each live order risks at its stop: the truth
    positions: dict[str, Exposure] = {}
    books: tuple[Exposure, ...] = ()  # what the last snapshot showed (may be stale)
    count = 0
    for action, pick in steps:
        names = sorted(live)
        if action == "approve":
            count += 1
            approval, ledger = _approve(ledger, books, f"E{count}")
            if approval.allowed:
                live[f"E{count}"] = approval.sizing.risk_money
        elif action == "fill" and names:
            name = names[pick % len(names)]
            if name not in positions:
                ticket = 1000 + int(name[1:])
                ledger = ledger.fill(name, ticket)
                positions[name] = replace(ledger.reservations[name].exposure, ticket=ticket)
        elif action == "refuse" and names:
            name = names[pick % len(names)]
            if name not in positions:
                ledger = ledger.release(name)
                del live[name]
        elif action == "refresh":
            books = tuple(positions.values())
        assert sum(live.values()) <= LIMIT + 1e-9, (steps, live)
    assert GOLD_SPEC.tick_size  # the builder's gold spec is what was sized


def test_the_ledger_survives_a_restart_as_plain_values() -> None:
    _, ledger = _approve(Ledger(), (), "E1", wall=1000.0)
    ledger = ledger.fill("E1", ticket=77)
    _, ledger = _approve(ledger, (), "E2", wall=1001.0)
    restored = ledger_from_dict(json.loads(json.dumps(ledger_to_dict(ledger))))
    assert restored.reservations == ledger.reservations
    assert restored.reserved_money == ledger.reserved_money
    with pytest.raises(ValueError, match="malformed"):
        ledger_from_dict({"E1": {"exposure": {}}})
