"""Reserved risk across RiskManager restarts: approvals, fills, refusals, closes at the stop,
stale books and restarts in any order never let the day's budget be exceeded, and every order on
its way is counted exactly once in what the next approval sees.

The machine drives the RiskManager's own submission steps (:mod:`actors.risk.submission`:
``submit``, ``reservation_written``, ``order_reported``, the code the actor runs), with the real
ledger, sizing and rules and the ledger's SharedState form (``ledger_to_dict``/
``ledger_from_dict``, through JSON); it plays the messages around them. A restart can come
between any two messages leaving the actor: writes it had sent still land (SharedState is alive
and takes them in order), but a reply it was waiting for reaches nobody, and neither does a
report the broker sends to its old address. A write SharedState fails is answered as failed.
(The steps' write-ahead is what holds the budget: sending first and writing after lets
hypothesis find a restart between the two that forgets an order on its way.)
"""

from __future__ import annotations

import json
from dataclasses import replace

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from actors.risk.reservations import Ledger, ledger_from_dict, ledger_to_dict
from actors.risk.state import RiskState, broker_day
from actors.risk.submission import Reserve, order_reported, reservation_written, submit
from messages.books import DealRecord
from messages.orders import Outcome
from messages.risk import Exposure
from messages.trading import OrderReport
from tests.unit.risk.builders import order, walk_bars
from tests.unit.risk.test_reservations import LIMIT, METALS, RULES, SIZING


def _opening_deal(coid: str, ticket: int, volume: float) -> DealRecord:
    return DealRecord(ticket=ticket + 10_000, order=ticket, time=0, time_msc=0, type=0,
                      entry=0, magic=234000, position_id=ticket, reason=0, volume=volume,
                      price=0.0, commission=0.0, swap=0.0, profit=0.0, fee=0.0, symbol="",
                      comment=coid, external_id="")


