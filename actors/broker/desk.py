"""The broker's order desk: every decision about an order, as a pure state machine.

The desk takes an event and returns what to do, as data (:data:`Effect` values); the MT5Broker
actor only carries those effects out and feeds what came of them back in. Events:

- a request: :meth:`OrderDesk.place` (``PlaceOrder``), :meth:`OrderDesk.close`
  (``ClosePosition``), :meth:`OrderDesk.close_all` (``CloseAll``), :meth:`OrderDesk.modify`
  (``ModifyPosition``);
- what the terminal's books said: :meth:`OrderDesk.looked_up` (a position, after
  :class:`LookUp`), :meth:`OrderDesk.books_read` (our positions and pending orders, after
  :class:`ReadBooks`), :meth:`OrderDesk.fate_found` (an unresolved order's fate);
- an intent's write-ahead acknowledged (or refused): :meth:`OrderDesk.written`;
- a terminal result: :meth:`OrderDesk.sent` (after :class:`Send`), :meth:`OrderDesk.stops_set`
  (after :class:`SetStops`);
- a timer: :meth:`OrderDesk.report_jobs` after a resolution round.

Effects: :class:`Reply` (an ``OrderReport`` to a requester), :class:`Persist` (write an intent,
nothing waits on it), :class:`WriteAhead` (write an intent; the job waits for the
acknowledgement), :class:`Send` (call the terminal), :class:`LookUp` / :class:`ReadBooks`
(read the terminal's books), :class:`CancelOrder`, :class:`SetStops`, :class:`ResolveSoon`,
:class:`PollSoon` and :class:`Note` (a log line).

An opening order is sent only when it comes from the current RiskManager with a valid
:class:`~messages.trading.Approval` (:func:`approval_refusal`); anything else is answered
``rejected`` with a :class:`~messages.orders.RefusalCode`, before any record is written. Closes
and stop changes reduce risk: they are taken from any role, and while trading is halted. A
known client order id is answered from its record before the approval is looked at, so a
RiskManager that asks again after a restart learns the order's fate.

The rules it keeps (DESIGN.md §3, "Never twice"): an intent is written ahead and sent only once
SharedState has it (:mod:`actors.broker.intents`); a known client order id is answered from its
record and never sent again; an order of unknown outcome is resolved from the books, and no
new position is opened while one is unresolved; a write-ahead acknowledged later than
:data:`WRITE_AHEAD_DEADLINE_S` is not sent. Each request is a *job*; its requester gets one
final report, and an interim ``unknown`` while an outcome is being resolved.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import Any

from actors.broker.gate import GateState, refusal_reason
from actors.broker.guards import widens_stop
from actors.broker.intents import (
    Intent,
    IntentLedger,
    IntentStatus,
    close_order_id,
    report_status,
)
from actors.broker.retcodes import CONNECTION_ERROR_CODES, PASSING_RETCODES
from messages.books import OrderRecord, PositionRecord
from messages.market import Side
from messages.orders import OrderFate, OrderIntent, OrderOutcome, Outcome, RefusalCode
from messages.trading import CloseAll, ClosePosition, ModifyPosition, OrderReport, PlaceOrder

__all__ = [
    "MODIFY_REPORTS_KEPT",
    "WRITE_AHEAD_DEADLINE_S",
    "CancelOrder",
    "Conditions",
    "Effect",
    "Job",
    "LookUp",
    "Lookup",
    "Note",
    "OrderDesk",
    "Persist",
    "PollSoon",
    "ReadBooks",
    "Reply",
    "ResolveSoon",
    "Send",
    "SetStops",
    "WriteAhead",
    "approval_refusal",
    "order_intent",
]

WRITE_AHEAD_DEADLINE_S = 10.0
"""A write-ahead acknowledged later than this (SharedState was restarting, or the actor was
held up by a slow terminal) is not sent: the decision behind it is stale by then."""
MODIFY_REPORTS_KEPT = 1000
_POSITION_TYPE_BUY = 0  # POSITION_TYPE_BUY


# --- what the desk is told about the world ------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Conditions:
    """The broker's state when an event is handled."""

    connected: bool
    reconciled: bool
    may_trade: bool
    gate: GateState
    market_time: float = 0.0
    """The market clock (UTC): where the terminal's history is searched for an intent."""
    risk: Any = None
    """The current RiskManager's address: the only sender of opening orders."""
    require_approval: bool = True
    """Check the approval of opening orders (off only where ``broker.require_approval`` is
    false, for testing the broker alone, and never on a real account)."""


