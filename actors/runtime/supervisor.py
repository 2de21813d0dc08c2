"""The supervisor actor: starts its children from child specs, restarts the ones that fail by
its strategy, within its restart intensity, and escalates when that is exceeded.

Thespian offers none of this (DESIGN.md §1); the rules themselves live in
:mod:`actors.runtime.restart_policy`. A failure is either a child's process dying (Thespian's
``ChildActorExited``, which can arrive twice, so exits are matched against the child's current
address) or a child reporting :class:`~messages.supervision.ChildCrashed` just before it exits.

A restarted child gets a new address. The supervisor pushes its subtree, with the addresses of
its children, to its parent whenever something changes; the root turns that into the directory
it sends to every actor.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

from thespian.actors import ActorExitRequest, ChildActorExited

from actors.runtime.base import EnsembleActor, handles
from actors.runtime.clock import iso_utc
from actors.runtime.lifeline import kill_now
from actors.runtime.restart_policy import (
    ChildSpec,
    Intensity,
    Strategy,
    backoff_delay,
    children_to_restart,
    should_restart,
)
from messages.events import ActorRestarted
from messages.supervision import (
    ChildCrashed,
    Configure,
    NodeStatus,
    Started,
    StatusReply,
    StatusRequest,
    StopTree,
    SubtreeStatus,
    TreeStopped,
)

__all__ = ["Supervisor"]


@dataclass(slots=True)
class _Child:
    spec: ChildSpec
    address: Any = None
    pid: int | None = None
    state: str = "stopped"
    restarts: int = 0
    incarnation: int = 0
    started_at: str | None = None
    last_failure: dict[str, str] | None = None
    crash_reason: str | None = None
    restart_reason: str | None = None
    replaced_pid: int | None = None
    subtree: NodeStatus | None = None
    subtree_version: int = 0
    directory: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class _RestartDue:
    generation: int


@dataclass(frozen=True, slots=True)
class _StopTimeout:
    name: str
    incarnation: int


class Supervisor(EnsembleActor):
    """Subclasses set :attr:`strategy` and return their children from :meth:`child_specs`.

    With :attr:`isolate_children`, each child has a restart intensity of its own, and a child
    that exceeds it is left failed while its siblings go on (for independent children, such as
    traders' strategies: one that keeps crashing must not stop the others); the supervisor
    itself never gives up then.
    """

    role = "supervisor"
    strategy: ClassVar[Strategy] = "one_for_one"
    isolate_children: ClassVar[bool] = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.children: dict[str, _Child] = {}
        self.intensity: Intensity | None = None
        self._child_intensity: dict[str, Intensity] = {}
        self.state = "starting"
        self.started_at: str | None = None
        self._restart_queue: list[str] = []
        self._restart_generation = 0
        self._restart_due = False
        self._stop_queue: list[str] = []
        self._after_stop: Callable[[], None] | None = None
        self._given_up = False
        self._was_ready = False
        self._status_version = 0

    def child_specs(self) -> list[ChildSpec]:
        return []

    # --- start ---------------------------------------------------------------------------------

    def on_configure(self) -> None:
        self.start_children()

    def start_children(self) -> None:
        supervision = self.settings.supervision
        self.intensity = Intensity(supervision.max_restarts, supervision.period_s)
        self.started_at = self.now_iso()
        for spec in self.child_specs():
            self.children[spec.name] = _Child(spec)
        for child in self.children.values():
            self._start(child)
        self._refresh_state()

    def _start(self, child: _Child) -> None:
        child.incarnation += 1
        child.address = self.createActor(child.spec.actor)
        child.state = "starting"
        child.pid = None
        child.crash_reason = None
        child.subtree = None
        child.subtree_version = 0
        child.directory = {}
        self.send(
            child.address,
            Configure(
                child.spec.name,
                self.settings,
                self.daemon_pid or os.getpid(),
                peers=dict(self.peers),
                incarnation=child.incarnation,
            ),
        )

    @handles(Started)
    def _on_started(self, message: Started, sender: Any) -> None:
        child = self.children.get(message.name)
        if child is None or sender != child.address:
            return
        child.state = "running"
        child.pid = message.pid
        child.started_at = self.now_iso()
        self.peers[child.spec.name] = child.address
        if child.restart_reason is not None:
            self.publish(
                [
                    ActorRestarted(
                        timestamp=self.now_iso(),
                        name=child.spec.name,
                        old_pid=child.replaced_pid,
                        new_pid=child.pid,
                        reason=child.restart_reason,
                        restarts=child.restarts,
                    )
                ]
            )
            self.log.info(
                "child restarted",
                child=child.spec.name,
                old_pid=child.replaced_pid,
                new_pid=child.pid,
                reason=child.restart_reason,
                restarts=child.restarts,
            )
            child.restart_reason = None
        self._refresh_state()

    @handles(SubtreeStatus)
    def _on_subtree(self, message: SubtreeStatus, sender: Any) -> None:
        child = self._child_at(sender)
        if child is None or (message.version and message.version <= child.subtree_version):
            return  # a stale status overtaken in transit
        child.subtree_version = message.version
        child.subtree = message.node
        child.directory = dict(message.directory)
        self.on_subtree(child.spec.name, message)
        self._refresh_state()

    def on_subtree(self, name: str, message: SubtreeStatus) -> None:
        """The root merges its children's directories here."""

    # --- failures ------------------------------------------------------------------------------

    @handles(ChildCrashed)
    def _on_child_crashed(self, message: ChildCrashed, sender: Any) -> None:
        child = self._child_at(sender)
        if child is not None:
            child.crash_reason = message.reason

    @handles(ChildActorExited)
    def _on_child_exited(self, message: ChildActorExited, sender: Any) -> None:
        child = self._child_at(message.childAddress)
        if child is None:
            return  # a duplicate notice, or an exit we already handled
        child.address = None
        self.peers.pop(child.spec.name, None)
        if child.state == "stopping":
            child.state = "stopped"
            self._continue_stopping()
        else:
            reason = child.crash_reason or "process exited unexpectedly (killed or died)"
            self._child_failed(child, reason)
        self._try_restart()
        self._refresh_state()

    def _child_failed(self, child: _Child, reason: str) -> None:
        now = self.clock.now()
        child.state = "failed"
        child.last_failure = {"time": iso_utc(now), "reason": reason}
        self.log.warning("child failed", child=child.spec.name, pid=child.pid, reason=reason)
        if self._given_up or self._after_stop is not None:
            return
        if not should_restart(child.spec, failed=True):
            child.state = "stopped"
            return
        intensity = self._intensity_of(child)
        if not intensity.record(now):
            why = (f"{child.spec.name} failed {intensity.max_restarts + 1} times in "
                   f"{intensity.period_s:g} s (last: {reason})")
            if self.isolate_children:
                # Only this child is given up on; its siblings are independent of it.
                self.log.error("child given up", child=child.spec.name, reason=why)
                child.last_failure = {"time": iso_utc(now), "reason": f"given up: {why}"}
                return
            self.give_up(why)
            return
        group = children_to_restart(self.strategy, list(self.children), child.spec.name)
        for name in group:
            member = self.children[name]
            if name != child.spec.name and not should_restart(member.spec, failed=False):
                continue
            member.restart_reason = (
                reason if member is child else f"restarted with {child.spec.name} ({self.strategy})"
            )
            member.replaced_pid = member.pid
            member.restarts += 1
            if member.address is not None and member.state != "stopping":
                self._stop_child(member)
            if name not in self._restart_queue:
                self._restart_queue.append(name)
        supervision = self.settings.supervision
        delay = backoff_delay(
            intensity.recent(now),
            supervision.backoff_initial_s,
            supervision.backoff_max_s,
            supervision.jitter,
        )
        self._restart_generation += 1
        if delay > 0:
            self._restart_due = False
            self.after(delay, _RestartDue(self._restart_generation))
        else:
            self._restart_due = True

    def _intensity_of(self, child: _Child) -> Intensity:
        assert self.intensity is not None
        if not self.isolate_children:
            return self.intensity
        if child.spec.name not in self._child_intensity:
            self._child_intensity[child.spec.name] = Intensity(self.intensity.max_restarts,
                                                               self.intensity.period_s)
        return self._child_intensity[child.spec.name]

    @handles(_RestartDue)
    def _on_restart_due(self, message: _RestartDue, sender: Any) -> None:
        if message.generation == self._restart_generation:
            self._restart_due = True
            self._try_restart()
            self._refresh_state()

    def _try_restart(self) -> None:
        if not self._restart_queue or not self._restart_due or self._given_up:
            return
        if any(self.children[name].address is not None for name in self._restart_queue):
            return  # siblings of a group restart are still going down
        queue = [name for name in self.children if name in self._restart_queue]
        self._restart_queue = []
        for name in queue:
            self._start(self.children[name])

    def give_up(self, reason: str) -> None:
        """Restart intensity exceeded: stop every child, then escalate to the parent."""
        self.log.error("supervisor gives up", reason=reason)
        self._given_up = True
        self.state = "failed"
        self._restart_queue = []
        self.stop_children(lambda: self.escalate(reason))

    def escalate(self, reason: str) -> None:
        if self.supervisor is not None:
            self.send(self.supervisor, ChildCrashed(self.name, os.getpid(), f"gave up: {reason}"))
        self.send(self.myAddress, ActorExitRequest())

    # --- stopping ------------------------------------------------------------------------------

    @handles(StopTree)
    def _on_stop_tree(self, message: StopTree, sender: Any) -> None:
        self.stop_children(lambda: self.send(sender, TreeStopped()))

    @handles(TreeStopped)
    def _on_tree_stopped(self, message: TreeStopped, sender: Any) -> None:
        child = self._child_at(sender)
        if child is not None and child.state == "stopping":
            self.send(child.address, ActorExitRequest())

    def stop_children(self, then: Callable[[], None]) -> None:
        """Stop the children one by one in reverse start order, then call ``then``."""
        self.state = "stopping" if not self._given_up else "failed"
        self._after_stop = then
        self._stop_queue = [name for name in reversed(self.children)]
        self._continue_stopping()

    def _continue_stopping(self) -> None:
        while self._stop_queue:
            child = self.children[self._stop_queue[0]]
            if child.address is None:
                child.state = "stopped"
                self._stop_queue.pop(0)
                continue
            if child.state != "stopping":
                self._stop_child(child)
            return
        if self._after_stop is not None:
            then, self._after_stop = self._after_stop, None
            self._refresh_state()
            then()

    def _stop_child(self, child: _Child) -> None:
        child.state = "stopping"
        # A supervisor child first stops its own children in order; plain actors just exit.
        self.send(child.address, StopTree() if child.spec.is_supervisor else ActorExitRequest())
        self.after(
            self.settings.supervision.stop_timeout_s,
            _StopTimeout(child.spec.name, child.incarnation),
        )

    @handles(_StopTimeout)
    def _on_stop_timeout(self, message: _StopTimeout, sender: Any) -> None:
        child = self.children.get(message.name)
        if child is None or child.incarnation != message.incarnation or child.address is None:
            return
        if child.state == "stopping" and child.pid:
            self.log.warning("child did not stop in time; killing it", child=child.spec.name,
                             pid=child.pid)
            kill_now(child.pid)

    # --- status --------------------------------------------------------------------------------

    @handles(StatusRequest)
    def _on_status_request(self, message: StatusRequest, sender: Any) -> None:
        self.send(sender, StatusReply(message.request_id, self.status_node()))

    def _child_at(self, address: Any) -> _Child | None:
        if address is None:
            return None
        for child in self.children.values():
            if child.address is not None and child.address == address:
                return child
        return None

    def _refresh_state(self) -> None:
        if self.state not in ("stopping", "failed"):
            if all(self._is_ready(child) for child in self.children.values()):
                self.state = "running"
                self._was_ready = True
            else:
                self.state = "restarting" if self._was_ready else "starting"
        self.on_status_changed(self.status_node())

    @staticmethod
    def _is_ready(child: _Child) -> bool:
        if child.spec.restart == "temporary" and child.state == "stopped":
            return True
        if child.state != "running":
            return False
        if child.spec.is_supervisor:
            return child.subtree is not None and child.subtree.state == "running"
        return True

    def on_status_changed(self, node: NodeStatus) -> None:
        """Push the subtree to the parent. The root overrides this."""
        if self.supervisor is not None:
            directory: dict[str, Any] = {}
            for name, child in self.children.items():
                if child.address is not None and child.state == "running":
                    directory[name] = child.address
                    directory.update(child.directory)  # a supervisor's own children
            self._status_version += 1
            self.send(self.supervisor, SubtreeStatus(node, directory, self._status_version))

    def status_node(self) -> NodeStatus:
        return NodeStatus(
            name=self.name,
            role=self.role,
            state=self.state,
            pid=os.getpid(),
            restarts=0,
            last_failure=None,
            started_at=self.started_at,
            strategy=self.strategy,
            children=tuple(self._child_node(child) for child in self.children.values()),
        )

    @staticmethod
    def _child_node(child: _Child) -> NodeStatus:
        subtree = child.subtree
        return NodeStatus(
            name=child.spec.name,
            role=subtree.role if subtree else child.spec.role,
            state=child.state,
            pid=child.pid,
            restarts=child.restarts,
            last_failure=child.last_failure,
            started_at=child.started_at,
            strategy=subtree.strategy if subtree else None,
            children=subtree.children if subtree else (),
        )
