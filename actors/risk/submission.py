"""An opening order's way through the RiskManager, as decisions: what to answer, what to
reserve, when the order may go and what its report books.

The RiskManager actor only carries these out (messages to the strategy, SharedState and the
broker). Its order of steps is the money-safety rule, so it lives here, where the restart
state machine of ``tests/unit/risk/test_reservations_restarts.py`` drives the very same code:

1. :func:`submit`: a retried submission is answered from its reservation; otherwise the order
   is judged and, when approved, reserved (:class:`Reserve`): the ledger must be *written to
   SharedState* before the order goes, so a RiskManager restarted meanwhile still counts it.
2. :func:`reservation_written`: once that write is acknowledged the order goes; if it failed,
   the reservation is released and the order refused (it never went).
3. :func:`order_reported`: a fill turns the reservation into the position it opened and counts
   the trade (an approval that never became a trade starts no interval); a final refusal
   releases it. A report that is not final changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

from actors.risk.reservations import Ledger, approve_and_reserve
from actors.risk.rules import RiskParams
from actors.risk.sizing import SizedOrder, SizingParams
from actors.risk.state import RiskState, record_order_sent, roll_broker_day
from messages.orders import Outcome
from messages.risk import DenialCode, OrderInput
from messages.trading import OrderReport

__all__ = ["Booked", "OnItsWay", "Refuse", "Reserve", "client_order_id", "order_reported",
           "reservation_written", "submit"]


def client_order_id(decision_id: str) -> str:
    """The one client order id of a decision: a retried submission finds its reservation."""
    return f"E{decision_id}"


@dataclass(frozen=True, slots=True)
class OnItsWay:
    """The order is already reserved and on its way: answer the approval again, send nothing."""

    volume: float
    risk_money: float


@dataclass(frozen=True, slots=True)
class Refuse:
    code: str
    why: str


@dataclass(frozen=True, slots=True)
class Reserve:
    """Approved and reserved: write the ledger, and send the order once the write is
    acknowledged (:func:`reservation_written`)."""

    sized: SizedOrder

    @property
    def risk_money(self) -> float:
        return self.sized.sizing.risk_money if self.sized.sizing else 0.0


@dataclass(frozen=True, slots=True)
class Booked:
    """What an order report changed: the ledger (save it) and the risk state (persist it)."""

    ledger: Ledger
    state: RiskState
    ledger_changed: bool
    state_changed: bool


def submit(order: OrderInput, coid: str, ledger: Ledger, state: RiskState | None,
           unjudgeable: str | None, rules: RiskParams, sizing: SizingParams, now: float,
           wall: float) -> tuple[Ledger, RiskState | None, OnItsWay | Refuse | Reserve]:
    """Judge one submission at market time ``now`` (wall time ``wall`` stamps the
    reservation): the ledger and state after it, and what to do."""
    if coid in ledger:
        held = ledger.reservations[coid]
        return ledger, state, OnItsWay(held.exposure.volume or 0.0, held.risk_money)
    if unjudgeable is not None or state is None:
        return ledger, state, Refuse(DenialCode.MISSING_INPUT.value,
                                     unjudgeable or "the risk state is still loading")
    state = roll_broker_day(state, now, rules.counters)
    sized, ledger = approve_and_reserve(order, coid, ledger, state, rules, sizing, wall)
    if not sized.allowed:
        denial = sized.denial
        return ledger, state, Refuse(
            str(denial.code) if denial else DenialCode.VOLUME_BELOW_MIN.value,
            denial.message if denial else "no volume fits the risk limits")
    return ledger, state, Reserve(sized)


def reservation_written(ledger: Ledger, coid: str, saved: bool) -> tuple[Ledger, Refuse | None]:
    """After the reservation's write: None, the order may go; or it is released and refused."""
    if saved:
        return ledger, None
    return ledger.release(coid), Refuse(
        DenialCode.MISSING_INPUT.value,
        "the reservation could not be saved (SharedState unavailable)")


def order_reported(ledger: Ledger, state: RiskState, coid: str, symbol: str,
                   report: OrderReport, now: float, rules: RiskParams) -> Booked:
    """Book the broker's report on the order ``coid`` of ``symbol`` at market time ``now``."""
    if report.status == Outcome.DONE.value:
        ledger = ledger.fill(coid, report.ticket, report.volume, report.price)
        state = record_order_sent(state, symbol, now, rules.counters)
        return Booked(ledger, state, ledger_changed=report.final, state_changed=True)
    if report.final:
        return Booked(ledger.release(coid), state, ledger_changed=True, state_changed=False)
    return Booked(ledger, state, ledger_changed=False, state_changed=False)
