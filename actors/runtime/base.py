"""The base class of every Ensemble actor.

Lifecycle, in the order things happen to an actor:

1. Its supervisor creates it and sends :class:`~messages.supervision.Configure`. The actor
   records its name, settings and peers, binds its log lines to its role and pid, calls
   :meth:`EnsembleActor.on_configure`, and answers :class:`~messages.supervision.Started`.
2. Messages are dispatched by type to methods marked with :func:`handles`. A timer set with
   :meth:`EnsembleActor.after` delivers its payload the same way.
3. :class:`~messages.supervision.Peers` brings the current address of every role, after every
   (re)start anywhere in the tree; :meth:`EnsembleActor.on_peers` is called.
4. On ``ActorExitRequest`` it calls :meth:`EnsembleActor.on_stop` and Thespian ends it.

Failure ("let it crash"): an exception that escapes a handler is logged once, with its
traceback, the supervisor is told why (:class:`~messages.supervision.ChildCrashed`), and the
actor exits. The exception is caught here, before Thespian's retry-the-handler-twice logic can
run its side effects again (DESIGN.md §10). The supervisor starts a clean replacement.

Liveness: every actor checks, on a timer, that its parent process and its daemon are alive,
and exits at once when either is gone, so no actor outlives the daemon.

Driven by a backtest (:attr:`EnsembleActor.market_driven`: its settings say so, or a
:class:`~messages.backtest.MarketTime` has set its clock), an actor keeps no wall-clock timer
of its own pending: simpleSystemBase scans every pending timer at every message it delivers,
and a timer would make what happens depend on how fast the machine runs. Its requests'
deadlines are checked at each MarketTime instead, and, in the driver's own process (as
:mod:`actors.backtest.driver` runs every actor), it has no liveness check: it cannot outlive
that process.
"""

from __future__ import annotations

import gc
import os
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, ClassVar, TypeVar

from thespian.actors import (
    Actor,
    ActorExitRequest,
    ChildActorExited,
    DeadEnvelope,
    PoisonMessage,
    ThespianWatch,
    WakeupMessage,
    WatchMessage,
)

from actors.runtime.brief import brief, brief_error
from actors.runtime.clock import Clock, ManualClock, WallClock, iso_utc
from actors.runtime.lifeline import (
    DaemonWatch,
    ParentWatch,
    arm_parent_death_signal,
    end_thespian_group,
    session_of,
)
from actors.runtime.logs import bind_process, get_logger
from actors.runtime.publish_lane import LaneSender, Sent, lane_address
from actors.runtime.requests import Callback, OpenRequest, OutstandingRequests
from messages.backtest import MarketTime
from messages.codec import to_wires
from messages.commands import Publish, WirePublish
from messages.events import Event
from messages.supervision import ChildCrashed, Configure, Peers, Started

__all__ = ["EnsembleActor", "driven_by_market", "handles"]

F = TypeVar("F", bound=Callable[..., Any])

_UNPUBLISHED_LIMIT = 10_000
_LANE_FLUSH_S = 0.001  # how soon a lane's unsent bytes are tried again
_LANE_DRAIN_S = 1.0  # how long a stopping actor waits for its lane to take what it queued


def driven_by_market(settings: Any) -> bool:
    """Whether ``settings`` are a backtest's: a driven simulated terminal, whose market time
    moves only when the driver says (``sim.driven``)."""
    broker, sim = getattr(settings, "broker", None), getattr(settings, "sim", None)
    return getattr(broker, "kind", None) == "sim" and bool(getattr(sim, "driven", False))


def handles(*message_types: type) -> Callable[[F], F]:
    """Mark a method as the handler of ``message_types`` (and their subclasses)."""

    def mark(method: F) -> F:
        method._ensemble_handles = message_types  # type: ignore[attr-defined]
        return method

    return mark


@dataclass(frozen=True, slots=True)
class _LivenessCheck:
    pass


@dataclass(frozen=True, slots=True)
class _PublishDue:
    """The end of a publish window: send what was published during it."""


@dataclass(frozen=True, slots=True)
class _LaneFlush:
    """Time to write what the publish lane's socket did not take yet."""


@dataclass(frozen=True, slots=True)
class _ReplySweep:
    """Time to call the ``on_timeout`` of the requests whose deadline has passed."""


