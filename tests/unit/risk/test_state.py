"""Risk counters: broker day, deals, consecutive losses, kill switch latch, persistence."""

from __future__ import annotations

import json

import pytest

from actors.risk.state import (
    CounterParams,
    RiskState,
    TradingMode,
    broker_day,
    kill_switch_breach,
    latch_kill_switch,
    next_broker_day_at,
    record_order_sent,
    reset_kill_switch,
    roll_broker_day,
    set_mode,
    set_paused,
    state_from_dict,
    state_to_dict,
)
from tests.unit.risk.builders import NOW, closing, deal, fold, state_with

DAY = 86_400.0
PARAMS = CounterParams()


def test_broker_day_uses_the_server_offset():
    # 22:30 UTC is still "today" in UTC but already tomorrow on a GMT+2 server.
    late = 1_720_045_800.0  # 2024-07-03 22:30 UTC
    assert broker_day(late, CounterParams()) == 19907
    assert broker_day(late, CounterParams(broker_utc_offset_seconds=7200)) == 19908


def test_the_next_broker_day_begins_at_the_server_s_midnight():
    utc2 = CounterParams(broker_utc_offset_seconds=7200)
    assert next_broker_day_at(NOW, utc2) == 1_720_044_000.0  # 2024-07-03 22:00 UTC
    assert broker_day(next_broker_day_at(NOW, utc2), utc2) == broker_day(NOW, utc2) + 1
    assert broker_day(next_broker_day_at(NOW, utc2) - 1, utc2) == broker_day(NOW, utc2)
    assert next_broker_day_at(NOW, CounterParams()) == 1_720_051_200.0  # UTC midnight


def test_a_new_broker_day_resets_the_day_counters_only():
    state = state_with([closing(1, -40.0, NOW)])
    state = record_order_sent(state, "XAUUSD", NOW, PARAMS)
    assert state.day_realised_pnl == -40.0 and state.day_trade_count == 1
    rolled = roll_broker_day(state, NOW + DAY, PARAMS)
    assert rolled.day_realised_pnl == 0.0 and rolled.day_trade_count == 0
    assert rolled.deals == state.deals
    assert roll_broker_day(rolled, NOW + DAY + 60, PARAMS) is rolled


def test_deals_of_an_earlier_day_do_not_touch_today():
    state = state_with([closing(1, -10.0, NOW)])
    state = fold(state, closing(2, -50.0, NOW - DAY), PARAMS)
    assert state.day_realised_pnl == -10.0
    assert len(state.deals) == 2 and state.deals[0].ticket == 2


def test_applying_a_deal_twice_counts_it_once():
    loss = closing(7, -25.0)
    once = state_with([loss])
    twice = fold(once, loss, PARAMS)
    assert twice == once
    assert twice.consecutive_losses["XAUUSD"] == 1


def test_entry_commission_counts_in_the_day_and_sets_the_trade_time():
    entry = deal(3, "XAUUSD", NOW, 0.0, opens=True, commission=-3.5)
    state = state_with([entry])
    assert state.day_realised_pnl == -3.5
    assert state.last_trade_time["XAUUSD"] == NOW
    assert state.consecutive_losses == {}


def test_consecutive_losses_count_per_symbol_and_a_win_clears_them():
    state = state_with(
        [
            closing(1, -5.0, NOW - 300),
            closing(2, -5.0, NOW - 200, symbol="EURUSD"),
            closing(3, -5.0, NOW - 100),
        ]
    )
    assert state.consecutive_losses == {"XAUUSD": 2, "EURUSD": 1}
    assert state.last_loss_time["XAUUSD"] == NOW - 100
    state = fold(state, closing(4, 12.0, NOW), PARAMS)
    assert state.consecutive_losses["XAUUSD"] == 0
    flat = fold(state, closing(5, 0.0, NOW + 1, symbol="EURUSD"), PARAMS)
    assert flat.consecutive_losses["EURUSD"] == 1