class RiskManagerRestarts(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.memory = Ledger()  # the running RiskManager's ledger
        self.store: dict = {}  # SharedState's risk.reservations
        self.writes: list[dict] = []  # sent to SharedState, not yet taken
        self.acks: list[tuple[int, str | None]] = []  # (generation, order waiting for it)
        self.generation = 0
        self.count = 0
        self.realised_loss = 0.0  # the day's, from the deals (saved with the risk state)
        self.risk_of: dict[str, float] = {}  # order → its risk at the stop
        self.sent_by: dict[str, int] = {}  # order at the broker → the generation that sent it
        self.tickets: dict[str, int] = {}  # filled orders: their positions
        self.filled_volume: dict[str, float] = {}
        self.books: tuple[Exposure, ...] = ()  # the snapshot a strategy last built

    # --- the RiskManager's messages ----------------------------------------------------------

    def _write(self, then: str | None = None) -> None:
        self.writes.append(json.loads(json.dumps(ledger_to_dict(self.memory))))
        self.acks.append((self.generation, then))

    def _send(self, coid: str) -> None:
        self.sent_by[coid] = self.generation

    @rule()
    def approve(self) -> None:
        self.count += 1
        coid = f"E{self.count}"
        symbol = METALS[self.count % len(METALS)]
        candidate = order(market={"symbol": symbol, "exposures": self.books},
                          m1_bars={s: walk_bars(self.count, start=2350.0) for s in METALS})
        state = RiskState(broker_day=broker_day(candidate.market.now or 0.0, RULES.counters),
                          day_realised_pnl=-self.realised_loss)
        self.memory, _state, step = submit(candidate, coid, self.memory, state, None, RULES,
                                           SIZING, candidate.market.now or 0.0, 0.0)
        if not isinstance(step, Reserve):
            return
        self.risk_of[coid] = step.risk_money
        self._write(then=coid)  # Reserve: the order goes when this write is acknowledged

    def _acknowledged(self, saved: bool) -> None:
        generation, then = self.acks.pop(0)
        if then is None or generation != self.generation:
            return  # a plain write, or its reply reaches nobody
        self.memory, refusal = reservation_written(self.memory, then, saved)
        if refusal is None:
            self._send(then)

    @precondition(lambda self: bool(self.writes))
    @rule()
    def shared_state_takes_a_write(self) -> None:
        self.store = self.writes.pop(0)
        self._acknowledged(saved=True)

    @precondition(lambda self: bool(self.writes))
    @rule()
    def shared_state_fails_a_write(self) -> None:
        self.writes.pop(0)  # the store keeps what it had
        self._acknowledged(saved=False)

    def _report(self, coid: str, status: Outcome, ticket: int | None = None,
                volume: float = 0.0) -> None:
        """The order's final report reaches the RiskManager that sent it."""
        report = OrderReport("r", status.value, "", coid, ticket=ticket, volume=volume)
        booked = order_reported(self.memory, RiskState(), coid, "", report, 0.0, RULES)
        self.memory = booked.ledger
        if booked.ledger_changed:
            self._write()

    @rule()
    def restart(self) -> None:
        """The RiskManager dies; the new one loads what SharedState holds by then."""
        while self.writes:  # sent before the death: taken before the new one's read
            self.store = self.writes.pop(0)
        self.acks.clear()  # their replies reach nobody
        self.generation += 1
        self.memory = ledger_from_dict(json.loads(json.dumps(self.store)))
        # The broker sends the new one the recent deals (MT5Broker.on_peers): a fill whose
        # write SharedState failed is known again.
        self.memory = self.memory.filled_by([_opening_deal(c, t, self.filled_volume[c])
                                             for c, t in self.tickets.items()])

    # --- the broker and the books --------------------------------------------------------

    def _on_the_way(self) -> list[str]:
        return sorted(c for c in self.sent_by if c not in self.tickets)

    @precondition(lambda self: bool(self._on_the_way()))
    @rule(pick=st.integers(0, 99))
    def fill(self, pick: int) -> None:
        coid = self._on_the_way()[pick % len(self._on_the_way())]
        ticket = 1000 + int(coid[1:])
        self.tickets[coid] = ticket
        volume = self.memory.reservations[coid].exposure.volume if coid in self.memory else 0.1
        self.filled_volume[coid] = volume or 0.1
        if self.sent_by[coid] == self.generation:  # its report reaches the sender only
            self._report(coid, Outcome.DONE, ticket, self.filled_volume[coid])
        # The broker's next poll reports the opening deal to whoever is the RiskManager now.
        self.memory = self.memory.filled_by([_opening_deal(coid, ticket, self.filled_volume[coid])])
        self._write()

    @precondition(lambda self: bool(self._on_the_way()))
    @rule(pick=st.integers(0, 99))
    def refuse(self, pick: int) -> None:
        coid = self._on_the_way()[pick % len(self._on_the_way())]
        if self.sent_by.pop(coid) == self.generation:
            self._report(coid, Outcome.REJECTED)
        # A refusal sent to a restarted one's old address is lost: the reservation stays
        # until it expires (more held back, never less).

    @precondition(lambda self: bool(self.tickets))
    @rule(pick=st.integers(0, 99))
    def close_at_the_stop(self, pick: int) -> None:
        coid = sorted(self.tickets)[pick % len(self.tickets)]
        self.realised_loss += self.risk_of[coid]
        del self.tickets[coid], self.sent_by[coid]
        self.memory = self.memory.release(coid)  # TradeClosed goes to the current one
        self._write()

    @rule()
    def strategy_reads_the_books(self) -> None:
        self.books = tuple(replace(self.memory.reservations[c].exposure, pending=False,
                                   ticket=t) if c in self.memory else self._position(c, t)
                           for c, t in sorted(self.tickets.items()))

    def _position(self, coid: str, ticket: int) -> Exposure:
        template = order(market={"symbol": METALS[int(coid[1:]) % len(METALS)]})
        return Exposure(symbol=template.market.symbol, direction=template.direction,
                        volume=0.1, entry_price=template.entry_price,
                        stop_loss=template.stop_loss, tick_size=None, tick_value_loss=None,
                        ticket=ticket)

    # --- what must hold ----------------------------------------------------------------------

    @invariant()
    def the_budget_holds(self) -> None:
        live = sum(self.risk_of[c] for c in self.sent_by)
        assert self.realised_loss + live <= LIMIT + 1e-9, (self.realised_loss, live)

    @invariant()
    def every_order_on_its_way_is_counted_once(self) -> None:
        open_tickets = set(self.tickets.values())
        books = tuple(e for e in self.books if e.ticket in open_tickets)  # closed: realised
        seen = self.memory.seen_in(books).exposures_with(books) or ()
        for coid in self.sent_by:
            ticket = self.tickets.get(coid)
            in_books = sum(1 for e in books if ticket is not None and e.ticket == ticket)
            reserved = coid in self.memory and not (
                self.memory.reservations[coid].filled and ticket in {e.ticket for e in books})
            assert in_books + reserved == 1, (coid, in_books, reserved)
        assert len(seen) >= len(self.sent_by)


RiskManagerRestarts.TestCase.settings = settings(max_examples=150, stateful_step_count=40,
                                                 deadline=None)
test_reserved_risk_survives_restarts_of_the_risk_manager = RiskManagerRestarts.TestCase
