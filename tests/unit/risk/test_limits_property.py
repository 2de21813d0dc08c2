"""Property: whatever happens — opens, stop moves, closes at any price no worse than the stop,
days passing — feeding it through state.py and the rules never lets a limit be exceeded, and a
tripped kill switch denies the very next order.

The test keeps its own ledger (closed P&L per broker day, last open per symbol, consecutive
losses) written from the rule definitions, independently of the code under test.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from actors.risk.rules import RiskParams, money_at_sl
from actors.risk.sizing import approve_order
from actors.risk.state import RiskState, broker_day, record_order_sent
from messages.market import Side
from messages.risk import DenialCode, Exposure, SymbolTerms
from tests.unit.risk.builders import EURUSD_SPEC, GOLD_SPEC, NOW, deal, fold, order, walk_bars

PARAMS = RiskParams()
SYMBOLS: dict[str, tuple[SymbolTerms, float, float]] = {
    # symbol: (spec, mid price, spread)
    "XAUUSD": (GOLD_SPEC, 2350.0, 0.2),
    "EURUSD": (EURUSD_SPEC, 1.08, 0.0001),
    "GBPUSD": (EURUSD_SPEC, 1.27, 0.00012),
    "USDJPY": (
        replace(EURUSD_SPEC, point=0.001, tick_size=0.001, tick_value_loss=0.65),
        160.0,
        0.012,
    ),
    "AUDUSD": (EURUSD_SPEC, 0.66, 0.0001),
}


@dataclass
class Position:
    ticket: int
    symbol: str
    direction: Side
    volume: float
    entry: float
    stop: float
    target: float
    spec: SymbolTerms

    def exposure(self) -> Exposure:
        return Exposure(
            self.symbol,
            self.direction,
            self.volume,
            self.entry,
            self.stop,
            self.spec.tick_size,
            self.spec.tick_value_loss,
        )

    def pnl_at(self, price: float) -> float:
        sign = self.direction.sign
        money = money_at_sl(
            self.volume, self.entry, price, self.spec.tick_size, self.spec.tick_value_loss
        )
        return money if sign * (price - self.entry) > 0 else -money


advance = st.tuples(st.just("advance"), st.integers(60, 8 * 3600))
open_order = st.tuples(
    st.just("open"),
    st.sampled_from(sorted(SYMBOLS)),
    st.sampled_from([Side.BUY, Side.SELL]),
    st.floats(0.0, 100.0),  # confidence
    st.integers(5, 200),  # stop distance in spreads
    st.sampled_from([1.0, 1.5, 2.0]),  # the candidate's scaling factor
)
# Where a close happens between the stop (0.0) and the target (1.0). Stop-outs are common, so
# losing streaks, the daily limit and the kill switch are reached.
close = st.tuples(
    st.just("close"), st.integers(0, 20), st.sampled_from([0.0, 0.0, 0.0, 0.1, 0.3, 0.5, 1.0])
)
move_stop = st.tuples(st.just("move_stop"), st.integers(0, 20), st.floats(0.0, 1.3))
# An episode: time passes, an order is tried, a stop may move, a position may close.
episode = st.tuples(advance, open_order, st.none() | move_stop, st.none() | close)
episodes = st.lists(episode, min_size=20, max_size=80).map(
    lambda items: [step for item in items for step in item if step is not None]
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(actions=episodes, seed=st.integers(0, 2**16))
def test_no_limit_is_ever_exceeded(actions, seed):
    bars = {
        name: walk_bars(seed + i, start=mid)
        for i, (name, (_, mid, _)) in enumerate(SYMBOLS.items())
    }
    state = RiskState()
    counters = PARAMS.counters
    now = NOW
    balance = 10_000.0
    positions: list[Position] = []
    ticket = 0
    # The independent ledger.
    closed_by_day: dict[int, float] = {}
    last_open: dict[str, float] = {}
    losses_in_row: dict[str, tuple[int, float]] = {}
    closing_results: list[float] = []
    kill_switch_tripped = False

    for action in actions:
        kind = action[0]
        if kind == "advance":
            now += action[1]
        elif kind == "open":
            _, symbol, direction, confidence, stop_spreads, scaling = action
            spec, mid, spread = SYMBOLS[symbol]
            bid, ask = mid - spread / 2, mid + spread / 2
            entry = ask if direction is Side.BUY else bid
            distance = round(stop_spreads * spread / spec.tick_size) * spec.tick_size
            stop = entry - direction.sign * distance
            target = entry + direction.sign * 2.5 * distance
            request = order(
                market={
                    "symbol": symbol,
                    "now": now,
                    "bid": bid,
                    "ask": ask,
                    "spec": spec,
                    "exposures": tuple(p.exposure() for p in positions),
                    "floating_pnl": 0.0,
                },
                direction=direction,
                entry_price=entry,
                stop_loss=stop,
                take_profit=target,
                m1_bars=bars,
                balance=balance,
                equity=balance,
                confidence=confidence,
                scaling_factor=scaling,
            )
            approval = approve_order(request, state, PARAMS)
            event(f"open {approval.denial.code.value if approval.denial else 'ALLOWED'}")
            if kill_switch_tripped:
                assert not approval.allowed
                assert approval.denial.code is DenialCode.KILL_SWITCH
            if not approval.allowed:
                continue
            day = broker_day(now, counters)
            risk = money_at_sl(approval.volume, entry, stop, spec.tick_size, spec.tick_value_loss)
            open_risk = sum(max(0.0, -p.pnl_at(p.stop)) for p in positions)
            # Daily loss: even if every stop is hit, the day stays within the limit.
            assert closed_by_day.get(day, 0.0) - open_risk - risk >= -PARAMS.max_daily_loss - 1e-6
            # Per-trade risk: 2 % of capital, 30 on gold.
            assert risk <= 0.02 * balance + 1e-9
            if symbol == "XAUUSD":
                assert risk <= 30.0 + 1e-9
            assert len(positions) < PARAMS.max_concurrent
            assert now - last_open.get(symbol, -1e18) >= PARAMS.min_trade_interval_seconds
            count, last_loss = losses_in_row.get(symbol, (0, None))
            if count >= PARAMS.consecutive_loss_limit:
                assert broker_day(last_loss, counters) != day
            assert not any(p.symbol == symbol and p.direction is direction for p in positions)
            ticket += 1
            positions.append(
                Position(ticket, symbol, direction, approval.volume, entry, stop, target, spec)
            )
            state = record_order_sent(state, symbol, now, counters)
            last_open[symbol] = now
        elif kind == "move_stop" and positions:
            position = positions[action[1] % len(positions)]
            sign = position.direction.sign
            # Toward the entry and possibly past it, never against the trade.
            wanted = position.stop + sign * action[2] * abs(position.entry - position.stop)
            tick = position.spec.tick_size
            snapped = round(wanted / tick) * tick
            if sign * (snapped - position.stop) >= 0:
                position.stop = snapped
        elif kind == "close" and positions:
            position = positions.pop(action[1] % len(positions))
            # Anywhere between the stop (honoured) and the target.
            price = position.stop + action[2] * (position.target - position.stop)
            pnl = position.pnl_at(price)
            ticket += 1
            state = fold(state, deal(ticket, position.symbol, now, pnl), counters)
            balance += pnl
            day = broker_day(now, counters)
            closed_by_day[day] = closed_by_day.get(day, 0.0) + pnl
            closing_results.append(pnl)
            count, _ = losses_in_row.get(position.symbol, (0, None))
            if pnl < 0:
                losses_in_row[position.symbol] = (count + 1, now)
            elif pnl > 0:
                losses_in_row[position.symbol] = (0, None)
            window = closing_results[-15:]
            if len(window) >= 10 and sum(window) < -60.0:
                kill_switch_tripped = True
                event("kill switch tripped")
            assert state.kill_switch_latched == kill_switch_tripped
        # The day's realised loss never passes the limit.
        event(f"closes >= 10: {len(closing_results) >= 10}")
        for total in closed_by_day.values():
            assert total >= -PARAMS.max_daily_loss - 1e-6
        if state.broker_day is not None:
            expected = closed_by_day.get(state.broker_day, 0.0)
            assert abs(state.day_realised_pnl - expected) < 1e-6


@settings(max_examples=150, deadline=None)
@given(results=st.lists(st.floats(-40.0, 25.0), min_size=1, max_size=40))
def test_a_tripped_kill_switch_denies_the_next_order_and_stays_latched(results):
    state = RiskState()
    tripped = False
    for index, result in enumerate(results):
        now = NOW + index * 86_400.0  # a day apart: the daily limits stay out of the way
        state = fold(state, deal(index, "EURUSD", now, result), PARAMS.counters)
        window = results[: index + 1][-15:]
        tripped = tripped or (len(window) >= 10 and sum(window) < -60.0)
        # Another symbol, so the per-symbol loss streak does not decide first.
        approval = approve_order(order(market={"now": now + 3600.0}), state, PARAMS)
        assert state.kill_switch_latched == tripped
        if tripped:
            assert approval.denial is not None
            assert approval.denial.code is DenialCode.KILL_SWITCH
        else:
            # It may be refused for other reasons (Kelly can find no edge), never this one.
            assert approval.denial is None or approval.denial.code is not DenialCode.KILL_SWITCH
