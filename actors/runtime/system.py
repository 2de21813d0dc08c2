"""Starting and stopping the Thespian ActorSystem the way Ensemble needs it.

Before the system starts: every socket is restricted to loopback (or the chosen host), every
frame is authenticated with a fresh secret of this daemon, a timer that is almost due can no
longer leave an actor waiting forever (``actors/runtime/thespian_timers.py``), and a stale
admin left on the port by a crashed run of the same data directory is shut down, because a
stale admin would run the *old* code for new actors (DESIGN.md §10). Anything else on the
port is refused.
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

from actors.runtime.frame_auth import create_secret, install, probe_admin, read_secret
from actors.runtime.instance import read_daemon_info
from actors.runtime.lifeline import hold_lifeline
from actors.runtime.logs import get_logger, thespian_log_config
from actors.runtime.loopback import restrict_thespian_to
from actors.runtime.spawn_setup import (
    START_METHOD_ENV,
    allow_admin_start,
    prepare_spawned_children,
    thespian_start_method,
)
from actors.runtime.thespian_timers import install as install_timer_fix

__all__ = ["StaleAdminError", "join_actor_system", "port_is_listening", "replace_stale_admin",
           "start_actor_system"]

SYSTEM_BASE = "multiprocTCPBase"
THESPIAN_HOST = "127.0.0.1"
STALE_SHUTDOWN_TIMEOUT_S = 20.0
_REPO = Path(__file__).resolve().parents[2]

log = get_logger("ensemble.system")


class StaleAdminError(RuntimeError):
    """The admin port is taken by something that could not be shut down."""


def port_is_listening(port: int, host: str = THESPIAN_HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.settimeout(0.5)
        return probe.connect_ex((host, port)) == 0


def replace_stale_admin(admin_port: int, data_dir: Path) -> bool:
    """Shut down a Thespian admin that no live daemon owns. Returns whether there was one.

    The caller holds the admin-port lock, so whatever listens there is not a live daemon. It is
    shut down only if it proves, without a byte of its answer being unpickled, that it holds the
    secret of the last daemon of ``data_dir`` (:func:`~actors.runtime.frame_auth.probe_admin`);
    anything else on the port is reported and refused. The shutdown runs in a child process:
    joining an ActorSystem makes it this process's singleton.
    """
    if not port_is_listening(admin_port):
        return False
    previous = read_secret(data_dir)
    try:
        ours = probe_admin(admin_port, previous)
    except OSError:
        ours = False
    if not ours:
        raise StaleAdminError(
            f"admin port {admin_port} on {THESPIAN_HOST} is held by a process that is not a "
            f"Thespian admin of this data directory ({data_dir}): its answer failed "
            "authentication and nothing it sent was unpickled; stop whatever holds the port "
            "or choose another --admin-port"
        )
    log.warning("stale Thespian admin found on the admin port; shutting it down",
                admin_port=admin_port)
    command = (
        "import os;"
        "from actors.runtime.frame_auth import install;"
        "from actors.runtime.loopback import restrict_thespian_to;"
        "from thespian.actors import ActorSystem;"
        f"restrict_thespian_to('{THESPIAN_HOST}');"
        "install(bytes.fromhex(os.environ.pop('ENSEMBLE_STALE_ADMIN_SECRET')));"
        f"ActorSystem('{SYSTEM_BASE}', {{'Admin Port': {admin_port}}}).shutdown()"
    )
    environment = {**os.environ, "ENSEMBLE_STALE_ADMIN_SECRET": (previous or b"").hex()}
    with contextlib.suppress(subprocess.TimeoutExpired):
        subprocess.run([sys.executable, "-c", command], timeout=STALE_SHUTDOWN_TIMEOUT_S,
                       stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False, env=environment,
                       cwd=_REPO)
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
    """A new multiprocTCPBase system on ``admin_port``, on loopback only, every frame of it
    authenticated with a fresh secret of this daemon (``actors/runtime/frame_auth.py``)."""
    restrict_thespian_to(THESPIAN_HOST)
    secret = create_secret(data_dir)
    install(secret)
    install_timer_fix()  # no actor sleeps past a timer that was almost due
    # Forked processes inherit the three above; spawned ones (Windows) get them in their start
    # arguments, before their transport starts (actors/runtime/spawn_setup.py).
    prepare_spawned_children(THESPIAN_HOST, secret)
    hold_lifeline()  # every process forked from here can tell when the daemon is gone
    # Thespian's internal errors (unpickling failures…) go only to this file (DESIGN.md §10).
    os.environ["THESPLOG_FILE"] = str(data_dir / "thespian.log")
    os.environ.setdefault("THESPLOG_THRESHOLD", "WARNING")
    capabilities: dict[str, Any] = {"Admin Port": admin_port}
    start_method = os.environ.get(START_METHOD_ENV)
    if start_method:  # a test forcing Windows' spawn on Linux; unset, fork where there is one
        capabilities["Process Startup Method"] = start_method
    allow_admin_start(thespian_start_method(start_method))
    return ActorSystem(SYSTEM_BASE, capabilities=capabilities,
                       logDefs=thespian_log_config(log_level))


def join_actor_system(admin_port: int) -> Any:
    """This process joins the running daemon's system on ``admin_port``, with its secret, read
    from the data directory that the daemon's admin-port lock names."""
    info = read_daemon_info(admin_port)
    if info is None:
        raise RuntimeError(f"no Ensemble daemon is running on admin port {admin_port}")
    secret = read_secret(Path(info.data_dir))
    if secret is None:
        raise RuntimeError(f"the daemon on admin port {admin_port} left no actor secret in "
                           f"{info.data_dir}")
    restrict_thespian_to(THESPIAN_HOST)
    install(secret)
    install_timer_fix()  # its own waits (ask, listen) too
    return ActorSystem(SYSTEM_BASE, capabilities={"Admin Port": admin_port})