def test_kill_switch_needs_ten_deals_and_latches_on_a_loss_over_sixty():
    nine = state_with([closing(i, -10.0, NOW + i) for i in range(9)])
    assert not nine.kill_switch_latched  # 90 lost, but only 9 deals
    ten = fold(nine, closing(9, -10.0, NOW + 9), PARAMS)
    assert ten.kill_switch_latched
    assert "100.00" in ten.kill_switch_reason
    # It stays latched even after winners take the window back above the threshold.
    winners = ten
    for i in range(10, 25):
        winners = fold(winners, closing(i, 50.0, NOW + i), PARAMS)
    assert winners.kill_switch_latched


def test_kill_switch_window_is_the_last_fifteen_closing_deals():
    deals = [closing(i, 10.0, NOW + i) for i in range(10)]  # +100, then losses
    deals += [closing(100 + i, -12.0, NOW + 100 + i) for i in range(5)]  # −60 → +40 total
    state = state_with(deals)
    assert not state.kill_switch_latched
    assert kill_switch_breach(state, PARAMS.kill_switch) is None
    # Ten more losses push the winners out of the 15-deal window: −12 × 15 = −180.
    for i in range(10):
        state = fold(state, closing(200 + i, -12.0, NOW + 200 + i), PARAMS)
    assert state.kill_switch_latched


def test_exactly_sixty_lost_does_not_trip():
    state = state_with([closing(i, -4.0, NOW + i) for i in range(15)])
    assert not state.kill_switch_latched


def test_reset_kill_switch_forgets_the_deals_that_tripped_it():
    tripped = state_with([closing(i, -10.0, NOW + i) for i in range(10)])
    assert tripped.kill_switch_latched
    reset = reset_kill_switch(tripped, NOW + 100)
    assert not reset.kill_switch_latched and reset.kill_switch_reason == ""
    assert kill_switch_breach(reset, PARAMS.kill_switch) is None
    # New losses after the reset count afresh.
    again = reset
    for i in range(10):
        again = fold(again, closing(500 + i, -10.0, NOW + 200 + i), PARAMS)
    assert again.kill_switch_latched


def test_manual_latch_keeps_the_first_reason():
    state = latch_kill_switch(RiskState(), "operator", NOW)
    assert latch_kill_switch(state, "other", NOW + 1).kill_switch_reason == "operator"


def test_mode_and_pause():
    state = set_paused(set_mode(RiskState(), TradingMode.REDUCING), True)
    assert state.mode is TradingMode.REDUCING and state.paused


def test_retention_forgets_old_deals_and_caps_the_count():
    params = CounterParams(deal_retention_seconds=10 * DAY, max_deals=5)
    state = RiskState()
    for i in range(8):
        state = fold(state, closing(i, 1.0, NOW + i), params)
    assert [deal.ticket for deal in state.deals] == [3, 4, 5, 6, 7]
    old = fold(RiskState(), closing(1, 1.0, NOW - 20 * DAY), params)
    newer = fold(old, closing(2, 1.0, NOW), params)
    assert [deal.ticket for deal in newer.deals] == [2]


def test_dict_round_trip_is_plain_json():
    state = state_with([closing(1, -5.0), closing(2, 7.5, NOW - 10, symbol="EURUSD")])
    state = record_order_sent(state, "XAUUSD", NOW, PARAMS)
    state = set_paused(latch_kill_switch(state, "manual", NOW), True)
    data = json.loads(json.dumps(state_to_dict(state)))
    assert state_from_dict(data) == state


@pytest.mark.parametrize(
    "corrupt",
    [
        {},
        {"version": 99},
        {**state_to_dict(RiskState()), "mode": "YOLO"},
        {**state_to_dict(RiskState()), "deals": [[1, "X"]]},
        {**state_to_dict(RiskState()), "consecutive_losses": None},
    ],
)
def test_a_corrupted_record_is_refused_not_read_as_a_clean_state(corrupt):
    with pytest.raises(ValueError):
        state_from_dict(corrupt)


def test_a_deposit_is_not_a_trade_and_changes_no_counter():
    state = state_with([closing(1, -30.0)])
    deposit = deal(2, "", NOW, 5_000.0, deal_type=2)  # DEAL_TYPE_BALANCE
    assert fold(state, deposit, PARAMS) == state
