"""Starting and stopping the Thespian ActorSystem the way Ensemble needs it.

Before the system starts: every socket is restricted to loopback (or the chosen host), every
process forked from here is armed to die with its parent, and a stale admin left on the port by
a crashed run is shut down, because a stale admin would run the *old* code for new actors
(DESIGN.md §10).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from thespian.actors import ActorSystem

from actors.runtime.logs import get_logger, thespian_log_config
from actors.runtime.loopback import restrict_thespian_to

__all__ = ["StaleAdminError", "port_is_listening", "replace_stale_admin", "start_actor_system"]

SYSTEM_BASE = "multiprocTCPBase"
THESPIAN_HOST = "127.0.0.1"
STALE_SHUTDOWN_TIMEOUT_S = 20.0

log = get_logger("ensemble.system")


class StaleAdminError(RuntimeError):
    """The admin port is taken by something that could not be shut down."""


def port_is_listening(port: int, host: str = THESPIAN_HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def replace_stale_admin(admin_port: int) -> bool:
    """Shut down a Thespian admin that no live daemon owns. Returns whether there was one.

    The caller holds the admin-port lock, so whatever listens there is not a live daemon. The
    shutdown runs in a child process: joining an ActorSystem makes it this process's singleton.
    """
    if not port_is_listening(admin_port):
        return False
    log.warning("stale Thespian admin found on the admin port; shutting it down",
                admin_port=admin_port)
    command = (
        "from thespian.actors import ActorSystem;"
        f"ActorSystem('{SYSTEM_BASE}', {{'Admin Port': {admin_port}}}).shutdown()"
    )
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", command], timeout=STALE_SHUTDOWN_TIMEOUT_S,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
    deadline = time.monotonic() + 5.0
    while port_is_listening(admin_port):
        if time.monotonic() > deadline:
            raise StaleAdminError(
                f"admin port {admin_port} is in use and did not shut down as a Thespian admin; "
                "stop whatever holds it or choose another --admin-port"
            )
        time.sleep(0.1)
    log.warning("stale Thespian admin shut down", admin_port=admin_port)
    return True


def start_actor_system(admin_port: int, data_dir: Path, log_level: str) -> Any:
    """A new multiprocTCPBase system on ``admin_port``, on loopback only."""
    restrict_thespian_to(THESPIAN_HOST)
    # Thespian's internal errors (unpickling failures…) go only to this file (DESIGN.md §10).
    os.environ["THESPLOG_FILE"] = str(data_dir / "thespian.log")
    os.environ.setdefault("THESPLOG_THRESHOLD", "WARNING")
    return ActorSystem(
        SYSTEM_BASE,
        capabilities={"Admin Port": admin_port},
        logDefs=thespian_log_config(log_level),
    )
