"""Supervision and lifecycle messages: configuring children, reporting status, failures,
the directory of peers, and starting and stopping the tree."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "ChildCrashed",
    "Configure",
    "DirectoryRequest",
    "GaveUp",
    "NodeStatus",
    "Peers",
    "StartTree",
    "Started",
    "StatusReply",
    "StatusRequest",
    "StopTree",
    "SubtreeStatus",
    "TreeStarted",
    "TreeStatus",
    "TreeStopped",
]


@dataclass(frozen=True, slots=True)
class Configure:
    """The first message every child gets from its supervisor: who it is and its settings.
    ``settings`` is the daemon's whole validated configuration."""

    name: str
    settings: Any
    daemon_pid: int
    peers: dict[str, Any] = field(default_factory=dict)
    incarnation: int = 0


@dataclass(frozen=True, slots=True)
class Started:
    """A child's answer to :class:`Configure`: it is up, in process ``pid``."""

    name: str
    pid: int


@dataclass(frozen=True, slots=True)
class ChildCrashed:
    """An exception escaped a child's handler; the child is exiting ("let it crash")."""

    name: str
    pid: int
    reason: str


@dataclass(frozen=True, slots=True)
class Peers:
    """The directory, role → current address, sent to every actor after every (re)start.
    Thespian does not keep two messages from one sender in order, so each directory carries
    a ``version`` and an actor ignores one older than what it holds."""

    directory: dict[str, Any]
    version: int = 0


@dataclass(frozen=True, slots=True)
class NodeStatus:
    """One node of the supervision tree as ``/api/supervisors`` shows it."""

    name: str
    role: str
    state: str
    pid: int | None
    restarts: int
    last_failure: dict[str, str] | None
    started_at: str | None
    strategy: str | None = None
    children: tuple[NodeStatus, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "state": self.state,
            "pid": self.pid,
            "restarts": self.restarts,
            "last_failure": self.last_failure,
            "started_at": self.started_at,
            "strategy": self.strategy,
            "children": [child.to_dict() for child in self.children],
        }


@dataclass(frozen=True, slots=True)
class SubtreeStatus:
    """A supervisor's own subtree, pushed to its parent whenever it changes, with the current
    address of each of its running children (the root merges these into the directory)."""

    node: NodeStatus
    directory: dict[str, Any] = field(default_factory=dict)
    version: int = 0  # grows with every push of one supervisor incarnation


@dataclass(frozen=True, slots=True)
class TreeStatus:
    """The whole tree, pushed by the root to the WebFront whenever it changes."""

    root: NodeStatus
    version: int = 0


@dataclass(frozen=True, slots=True)
class StatusRequest:
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class StatusReply:
    request_id: str
    root: NodeStatus


@dataclass(frozen=True, slots=True)
class DirectoryRequest:
    """Ask the root for the current directory; it answers with :class:`Peers`."""


@dataclass(frozen=True, slots=True)
class StartTree:
    """Daemon → root: build the tree with these settings."""

    settings: Any
    daemon_pid: int


@dataclass(frozen=True, slots=True)
class TreeStarted:
    root: NodeStatus


@dataclass(frozen=True, slots=True)
class StopTree:
    """Stop every child in reverse start order, then answer :class:`TreeStopped`."""


@dataclass(frozen=True, slots=True)
class TreeStopped:
    pass


@dataclass(frozen=True, slots=True)
class GaveUp:
    """A supervisor exceeded its restart intensity. From the root to the daemon, this means
    the daemon latches the kill switch and exits with status 1."""

    name: str
    reason: str
