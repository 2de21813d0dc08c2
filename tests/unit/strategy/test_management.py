"""Trade management: one rule per cycle in priority order; stops only move in favour."""

from __future__ import annotations

from dataclasses import replace

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from actors.strategy.api import Exit, Hold, MoveStop
from actors.strategy.management import (
    ManagementAction,
    ManagementDecision,
    ManagementParams,
    MomentumView,
    PositionView,
    TicketState,
    TradingLimits,
    confirm,
    manage_position,
    own_decision,
    prune_ticket_states,
    ticket_state_from_dict,
    ticket_state_to_dict,
    trail_distance_atr,
)
from messages.market import Side

ATR = 2.0
GOLD = TradingLimits(point=0.01, volume_min=0.01, volume_step=0.01)
CALM = MomentumView(atr=ATR, rsi=50.0, close=2000.0, sma20=2000.0, macd_histogram=(0.1, 0.1, 0.1))


def long(price: float, stop: float | None = 1998.4, volume: float = 0.10) -> PositionView:
    return PositionView(7, "XAUUSD", Side.BUY, volume, 2000.0, stop, 2010.0, price)


def short(price: float, stop: float | None = 2001.6, volume: float = 0.10) -> PositionView:
    return PositionView(8, "XAUUSD", Side.SELL, volume, 2000.0, stop, 1990.0, price)


def test_trail_distance_narrows_linearly():
    params = ManagementParams()
    assert trail_distance_atr(0.0, params) == 1.0
    assert trail_distance_atr(0.3, params) == 1.0
    assert trail_distance_atr(1.65, params) == pytest.approx(0.7)
    assert trail_distance_atr(3.0, params) == pytest.approx(0.4)
    assert trail_distance_atr(9.0, params) == pytest.approx(0.4)


def test_break_even_comes_with_a_thirty_percent_partial_close():
    decision = manage_position(long(2001.0), CALM, GOLD)  # +0.5 ATR
    assert decision.action is ManagementAction.BREAK_EVEN
    assert decision.new_stop_loss == pytest.approx(2000.1)  # entry + 0.05 ATR
    assert decision.close_volume == pytest.approx(0.03)


def test_break_even_takes_priority_over_the_trail_in_the_same_cycle():
    # At +0.6 ATR both rules would apply: only break-even runs.
    decision = manage_position(long(2001.2), CALM, GOLD)
    assert decision.action is ManagementAction.BREAK_EVEN


def test_the_trail_never_undoes_break_even():
    # Seed bug: break-even then the trail in one cycle against the stale stop moved the stop
    # back to about entry − 0.46 ATR.
    state = TicketState(7)
    first = manage_position(long(2001.0), CALM, GOLD, state)
    state = confirm(state, first, stop_applied=True, partial_applied=True)
    assert state.breakeven_done and state.partial_done
    after = long(2001.0, stop=first.new_stop_loss, volume=0.07)
    second = manage_position(after, CALM, GOLD, state)
    assert second.action is ManagementAction.HOLD
    assert second.new_stop_loss is None


def test_a_stop_past_the_entry_counts_as_break_even_after_a_restart():
    decision = manage_position(long(2001.0, stop=2000.2), CALM, GOLD, None)
    assert decision.action is not ManagementAction.BREAK_EVEN


def test_break_even_is_retried_when_the_broker_refused_the_stop():
    state = TicketState(7)
    first = manage_position(long(2001.0), CALM, GOLD, state)
    state = confirm(state, first, stop_applied=False, partial_applied=True)
    assert not state.breakeven_done and state.partial_done
    retry = manage_position(long(2001.0, volume=0.07), CALM, GOLD, state)
    assert retry.action is ManagementAction.BREAK_EVEN
    assert retry.close_volume == 0.0  # the partial is not repeated


@pytest.mark.parametrize(
    ("volume", "partial"),
    [(1.0, 0.3), (0.05, 0.01), (0.11, 0.03), (0.01, 0.0), (0.02, 0.0)],
)
def test_partial_volume_respects_step_and_minimum(volume, partial):
    decision = manage_position(long(2001.0, volume=volume), CALM, GOLD)
    assert decision.close_volume == pytest.approx(partial)
    if partial:
        assert volume - decision.close_volume >= GOLD.volume_min