# --- effects --------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reply:
    to: Any
    report: OrderReport


@dataclass(frozen=True, slots=True)
class Persist:
    """Write the intent's record; nothing waits for the acknowledgement."""

    intent: Intent


@dataclass(frozen=True, slots=True)
class WriteAhead:
    """Write the intent's record (status ``sending``); call :meth:`OrderDesk.written` with the
    acknowledgement. Nothing is sent before it."""

    job_id: str
    intent: Intent


@dataclass(frozen=True, slots=True)
class Send:
    """Send the intent to the terminal; call :meth:`OrderDesk.sent` with the outcome."""

    job_id: str
    intent: Intent


@dataclass(frozen=True, slots=True)
class Lookup:
    """A request waiting on the terminal's books."""

    kind: str  # close | modify | close_all
    request: ClosePosition | ModifyPosition | CloseAll
    requester: Any
    client_order_id: str = ""


@dataclass(frozen=True, slots=True)
class LookUp:
    """Read the open position ``lookup.request.ticket``; call :meth:`OrderDesk.looked_up`."""

    lookup: Lookup


@dataclass(frozen=True, slots=True)
class ReadBooks:
    """Read our open positions and pending orders; call :meth:`OrderDesk.books_read`."""

    lookup: Lookup


@dataclass(frozen=True, slots=True)
class CancelOrder:
    """Delete a pending order (harmless to repeat: no write-ahead)."""

    ticket: int


@dataclass(frozen=True, slots=True)
class SetStops:
    """Set a position's stops; call :meth:`OrderDesk.stops_set` with the outcome and, when it
    is unknown, the stops the position has now (read back)."""

    lookup: Lookup
    position: PositionRecord
    sl: float
    tp: float


@dataclass(frozen=True, slots=True)
class ResolveSoon:
    """Schedule a round of :meth:`OrderDesk.to_resolve` / :meth:`OrderDesk.fate_found`."""


@dataclass(frozen=True, slots=True)
class PollSoon:
    """Poll the terminal shortly (a fill or a close to show)."""


@dataclass(frozen=True, slots=True)
class Note:
    """A log line: ``level`` is info, warning or error."""

    level: str
    text: str
    fields: dict[str, Any] = field(default_factory=dict)


Effect = (Reply | Persist | WriteAhead | Send | LookUp | ReadBooks | CancelOrder | SetStops
          | ResolveSoon | PollSoon | Note)


# --- jobs -----------------------------------------------------------------------------------


@dataclass(slots=True)
class Job:
    """One request that sends orders: a place, a close, or a close-all. ``owned`` are the
    intents this job began (only it may send them); ``writing`` those whose write-ahead is not
    acknowledged yet."""

    request_id: str
    requester: Any
    kind: str  # place | close | close_all
    coids: list[str]
    started: float
    owned: set[str] = field(default_factory=set)
    writing: set[str] = field(default_factory=set)
    interim_sent: bool = False


def order_intent(intent: Intent, magic: int) -> OrderIntent:
    """The gateway's order for an opening intent (raises ValueError for a bad one)."""
    side = intent.side.upper()
    if side not in ("BUY", "SELL"):
        raise ValueError(f"side must be BUY or SELL, got {intent.side!r}")
    return OrderIntent(
        symbol=intent.symbol, side=Side(side), volume=float(intent.volume or 0),
        client_order_id=intent.client_order_id, magic=magic,
        price=intent.reference_price or None, sl=intent.sl or None, tp=intent.tp or None,
        deviation_points=intent.deviation_points,
    )  # fmt: skip


