"""What blocks new entries, as the header and GET /api/risk show it: only account-wide rules
block, and the day's figures add up."""

from __future__ import annotations

from dataclasses import replace

from actors.app.settings import load_settings
from actors.risk.reservations import Ledger, Reservation
from actors.risk.rules import loss_stops_the_day
from actors.risk.standing import account_after_deals, standing
from actors.risk.state import (
    RiskState,
    broker_day,
    latch_kill_switch,
    roll_broker_day,
    set_paused,
    state_from_dict,
    state_to_dict,
    stop_the_day,
)
from tests.unit.risk.builders import NOW, exposure, market

RULES = load_settings(environ={}).risk.rules  # 2 % of the balance a day


def _account(floating: float = 0.0):
    return market(balance=10_000.0, floating_pnl=floating, exposures=())


def test_nothing_blocks_a_fresh_day_and_its_budget_is_the_whole_limit() -> None:
    state = roll_broker_day(RiskState(), NOW, RULES.counters)
    now = standing(state, RULES, Ledger(), _account(), NOW)
    assert now.blocked_by == () and now.words == ""
    assert now.day.loss_limit == 200.0 and now.day.remaining == 200.0
    assert now.day.broker_day == "2024-07-03"  # a date, as each closed trade's broker_day
    east = replace(RULES, counters=replace(RULES.counters, broker_utc_offset_seconds=13 * 3600))
    assert standing(state, east, Ledger(), _account(), NOW).day.broker_day == "2024-07-04"


def test_the_days_loss_blocks_and_says_so_in_words() -> None:
    state = roll_broker_day(RiskState(), NOW, RULES.counters)
    state = replace(state, day_realised_pnl=-150.0)
    now = standing(state, RULES, Ledger(), _account(floating=-60.0), NOW)
    assert now.blocked_by == ("DAILY_LOSS_LIMIT",) and now.words == "daily loss limit"
    assert now.day.realised == -150.0 and now.day.remaining == 50.0


def test_pause_and_kill_switch_block_and_reservations_use_the_budget() -> None:
    state = roll_broker_day(RiskState(), NOW, RULES.counters)
    paused = standing(set_paused(state, True), RULES, Ledger(), _account(), NOW)
    assert paused.blocked_by == ("PAUSED",)
    latched = standing(latch_kill_switch(state, "operator", NOW), RULES, Ledger(), _account(),
                       NOW)
    assert "KILL_SWITCH" in latched.blocked_by
    ledger = Ledger().reserve(Reservation("E1", exposure(), 30.0, 0.0))
    held = standing(state, RULES, ledger, _account(), NOW)
    assert held.day.reserved == 30.0 and held.day.remaining == 170.0


def test_before_any_account_is_seen_trading_is_blocked_as_waiting() -> None:
    now = standing(RiskState(), RULES, Ledger(), None, NOW)
    assert now.blocked_by and now.words.startswith("waiting for the account")
    assert now.day.loss_limit is None and now.day.remaining is None


def test_a_loss_well_beyond_its_stop_stops_the_rest_of_its_broker_day() -> None:
    """The seed's −153.37 on a planned 99 (−1.55R): the stops the day was budgeted on did
    not hold, so no new entry until the next broker day; a cent of slippage does not."""
    assert not loss_stops_the_day(99.0, 0.5, RULES)
    assert loss_stops_the_day(99.0, 54.37, RULES)
    assert not loss_stops_the_day(0.0, 54.37, RULES)  # planned risk unknown: not judged
    today = broker_day(NOW, RULES.counters)
    state = stop_the_day(roll_broker_day(RiskState(), NOW, RULES.counters), today,
                         "EURUSD #7 lost 54.37 beyond its stop")
    now = standing(state, RULES, Ledger(), _account(), NOW)
    assert now.blocked_by == ("DAY_STOPPED",) and "loss beyond a stop" in now.words
    assert state_from_dict(state_to_dict(state)) == state  # survives a restart
    tomorrow = NOW + 86_400
    assert standing(state, RULES, Ledger(), replace(_account(), now=tomorrow),
                    tomorrow).blocked_by == ()
    # The latest account is still today's when no scan has come since (a blocked strategy
    # sends none): tomorrow is judged as tomorrow all the same.
    assert standing(state, RULES, Ledger(), _account(), tomorrow).blocked_by == ()


def test_a_closed_position_s_loss_is_counted_once_not_also_as_still_floating() -> None:
    """The last scan saw a position 120 under water; then its stop closed it for −130. With
    the scan's account the day would count −130 realised plus −120 floating and block at the
    200 limit; the poll that read the closing deal says nothing floats any more."""
    seen = market(balance=10_000.0, floating_pnl=-120.0,
                  exposures=(exposure(ticket=7), exposure(ticket=8, symbol="GBPUSD")))
    state = replace(roll_broker_day(RiskState(), NOW, RULES.counters), day_realised_pnl=-130.0)
    assert standing(state, RULES, Ledger(), seen, NOW).blocked_by == ("DAILY_LOSS_LIMIT",)
    polled = account_after_deals(seen, floating_pnl=-10.0, open_tickets=(8,))
    assert polled is not None and polled.floating_pnl == -10.0
    assert [e.ticket for e in polled.exposures or ()] == [8]
    now = standing(state, RULES, Ledger(), polled, NOW)
    assert now.blocked_by == () and now.day.realised == -130.0
    # Deals sent again to a new RiskManager carry no account: the one it has stays.
    assert account_after_deals(seen, None, None) is seen
    assert account_after_deals(None, -10.0, (8,)) is None