def test_trailing_from_the_best_price():
    state = TicketState(7, breakeven_done=True, partial_done=True, best_price=2006.0)
    position = long(2005.6, stop=2000.1)  # +2.8 ATR now, best +3 ATR
    decision = manage_position(position, CALM, GOLD, state)
    assert decision.action is ManagementAction.TRAIL
    assert decision.new_stop_loss == pytest.approx(2006.0 - 0.4 * ATR)
    assert decision.state.best_price == 2006.0


def test_trail_before_break_even_and_minimum_step():
    # +0.4 ATR: trail at ≈0.98 ATR behind → 1998.84, better than 1998.4 by more than 10 points.
    decision = manage_position(long(2000.8), CALM, GOLD)
    assert decision.action is ManagementAction.TRAIL
    assert 1998.4 < decision.new_stop_loss < 2000.0
    # A move smaller than 10 points is not sent.
    tiny = manage_position(long(2000.8, stop=decision.new_stop_loss - 0.05), CALM, GOLD)
    assert tiny.action is ManagementAction.HOLD


def test_stops_level_keeps_the_stop_away_from_the_price():
    limits = replace(GOLD, stops_level_points=200)  # 2.00 from the price
    decision = manage_position(long(2001.0), CALM, limits)
    # Break-even at 2000.1 is closer than 2.00 to 2001.0: the stop cannot move yet, but the
    # partial close still happens, and break-even is not marked done.
    assert decision.action is ManagementAction.BREAK_EVEN and decision.new_stop_loss is None
    state = confirm(TicketState(7), decision, stop_applied=True, partial_applied=True)
    assert not state.breakeven_done


def test_early_cut_needs_two_momentum_signals():
    against = MomentumView(atr=ATR, rsi=30.0, close=1998.0, sma20=1999.0, macd_histogram=(0.1,) * 3)
    decision = manage_position(long(1998.9), against, GOLD)  # −0.55 ATR
    assert decision.action is ManagementAction.EARLY_CUT
    assert decision.close_volume == 0.10
    assert "RSI 30" in decision.reason and "SMA20" in decision.reason
    one_signal = replace(against, close=2000.0)
    assert manage_position(long(1998.9), one_signal, GOLD).action is ManagementAction.HOLD
    not_deep = manage_position(long(1999.2), against, GOLD)  # only −0.4 ATR
    assert not_deep.action is not ManagementAction.EARLY_CUT


def test_early_cut_short_with_macd():
    against = MomentumView(
        atr=ATR, rsi=70.0, close=2001.0, sma20=2002.0, macd_histogram=(0.2, 0.3, 0.1)
    )
    decision = manage_position(short(2001.1), against, GOLD)
    assert decision.action is ManagementAction.EARLY_CUT
    assert "MACD" in decision.reason and "RSI 70" in decision.reason


def test_short_break_even_and_trail_mirror_the_long_side():
    decision = manage_position(short(1999.0), CALM, GOLD)
    assert decision.action is ManagementAction.BREAK_EVEN
    assert decision.new_stop_loss == pytest.approx(1999.9)
    state = TicketState(8, breakeven_done=True, partial_done=True, best_price=1994.0)
    trail = manage_position(short(1994.5, stop=1999.9), CALM, GOLD, state)
    assert trail.action is ManagementAction.TRAIL
    assert trail.new_stop_loss == pytest.approx(1994.0 + 0.4 * ATR)


def test_no_atr_means_no_action():
    for atr in (None, 0.0, float("nan")):
        decision = manage_position(long(2003.0), replace(CALM, atr=atr), GOLD)
        assert decision.action is ManagementAction.HOLD and decision.new_stop_loss is None


def test_a_trail_behind_a_retreating_price_stops_at_the_nearest_allowed_level():
    state = TicketState(7, breakeven_done=True, partial_done=True, best_price=2006.0)
    decision = manage_position(long(2005.0, stop=2000.1), CALM, GOLD, state)
    # Wanted 2005.2 is above the bid: the stop goes one point under the price instead.
    assert decision.new_stop_loss == pytest.approx(2004.99)


def test_ticket_state_round_trip_and_pruning():
    state = TicketState(9, True, False, 2003.5)
    assert ticket_state_from_dict(ticket_state_to_dict(state)) == state
    states = {9: state, 10: TicketState(10)}
    assert prune_ticket_states(states, [10, 11]) == {10: TicketState(10)}


