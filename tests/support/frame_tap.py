"""Captures a real authenticated Thespian frame, as someone watching the wire would.

``python -m tests.support.frame_tap --admin-port N --out FILE`` joins the running daemon (with
its secret, as the benchmarks' producer does), asks SharedState to set ``ops.replay`` to
``"captured"`` and writes the exact bytes of that frame, as they went on the wire, to FILE
(the receiving port, a newline, the frame in hex). A test then replays them without the
secret."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

__all__ = ["main"]

KEY = "ops.replay"
CAPTURED = "captured"


def main(argv: list[str] | None = None) -> int:
    from actors.app.tree import ROOT_CLASS
    from actors.runtime import frame_auth
    from actors.runtime.root import ROOT_GLOBAL_NAME
    from actors.runtime.system import join_actor_system
    from messages.commands import StateReply, StateSet
    from messages.supervision import DirectoryRequest, Peers

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--admin-port", type=int, required=True)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)

    frames: list[tuple[int, bytes]] = []
    sealed = frame_auth.AuthenticatedPickle.dumps_to

    def tapped(self: Any, value: Any, port: int) -> bytes:
        body = sealed(self, value, port)
        if isinstance(value, tuple) and isinstance(value[1], StateSet):
            frames.append((port, b"%d>" % len(body) + body))
        return body

    frame_auth.AuthenticatedPickle.dumps_to = tapped  # type: ignore[method-assign]
    system = join_actor_system(args.admin_port)
    root = system.createActor(ROOT_CLASS, globalName=ROOT_GLOBAL_NAME)
    directory = system.ask(root, DirectoryRequest(), 10)
    if not isinstance(directory, Peers):
        raise SystemExit(f"no directory: {directory!r}")
    reply = system.ask(directory.directory["shared_state"],
                       StateSet(request_id="tap-1", key=KEY, value=CAPTURED), 10)
    if not (isinstance(reply, StateReply) and reply.ok) or len(frames) != 1:
        raise SystemExit(f"the write was not carried out: {reply!r}, {len(frames)} frame(s)")
    port, frame = frames[0]
    args.out.write_text(f"{port}\n{frame.hex()}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