class OrderDesk:
    """The ledger of intents and the jobs under way; every method returns effects."""

    def __init__(self, magic: int, ledger: IntentLedger | None = None,
                 decision_of: Callable[[PositionRecord], str] | None = None) -> None:
        """``decision_of`` names the decision behind an open position (default: the intent
        that opened it, by comment or ticket)."""
        self.magic = magic
        self.ledger = ledger if ledger is not None else IntentLedger()
        self.decision_of = decision_of or self._decision_in_ledger
        self.jobs: dict[str, Job] = {}
        self.modify_reports: OrderedDict[str, OrderReport] = OrderedDict()
        self._job_ids = itertools.count(1)

    @property
    def awaiting_write_ahead(self) -> bool:
        """An order's write-ahead is awaited: its ``Send`` follows the acknowledgement."""
        return any(job.writing for job in self.jobs.values())

    def forget_settled(self, before: float, tracked: Collection[int]) -> int:
        """Forget the final intents older than ``before`` that no job waits on and no tracked
        position needs (:meth:`IntentLedger.forget_settled`): the ledger in memory stays the
        size of the recent past; :meth:`unreadable` and the actor's look-up keep the rule
        "answered from its record" for the rest."""
        in_jobs = {coid for job in self.jobs.values() for coid in job.coids}
        return self.ledger.forget_settled(before, lambda intent: (
            intent.client_order_id in in_jobs
            or (intent.ticket is not None and intent.ticket in tracked)))

    def unreadable(self, request_id: str, sender: Any, client_order_id: str,
                   error: str) -> list[Effect]:
        """A client order id the desk does not hold could not be looked up in SharedState: it
        may be an order already sent, so it is refused, with nothing written or sent."""
        return [_refuse(sender, request_id, "state_unavailable", client_order_id=client_order_id),
                Note("error", "cannot look an order up in SharedState; refused",
                     {"client_order_id": client_order_id, "reason": error})]

    # --- requests ---------------------------------------------------------------------------

    def place(self, order: PlaceOrder, sender: Any, conditions: Conditions,
              now: float) -> list[Effect]:
        known = self.ledger.get(order.client_order_id)
        if known is not None:
            return self._answer_known(known, order.request_id, sender, "place", now)
        fields = {"client_order_id": order.client_order_id, "symbol": order.symbol,
                  "side": str(order.side)}
        code = approval_refusal(order, sender, conditions.risk, now) if (
            conditions.require_approval) else None
        if code is not None:
            return [Reply(sender, OrderReport(order.request_id, "rejected", str(code), **fields)),
                    Note("warning", "opening order refused", {"code": str(code),
                         "client_order_id": order.client_order_id})]  # fmt: skip
        refusal = self._refusal(conditions, opening=True)
        if refusal is not None:
            return [_refuse(sender, order.request_id, refusal, **fields)]
        intent = Intent(
            client_order_id=order.client_order_id, kind="open", status=IntentStatus.WRITING,
            symbol=order.symbol, side=str(order.side).upper(), volume=float(order.volume),
            request_id=order.request_id, created_at=now, market_time=conditions.market_time,
            decision_id=order.decision_id, sl=float(order.sl or 0.0), tp=float(order.tp or 0.0),
            deviation_points=int(order.deviation_points),
            planned_risk=float(order.approval.risk_money) if order.approval else 0.0,
            reference_price=float(order.reference_price or 0.0),
            strategy=str(order.strategy or (order.approval.strategy if order.approval else "")),
        )  # fmt: skip
        try:
            order_intent(intent, self.magic)  # the gateway's own checks, before any record
        except (ValueError, TypeError) as error:
            return [_refuse(sender, order.request_id, f"invalid: {error}", **fields)]
        self.ledger.begin(intent)
        return self._start_job(Job(order.request_id, sender, "place", [order.client_order_id],
                                   now, owned={order.client_order_id}), now, conditions)

    def close(self, message: ClosePosition, sender: Any, conditions: Conditions,
              now: float) -> list[Effect]:
        coid = close_order_id(message.op_id)
        known = self.ledger.get(coid)
        if known is not None:
            return self._answer_known(known, message.request_id, sender, "close", now)
        refusal = self._refusal(conditions, opening=False)
        if refusal is not None:
            return [_refuse(sender, message.request_id, refusal, client_order_id=coid,
                            ticket=message.ticket)]
        if message.volume is not None and not message.volume > 0:
            return [_refuse(sender, message.request_id, "invalid: volume must be > 0",
                            client_order_id=coid, ticket=message.ticket)]
        return [LookUp(Lookup("close", message, sender, coid))]

    def modify(self, message: ModifyPosition, sender: Any, conditions: Conditions) -> list[Effect]:
        """Change a position's stops (None keeps the current one). Setting the same stops twice
        is harmless, so no write-ahead; a retried op id gets the first answer."""
        earlier = self.modify_reports.get(message.op_id)
        if earlier is not None:
            return [Reply(sender, dataclasses.replace(earlier, request_id=message.request_id))]
        refusal = self._refusal(conditions, opening=False)
        if refusal is not None:
            return [_refuse(sender, message.request_id, refusal, ticket=message.ticket)]
        return [LookUp(Lookup("modify", message, sender))]

    def close_all(self, message: CloseAll, sender: Any, conditions: Conditions) -> list[Effect]:
        refusal = self._refusal(conditions, opening=False)
        if refusal is not None:
            return [_refuse(sender, message.request_id, refusal)]
        return [ReadBooks(Lookup("close_all", message, sender))]

    # --- the terminal's books ---------------------------------------------------------------

    def looked_up(self, lookup: Lookup, found: Sequence[PositionRecord] | None,
                  conditions: Conditions, now: float) -> list[Effect]:
        """The position a close or a modify is about (``found`` None: the read failed). A
        position that is gone is reported closed: that is what a close wants, and a second
        close order could open an opposite position on a netting account."""
        request = lookup.request
        assert isinstance(request, ClosePosition | ModifyPosition)
        coid, ticket = lookup.client_order_id, request.ticket
        if found is None:
            return [_refuse(lookup.requester, request.request_id, "terminal_unavailable",
                            client_order_id=coid, ticket=ticket)]
        if not found:
            return [Reply(lookup.requester, OrderReport(
                request.request_id, "done", "already_closed", client_order_id=coid,
                ticket=ticket)), PollSoon()]  # fmt: skip
        position = found[0]
        if position.magic != self.magic:
            return [_refuse(lookup.requester, request.request_id, "foreign_position",
                            client_order_id=coid, ticket=ticket, symbol=position.symbol)]
        if isinstance(request, ModifyPosition):
            sl = position.sl if request.sl is None else float(request.sl)
            tp = position.tp if request.tp is None else float(request.tp)
            side = Side.BUY if position.type == _POSITION_TYPE_BUY else Side.SELL
            if widens_stop(side, position.sl, sl):
                return [_refuse(lookup.requester, request.request_id,
                                str(RefusalCode.STOPS_WIDENED), client_order_id=coid,
                                ticket=ticket, symbol=position.symbol)]
            return [SetStops(lookup, position, sl, tp)]
        if coid in self.ledger:  # the same close asked twice while the first looked it up
            return self._answer_known(self.ledger[coid], request.request_id, lookup.requester,
                                      "close", now)
        volume = request.volume
        if volume is not None and volume >= position.volume - 1e-9:
            volume = None  # all of it
        self._begin_close(position, coid, request.request_id, request.op_id, request.reason,
                          volume, now, conditions)
        return self._start_job(Job(request.request_id, lookup.requester, "close", [coid], now,
                                   owned={coid}), now, conditions)

    def books_read(self, lookup: Lookup, positions: Sequence[PositionRecord] | None,
                   orders: Sequence[OrderRecord], conditions: Conditions,
                   now: float) -> list[Effect]:
        """Close-all: cancel our pending orders and close our positions."""
        request = lookup.request
        assert isinstance(request, CloseAll)
        if positions is None:
            return [_refuse(lookup.requester, request.request_id, "terminal_unavailable")]
        effects: list[Effect] = [CancelOrder(o.ticket) for o in orders if o.magic == self.magic]
        job = Job(request.request_id, lookup.requester, "close_all", [], now)
        for position in positions:
            if position.magic != self.magic:
                continue
            coid = close_order_id(f"{request.op_id}/{position.ticket}")
            if coid not in self.ledger:
                self._begin_close(position, coid, request.request_id, request.op_id,
                                  request.reason, None, now, conditions)
                job.owned.add(coid)
            job.coids.append(coid)
        if not job.coids:
            effects.append(Reply(lookup.requester, OrderReport(request.request_id, "done",
                                                               "nothing_to_close")))
            return effects
        return effects + self._start_job(job, now, conditions)

    def to_resolve(self) -> list[Intent]:
        """Intents that were (perhaps) sent with no known outcome; those a job is still writing
        ahead are not sent yet and are left out."""
        not_sent_yet = {coid for job in self.jobs.values() for coid in job.writing}
        return [i for i in self.ledger.unresolved() if i.client_order_id not in not_sent_yet]

    def fate_found(self, client_order_id: str, fate: OrderFate, now: float,
                   in_flight_s: float) -> list[Effect]:
        before = self.ledger[client_order_id]
        resolved = self.ledger.apply_fate(client_order_id, fate, now, in_flight_s)
        effects: list[Effect] = [Persist(resolved)] if resolved != before else []
        if resolved.final:
            effects.append(Note("info", "order outcome resolved", {
                "client_order_id": resolved.client_order_id, "status": str(resolved.status),
                "reason": resolved.reason, "ticket": resolved.ticket}))  # fmt: skip
            if resolved.status is IntentStatus.DONE:
                effects.append(PollSoon())
        return effects

    # --- acknowledgements and results -------------------------------------------------------

    def written(self, job_id: str, client_order_id: str, ok: bool, error: str | None,
                conditions: Conditions, now: float) -> list[Effect]:
        job = self.jobs.get(job_id)
        if job is None:
            return []
        job.writing.discard(client_order_id)
        effects: list[Effect] = []
        if ok:
            self.ledger.durable(client_order_id, now)
        else:
            effects.append(Note("error", "write-ahead refused; order not sent",
                                {"client_order_id": client_order_id, "reason": error}))
            self.ledger.abandon(client_order_id)
            job.owned.discard(client_order_id)
            job.coids.remove(client_order_id)
            effects.append(_refuse(job.requester, job.request_id, "state_write_failed",
                                   client_order_id=client_order_id))
        if not job.writing:
            effects += self._run_job(job_id, conditions, now)
        return effects

    def sent(self, job_id: str, client_order_id: str, outcome: OrderOutcome,
             conditions: Conditions, now: float) -> list[Effect]:
        done = self.ledger.apply_outcome(client_order_id, outcome, now)
        effects: list[Effect] = [Persist(done), Note(
            "info", "order sent" if outcome.sent else "order not sent",
            {"client_order_id": done.client_order_id, "kind": done.kind, "symbol": done.symbol,
             "status": str(done.status), "reason": done.reason, "retcode": done.retcode,
             "ticket": done.ticket})]  # fmt: skip
        if done.status is IntentStatus.UNKNOWN:
            effects.append(ResolveSoon())
        elif done.status is IntentStatus.DONE:
            effects.append(PollSoon())
        if outcome.error is not None and outcome.error[0] in CONNECTION_ERROR_CODES:
            effects.append(PollSoon())  # the poll finds out whether the connection is gone
        return effects + self._run_job(job_id, conditions, now)

    def stops_set(self, step: SetStops, outcome: OrderOutcome,
                  stops_now: tuple[float, float] | None) -> list[Effect]:
        lookup, sl, tp = step.lookup, step.sl, step.tp
        request = lookup.request
        assert isinstance(request, ModifyPosition)
        status = {Outcome.DONE: "done", Outcome.UNKNOWN: "unknown"}.get(outcome.status,
                                                                         "rejected")
        if status == "unknown" and stops_now is not None and (
            abs(stops_now[0] - sl) < 1e-9 and abs(stops_now[1] - tp) < 1e-9
        ):
            status = "done"
        report = OrderReport(request.request_id, status, outcome.reason,
                             retcode=outcome.retcode, ticket=request.ticket,
                             symbol=step.position.symbol)
        if status != "unknown":
            self.modify_reports[request.op_id] = report
            while len(self.modify_reports) > MODIFY_REPORTS_KEPT:
                self.modify_reports.popitem(last=False)
        return [Reply(lookup.requester, report), PollSoon()]

    def report_jobs(self) -> list[Effect]:
        """Final reports for the jobs whose intents are all final; an interim ``unknown`` for
        those waiting on a resolution (the final report follows under the same request id)."""
        effects: list[Effect] = []
        for job_id, job in list(self.jobs.items()):
            if job.writing:
                continue
            intents = [self.ledger.get(c) for c in job.coids]
            if any(i is None for i in intents):
                # Waiting on a write-ahead that failed in another job: nothing was sent.
                del self.jobs[job_id]
                effects.append(_refuse(job.requester, job.request_id, "state_write_failed"))
                continue
            if all(i.final for i in intents if i is not None):
                del self.jobs[job_id]
                effects.append(Reply(job.requester, self._report(job)))
            elif not job.interim_sent and any(
                i.status is IntentStatus.UNKNOWN for i in intents if i is not None
            ):
                job.interim_sent = True
                effects.append(Reply(job.requester, self._report(job)))
        return effects

    def abandon_all(self, reason: str) -> list[Effect]:
        """The broker is going away (its gateway is wedged): every job still waiting is
        answered now, ``unknown`` when an order may have gone out (the next broker resolves it
        from the books), ``refused`` when nothing was sent."""
        effects: list[Effect] = []
        for job in self.jobs.values():
            intents = [self.ledger.get(c) for c in job.coids]
            sent = any(i is not None and i.unresolved for i in intents)
            status = "unknown" if sent else "refused"
            effects.append(Reply(job.requester, OrderReport(
                job.request_id, status, reason,
                client_order_id=job.coids[0] if len(job.coids) == 1 else "")))
        self.jobs.clear()
        return effects

    # --- helpers ------------------------------------------------------------------------------

    def _refusal(self, conditions: Conditions, *, opening: bool,
                 sending: set[str] | None = None) -> str | None:
        unresolved = [i for i in self.ledger.unresolved()
                      if sending is None or i.client_order_id not in sending]
        return refusal_reason(
            opening=opening, connected=conditions.connected, reconciled=conditions.reconciled,
            may_trade=conditions.may_trade, gate=conditions.gate,
            unresolved_orders=len(unresolved),
        )  # fmt: skip

    def _decision_in_ledger(self, position: PositionRecord) -> str:
        intent = self.ledger.opened_position(position.ticket, position.comment)
        return intent.decision_id if intent is not None else ""

    def _new_job_id(self) -> str:
        return f"job-{next(self._job_ids)}"

    def _answer_known(self, intent: Intent, request_id: str, sender: Any, kind: str,
                      now: float) -> list[Effect]:
        """A client order id already in the ledger: answered from its record, never resent.
        One that is not final yet is answered when it is."""
        job = Job(request_id, sender, kind, [intent.client_order_id], now)
        self.jobs[self._new_job_id()] = job
        effects: list[Effect] = []
        if not intent.final and intent.status is IntentStatus.UNKNOWN:
            job.interim_sent = True
            effects.append(Reply(sender, self._report(job)))
        return effects + self.report_jobs()

    def _begin_close(self, position: PositionRecord, coid: str, request_id: str, op_id: str,
                     purpose: str, volume: float | None, now: float,
                     conditions: Conditions) -> None:
        self.ledger.begin(Intent(
            client_order_id=coid, kind="close", status=IntentStatus.WRITING,
            symbol=position.symbol, side="SELL" if position.type == _POSITION_TYPE_BUY else "BUY",
            volume=volume, request_id=request_id, created_at=now,
            market_time=conditions.market_time, decision_id=self.decision_of(position),
            ticket=position.ticket, op_id=op_id, purpose=purpose,
        ))  # fmt: skip

    def _start_job(self, job: Job, now: float, conditions: Conditions) -> list[Effect]:
        """Write the job's new intents ahead; it runs when SharedState has all of them."""
        job_id = self._new_job_id()
        self.jobs[job_id] = job
        effects: list[Effect] = []
        for coid in sorted(job.owned):
            intent = dataclasses.replace(self.ledger[coid], status=IntentStatus.SENDING)
            job.writing.add(coid)
            effects.append(WriteAhead(job_id, intent))
        if not job.writing:
            effects += self._run_job(job_id, conditions, now)
        return effects

    def _run_job(self, job_id: str, conditions: Conditions, now: float) -> list[Effect]:
        """The next durable intent of the job to send (one at a time), or its report."""
        job = self.jobs.get(job_id)
        if job is None:
            return []
        late = now - job.started > WRITE_AHEAD_DEADLINE_S
        effects: list[Effect] = []
        for coid in job.coids:
            intent = self.ledger.get(coid)
            if coid not in job.owned or intent is None or intent.status is not IntentStatus.SENDING:
                continue
            refusal = "write_ahead_late" if late else self._refusal(
                conditions, opening=intent.kind == "open", sending=job.owned
            )
            if refusal is not None:
                effects.append(Persist(self.ledger.refuse(coid, refusal, now)))
                continue
            effects.append(Send(job_id, intent))
            return effects  # the rest of the job goes on in sent()
        if not job.coids:
            del self.jobs[job_id]
        return effects + self.report_jobs()

    def _report(self, job: Job) -> OrderReport:
        intents = [self.ledger[c] for c in job.coids]
        if job.kind != "close_all":
            intent = intents[0]
            status = report_status(intent.status)
            return OrderReport(
                job.request_id, status, intent.reason or status,
                client_order_id=intent.client_order_id, retcode=intent.retcode,
                ticket=intent.ticket, price=intent.price,
                volume=intent.filled_volume or (intent.volume or 0.0), symbol=intent.symbol,
                side=intent.side,
            )  # fmt: skip
        closed = tuple(i.ticket for i in intents
                       if i.status is IntentStatus.DONE and i.ticket is not None)
        failed = [i for i in intents if i.status in (IntentStatus.REJECTED, IntentStatus.REFUSED)]
        retry_later = False
        if any(not i.final for i in intents):
            status, reason = "unknown", "some closes have an unknown outcome"
        elif failed:
            status = "rejected"
            reason = "; ".join(f"{i.ticket}: {i.reason}" for i in failed)
            retry_later = all(i.retcode in PASSING_RETCODES for i in failed)
        else:
            status, reason = "done", f"closed {len(closed)} position(s)"
        return OrderReport(job.request_id, status, reason, closed=closed, retry_later=retry_later)


def approval_refusal(order: PlaceOrder, sender: Any, risk: Any, now: float) -> RefusalCode | None:
    """Why an opening order may not be sent (None: it may): it must come from the current
    RiskManager, with an approval for this client order id, symbol and side, for no less
    volume, that has not expired (``now``: wall-clock epoch seconds)."""
    if risk is None or sender != risk:
        return RefusalCode.NOT_FROM_RISK
    approval = order.approval
    if approval is None:
        return RefusalCode.NOT_APPROVED
    if (approval.client_order_id != order.client_order_id or approval.symbol != order.symbol
            or str(approval.side).upper() != str(order.side).upper()
            or not float(order.volume) <= float(approval.volume) + 1e-9):
        return RefusalCode.APPROVAL_MISMATCH
    if not now <= float(approval.expires_at):
        return RefusalCode.APPROVAL_EXPIRED
    return None


def _refuse(to: Any, request_id: str, reason: str, **fields: Any) -> Reply:
    return Reply(to, OrderReport(request_id, "refused", reason, **fields))


