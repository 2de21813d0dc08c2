"""The root supervisor: the top of the tree, the keeper of the directory, and the daemon's
contact.

It starts the core and trading supervisors, merges the addresses they report into one
directory (role → address) and sends it to every actor whenever it changes, pushes the whole
tree to the WebFront for ``/api/supervisors``, and answers the daemon. When its own restart
intensity is exceeded it tells the daemon (:class:`~messages.supervision.GaveUp`), which
latches the kill switch and exits with status 1.
"""

from __future__ import annotations

import os
from typing import Any

from actors.runtime.base import handles
from actors.runtime.logs import bind_process, get_logger
from actors.runtime.restart_policy import ChildSpec
from actors.runtime.supervisor import Supervisor
from messages.supervision import (
    DirectoryRequest,
    GaveUp,
    NodeStatus,
    Peers,
    StartTree,
    SubtreeStatus,
    TreeStarted,
    TreeStatus,
)

__all__ = ["ROOT_GLOBAL_NAME", "ROOT_NAME", "RootSupervisor"]

ROOT_NAME = "root"
# Tools that join the running system (benchmarks, diagnostics) find the root by this name.
ROOT_GLOBAL_NAME = "ensemble-root"


class RootSupervisor(Supervisor):
    role = "RootSupervisor"
    strategy = "one_for_one"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.name = ROOT_NAME
        self.daemon: Any = None
        self._start_requester: Any = None
        self._subdirectories: dict[str, dict[str, Any]] = {}
        self._directory: dict[str, Any] = {}
        self._directory_version = 0

    def child_specs(self) -> list[ChildSpec]:
        """The subtrees under the root: the application's composition root says which."""
        raise NotImplementedError

    @handles(StartTree)
    def _on_start_tree(self, message: StartTree, sender: Any) -> None:
        if self.settings is not None:
            return  # already started; a retried request must not build a second tree
        self.settings = message.settings
        self.daemon_pid = message.daemon_pid
        self.daemon = sender
        self._start_requester = sender
        if message.daemon_pid != os.getpid():
            bind_process(role=self.name, pid=os.getpid())
        self.log = get_logger("ensemble").bind(role=self.name, pid=os.getpid())
        self.start_children()

    @handles(DirectoryRequest)
    def _on_directory_request(self, message: DirectoryRequest, sender: Any) -> None:
        self.send(sender, Peers(dict(self._directory), self._directory_version))

    def on_subtree(self, name: str, message: SubtreeStatus) -> None:
        self._subdirectories[name] = dict(message.directory)

    def on_status_changed(self, node: NodeStatus) -> None:
        self._update_directory()
        web_front = self._directory.get("web_front")
        if web_front is not None:
            self._status_version += 1
            self.send(web_front, TreeStatus(node, self._status_version))
        if self._start_requester is not None and node.state == "running":
            self.send(self._start_requester, TreeStarted(node))
            self._start_requester = None

    def _update_directory(self) -> None:
        directory: dict[str, Any] = {ROOT_NAME: self.myAddress}
        for name, child in self.children.items():
            if child.address is not None and child.state == "running":
                directory[name] = child.address
                directory.update(self._subdirectories.get(name, {}))
        if directory == self._directory:
            return
        self._directory = directory
        self.peers = dict(directory)
        self._directory_version += 1
        peers = Peers(dict(directory), self._directory_version)
        for role, address in directory.items():
            if role != ROOT_NAME:
                self.send(address, peers)

    def escalate(self, reason: str) -> None:
        if self.daemon is not None:
            self.send(self.daemon, GaveUp(self.name, reason))