class EnsembleActor(Actor):
    """Thin actors: decode a message, call pure logic, send messages."""

    role: ClassVar[str] = "actor"
    _handler_table: ClassVar[dict[type, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        table: dict[type, str] = {}
        for klass in reversed(cls.__mro__):
            for attribute, value in vars(klass).items():
                for message_type in getattr(value, "_ensemble_handles", ()):
                    table[message_type] = attribute
        cls._handler_table = table

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = self.role
        self.settings: Any = None
        self.supervisor: Any = None
        self.peers: dict[str, Any] = {}
        self.daemon_pid: int | None = None
        self.incarnation = 0
        self.clock: Clock = WallClock()
        self.log = get_logger("ensemble")
        self._parent_watch = ParentWatch(os.getppid())
        self._daemon_session: int | None = None
        self._daemon_watch: DaemonWatch | None = None
        self._peers_version = 0
        self._crashed = False
        self._unpublished: deque[Event] = deque(maxlen=_UNPUBLISHED_LIMIT)
        self._requests = OutstandingRequests()
        self._sweep_at: float | None = None
        self.market_driven = False
        """A backtest's: the driver's MarketTime moves this actor's clock; no wall-clock timer
        of its own is to stay pending."""
        self._published_at = float("-inf")  # monotonic time of the last Publish sent
        self._publish_due = False
        self._lane: LaneSender | None = None  # to the Broadcaster, in a process of its own
        self._lane_flush_due = False

    # --- hooks for subclasses ------------------------------------------------------------------

    def on_configure(self) -> None:
        """Called once, after :class:`Configure`, before :class:`Started` is sent."""

    def on_peers(self) -> None:
        """Called after every :class:`Peers` update."""

    def on_stop(self) -> None:
        """Called on ``ActorExitRequest``: release resources (files, threads, sockets)."""

    def watched_fds(self) -> list[int]:
        """File descriptors Thespian should watch for this actor (WatchMessage on activity)."""
        return []

    # --- helpers ---------------------------------------------------------------------------

    def now_iso(self) -> str:
        return iso_utc(self.clock.now())

    def peer(self, role: str) -> Any:
        return self.peers.get(role)

    def after(self, seconds: float, payload: Any) -> None:
        """Deliver ``payload`` to its handler after ``seconds``."""
        self.wakeupAfter(max(0.0, seconds), payload=payload)

    def ask_peer(
        self,
        role: str,
        make_message: Callable[[str], Any],
        on_reply: Callback,
        timeout: float | None = None,
        on_timeout: Callable[[], None] | None = None,
        *,
        final: Callable[[Any], bool] | None = None,
        resend: bool = False,
        tag: Any = None,
        request_id: str | None = None,
    ) -> str | None:
        """Send ``make_message(request_id)`` to ``role``; its replies (the messages carrying that
        ``request_id``) go to ``on_reply``. Without an answer in ``timeout`` seconds, or when
        the role is not running and the request is not ``resend``, ``on_timeout`` is called
        instead. Nothing blocks meanwhile. ``final``, ``resend`` and ``tag`` are explained in
        :mod:`actors.runtime.requests`."""
        address = self.peers.get(role)
        if address is None and not resend:
            if on_timeout is not None:
                on_timeout()
            return None
        request_id = request_id or uuid.uuid4().hex
        message = make_message(request_id)
        deadline = None if timeout is None else time.monotonic() + max(0.0, timeout)
        self._requests.open(OpenRequest(request_id, role, message, on_reply, on_timeout,
                                        final, resend, tag, address), deadline)
        if address is not None:
            self.send(address, message)
        if deadline is not None:
            self._arm_sweep()
        return request_id

    def waiting_on(self, tag: Any) -> bool:
        """Whether a request asked with ``tag`` still waits for its final reply."""
        return self._requests.waiting_on(tag)

    def _arm_sweep(self) -> None:
        if self.market_driven:
            return  # swept at every MarketTime (set_market_time)
        due = self._requests.next_deadline()
        if due is None:
            return
        if self._sweep_at is not None and self._sweep_at <= due:
            return  # a timer at or before it is already set
        self._sweep_at = due
        self.wakeupAfter(max(0.0, due - time.monotonic()), payload=_ReplySweep())

    def _sweep_replies(self) -> None:
        self._sweep_at = None
        for request in self._requests.expire(time.monotonic()):
            if request.on_timeout is not None:
                request.on_timeout()
        self._arm_sweep()

    def publish(self, events: Iterable[Event]) -> None:
        """Send events to the Broadcaster, at most one message per ``runtime.publish_window_ms``:
        the first call after a quiet window sends at once, the calls that follow within the
        window are sent together, in order, when it ends (a Thespian message costs far more
        than the events in it). Held while the Broadcaster is unknown."""
        self._unpublished.extend(events)
        if self._publish_due or not self._unpublished or "broadcaster" not in self.peers:
            return
        window = float(getattr(getattr(self.settings, "runtime", None), "publish_window_ms",
                               0.0)) / 1000.0
        wait = self._published_at + window - time.monotonic()
        if wait <= 0:
            self._send_published()
            return
        self._publish_due = True
        self.wakeupAfter(wait, payload=_PublishDue())

    def _send_published(self) -> None:
        broadcaster = self.peers.get("broadcaster")
        if broadcaster is None or not self._unpublished:
            return
        batch = tuple(self._unpublished)
        self._unpublished.clear()
        self._published_at = time.monotonic()
        if self._lane is None:
            self.send(broadcaster, Publish(batch))
            return
        self._after_lane(*self._lane.send(WirePublish(tuple(self._wires(batch)))))

    def _wires(self, events: Iterable[Event]) -> list[dict[str, Any]]:
        """The events in wire form; one that cannot be is logged and dropped."""
        return to_wires(events, lambda event, error: self.log.error(
            "event dropped: cannot encode", event_type=event.TYPE, reason=str(error)))

    def _after_lane(self, state: Sent, unsent: list[Any]) -> None:
        """What the publish lane did not take goes by Thespian; what it holds is written
        again shortly (:mod:`actors.runtime.publish_lane`)."""
        broadcaster = self.peers.get("broadcaster")
        for message in unsent:
            if broadcaster is not None:
                self.send(broadcaster, message)
        if state is Sent.PENDING and not self._lane_flush_due:
            self._lane_flush_due = True
            self.wakeupAfter(_LANE_FLUSH_S, payload=_LaneFlush())

    def _close_lane(self) -> None:
        if self._lane is not None:
            self._after_lane(Sent.DONE, self._lane.drain(_LANE_DRAIN_S))
            self._lane.close()
            self._lane = None

    # --- Thespian entry point ----------------------------------------------------------------

    def receiveMessage(self, message: Any, sender: Any) -> Any:
        try:
            if self._crashed:
                return None
            self._dispatch_message(message, sender)
        except Exception as error:
            self._crash(error)
        finally:
            fds = [] if self._crashed else self.watched_fds()
            # A watch is one-shot: Thespian drops it whenever this method returns anything
            # else, so it is returned on every path, exceptions included (DESIGN.md §10).
            if fds:
                return ThespianWatch(fds)  # noqa: B012
        return None

    # Not called ``_receive``: simpleSystemBase installs an attribute of that name on every
    # actor instance, and shadowing it recurses forever.
    def _dispatch_message(self, message: Any, sender: Any) -> None:
        if isinstance(message, ActorExitRequest):
            self._send_published()  # nothing published is left behind
            self._close_lane()
            self.on_stop()
            return
        if isinstance(message, WakeupMessage):
            if isinstance(message.payload, _LivenessCheck):
                self._check_liveness()
                return
            if isinstance(message.payload, _ReplySweep):
                self._sweep_replies()
                return
            if isinstance(message.payload, _PublishDue):
                self._publish_due = False
                self._send_published()
                return
            if isinstance(message.payload, _LaneFlush):
                self._lane_flush_due = False
                if self._lane is not None:
                    self._after_lane(*self._lane.flush())
                return
            if message.payload is None:
                return
            message, sender = message.payload, self.myAddress
        if isinstance(message, Configure):
            self._configure(message, sender)
            return
        if isinstance(message, Peers):
            if message.version and message.version <= self._peers_version:
                return  # an older directory overtaken in transit
            self._peers_version = message.version
            self.peers = dict(message.directory)
            for request in self._requests.readdress(self.peers):
                self.send(request.address, request.message)
            self.on_peers()
            self.publish(())
            return
        request_id = getattr(message, "request_id", None)
        request = None if request_id is None else self._requests.answer(request_id, message)
        if request is not None:
            request.on_reply(message)
            return
        handler = self._handler_for(message)
        if handler is not None:
            handler(message, sender)
        elif isinstance(message, PoisonMessage):
            self.log.warning("message failed in its recipient", message=brief(message))
        elif not isinstance(message, ChildActorExited | DeadEnvelope | WatchMessage):
            self.log.warning("unhandled message", message_type=type(message).__name__,
                             message=brief(message))

    @handles(MarketTime)
    def _on_market_time(self, message: MarketTime, sender: Any) -> None:
        """A backtest's driver sets the market time: from now on it is this actor's clock."""
        self.set_market_time(message.now)

    def set_market_time(self, now: float) -> None:
        if isinstance(self.clock, ManualClock):
            self.clock.set(now)
        else:
            self.clock = ManualClock(now)
        self.market_driven = True
        # The deadlines are still wall-clock ones: checked here, at every step of the driver,
        # rather than by a timer that every message delivered would have to scan past.
        self._sweep_replies()

    def _handler_for(self, message: Any) -> Callable[[Any, Any], None] | None:
        for klass in type(message).__mro__:
            attribute = self._handler_table.get(klass)
            if attribute is not None:
                return getattr(self, attribute)
        return None

    def _configure(self, message: Configure, sender: Any) -> None:
        self.name = message.name
        self.settings = message.settings
        self.supervisor = sender
        self.daemon_pid = message.daemon_pid
        self.incarnation = message.incarnation
        self.peers.update(message.peers)
        self.market_driven = self.market_driven or driven_by_market(message.settings)
        if message.daemon_pid != os.getpid():  # a process of its own, not an in-process test
            arm_parent_death_signal()
            if self._parent_watch.gone():
                os._exit(0)
            self._daemon_session = session_of(message.daemon_pid)
            self._daemon_watch = DaemonWatch(message.daemon_pid)
            # Events go to the Broadcaster on the publish lane when it listens there.
            data_path = getattr(self.settings, "data_path", None)
            if data_path is not None:
                self._lane = LaneSender(lane_address(data_path))
            bind_process(role=self.name, pid=os.getpid())  # for records from other libraries
        self.log = get_logger("ensemble").bind(role=self.name, pid=os.getpid())
        self.on_configure()
        if message.daemon_pid != os.getpid():
            # What start-up made (modules, settings, the actor's own state) lives as long as
            # the process: out of the collector's sight, a full collection no longer walks
            # it, which took 60-90 ms (an event stream stalled that long) on this machine.
            gc.freeze()
        self.send(sender, Started(self.name, os.getpid()))
        self._schedule_liveness()

    def _schedule_liveness(self) -> None:
        if self.market_driven and self.daemon_pid == os.getpid():
            return  # a backtest's, in the driver's own process: nothing to outlive
        interval = getattr(getattr(self.settings, "runtime", None), "liveness_interval_s", 1.0)
        self.wakeupAfter(interval, payload=_LivenessCheck())

    def _check_liveness(self) -> None:
        if self._daemon_watch is not None and self._daemon_watch.gone():
            self.log.warning("the daemon is gone; ending every actor", daemon_pid=self.daemon_pid,
                             noticed_by=self._daemon_watch.method)
            end_thespian_group(self._daemon_session, self.settings.runtime.admin_port)
        if self._parent_watch.gone():
            self.log.warning("parent actor is gone; exiting")
            os._exit(0)
        self._schedule_liveness()

    def _crash(self, error: BaseException) -> None:
        if self._crashed:
            return
        self._crashed = True
        self._send_published()  # what it published before the crash still goes out
        try:
            self._close_lane()
        except Exception as lane_error:
            self.log.error("closing the publish lane failed", reason=brief_error(lane_error))
        reason = brief_error(error, 500)
        self.log.error("actor crashed", reason=reason, exc_info=error)
        if self.supervisor is not None:
            self.send(self.supervisor, ChildCrashed(self.name, os.getpid(), reason))
        try:
            self.on_stop()
        except Exception as cleanup_error:
            self.log.error("cleanup after crash failed", reason=brief_error(cleanup_error))
        self.send(self.myAddress, ActorExitRequest())