@settings(max_examples=200, deadline=None)
@given(
    direction=st.sampled_from([Side.BUY, Side.SELL]),
    moves=st.lists(st.floats(-1.5, 1.5), min_size=1, max_size=80),
    broker_accepts=st.lists(st.booleans(), min_size=80, max_size=80),
    rsi=st.floats(0.0, 100.0),
    volume_steps=st.integers(1, 300),
    stops_level=st.sampled_from([0, 50, 300]),
    initial_stop_atr=st.floats(0.3, 2.0),
)
def test_property_stops_only_move_in_favour_and_break_even_holds(
    direction, moves, broker_accepts, rsi, volume_steps, stops_level, initial_stop_atr
):
    sign = direction.sign
    limits = replace(GOLD, stops_level_points=stops_level)
    entry = 2000.0
    stop = round(entry - sign * initial_stop_atr * ATR, 2)
    volume = round(volume_steps * 0.01, 2)
    price = entry
    state = TicketState(1)
    breakeven_floor = None
    for index, move in enumerate(moves):
        price = round(price + move, 2)
        if sign * (price - stop) <= 0:
            return  # stopped out
        position = PositionView(1, "XAUUSD", direction, volume, entry, stop, None, price)
        momentum = MomentumView(ATR, rsi, price, entry, (move, move, move))
        decision: ManagementDecision = manage_position(position, momentum, limits, state)
        accepted = broker_accepts[index]
        if decision.action is ManagementAction.EARLY_CUT:
            assert decision.close_volume == volume
            return
        if decision.new_stop_loss is not None:
            # In favour, on the price grid, and outside the stops level.
            assert sign * (decision.new_stop_loss - stop) > 0
            assert sign * (price - decision.new_stop_loss) >= stops_level * 0.01 - 1e-9
            if breakeven_floor is not None:
                assert sign * (decision.new_stop_loss - breakeven_floor) >= -1e-9
            if accepted:
                stop = decision.new_stop_loss
        if decision.close_volume > 0:
            assert decision.action is ManagementAction.BREAK_EVEN
            assert decision.close_volume >= limits.volume_min
            assert volume - decision.close_volume >= limits.volume_min - 1e-9
            steps = decision.close_volume / limits.volume_step
            assert abs(steps - round(steps)) < 1e-6
            if accepted:
                volume = round(volume - decision.close_volume, 2)
        state = confirm(state, decision, accepted, accepted)
        if state.breakeven_done and breakeven_floor is None:
            breakeven_floor = stop
        if breakeven_floor is not None:
            assert sign * (stop - breakeven_floor) >= -1e-9  # break-even is never undone


# --- a strategy's own management (Strategy.manage) ------------------------------------------


def test_a_strategy_may_move_its_stop_towards_the_market_only() -> None:
    tighter = own_decision(MoveStop(1999.5, "lock in"), long(2003.0), GOLD)
    assert (tighter.action, tighter.new_stop_loss, tighter.reason) == (
        ManagementAction.MOVE_STOP, 1999.5, "lock in")
    wider = own_decision(MoveStop(1995.0), long(2003.0), GOLD)
    assert wider.action is ManagementAction.HOLD and "refused" in wider.reason
    at_the_price = own_decision(MoveStop(2003.5), long(2003.0), GOLD)  # beyond the bid
    assert at_the_price.new_stop_loss is not None and at_the_price.new_stop_loss < 2003.0
    mirrored = own_decision(MoveStop(2000.5), short(1997.0), GOLD)
    assert (mirrored.action, mirrored.new_stop_loss) == (ManagementAction.MOVE_STOP, 2000.5)


def test_a_strategy_may_exit_all_or_part_on_the_volume_grid() -> None:
    everything = own_decision(Exit("done"), long(2001.0, volume=0.10), GOLD)
    assert (everything.action, everything.close_volume) == (ManagementAction.EXIT, 0.10)
    part = own_decision(Exit("half", volume=0.057), long(2001.0, volume=0.10), GOLD)
    assert part.close_volume == pytest.approx(0.05)
    more_than_held = own_decision(Exit("all", volume=5.0), long(2001.0, volume=0.10), GOLD)
    assert more_than_held.close_volume == pytest.approx(0.10)
    too_small = own_decision(Exit("dust", volume=0.004), long(2001.0), GOLD)
    assert too_small.action is ManagementAction.HOLD and "minimum" in too_small.reason
    assert own_decision(Hold("wait"), long(2001.0), GOLD).action is ManagementAction.HOLD
    with pytest.raises(TypeError, match="expected Hold, MoveStop, Exit"):
        own_decision("close it", long(2001.0), GOLD)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"MoveStop\.stop_loss"):
        MoveStop(float("nan"))
    with pytest.raises(ValueError, match=r"Exit\.volume"):
        Exit("x", volume=-1.0)
