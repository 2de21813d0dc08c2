"""The daemon: ``run_system.py run`` from start to exit.

It takes the single-instance locks, replaces a stale admin, starts the ActorSystem and the
tree, prints where the dashboard is, and then waits for one of two things: a SIGTERM or SIGINT,
or the stop request that ``stop`` leaves on the portable path (stop the tree in reverse start
order, shut the system down, exit 0), or the root supervisor giving up (shut down, latch the
kill switch in SharedState, exit 1).
"""

from __future__ import annotations

import os
import signal
import socket
import sys
import time
from pathlib import Path
from typing import Any

from actors.app.settings import Settings
from actors.app.tree import ROOT_CLASS
from actors.broadcaster.journal import EVENTS_FILE, JournalReader
from actors.runtime.brief import brief
from actors.runtime.clock import iso_utc
from actors.runtime.instance import AlreadyRunning, DaemonInfo, InstanceLock
from actors.runtime.logs import get_logger
from actors.runtime.portable import stop_requested
from actors.runtime.private import PRIVATE_UMASK, UnsafePath, prepare_data_dir
from actors.runtime.root import ROOT_GLOBAL_NAME
from actors.runtime.system import StaleAdminError, replace_stale_admin, start_actor_system
from actors.shared_state.actor import STATE_FILE
from actors.shared_state.keys import KILL_SWITCH
from actors.shared_state.store import KeyValueStore
from messages.supervision import GaveUp, StartTree, StopTree, TreeStarted, TreeStopped
from web.auth import load_or_create_token

__all__ = ["EXIT_GAVE_UP", "EXIT_OK", "EXIT_START_FAILED", "run_daemon"]

EXIT_OK = 0
EXIT_GAVE_UP = 1
EXIT_START_FAILED = 2

log = get_logger("ensemble.daemon")


class _StopRequested:
    def __init__(self) -> None:
        self.signal_name: str | None = None

    def __call__(self, signum: int, frame: Any) -> None:
        self.signal_name = signal.Signals(signum).name



_WILDCARD_HOSTS = ("0.0.0.0", "::", "")


def startup_line(settings: Settings, token: str, token_file: Path, on_terminal: bool) -> str:
    """Where the dashboard is. The token is in the URL only on a terminal: an output that is
    not one (systemd's journal, ``docker logs``, a file) is read by more people than the token
    file, which is 0600. A wildcard bind address is shown as localhost, a name the browser may
    use (any Host the web front does not know gets 421)."""
    host = "localhost" if settings.web.host in _WILDCARD_HOSTS else settings.web.host
    url = f"http://{host}:{settings.web.port}/"
    if on_terminal:
        return f"Ensemble is running. Dashboard: {url}?token={token}"
    return f"Ensemble is running. Dashboard: {url}?token=<the token in {token_file}>"

def _check_web_port(host: str, port: int) -> None:
    with socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError as error:
            raise OSError(f"cannot listen on {host}:{port} for the web front ({error.strerror});"
                          " choose another --port or --host") from None


def _latch_kill_switch(data_dir: Path, reason: str) -> None:
    """Written by the daemon after every actor has stopped, so SharedState's rule of one
    writer still holds."""
    store = KeyValueStore(data_dir / STATE_FILE)
    try:
        store.set(KILL_SWITCH, {"latched": True, "reason": reason, "at": iso_utc(time.time())})
    finally:
        store.close()


def run_daemon(settings: Settings) -> int:
    data_dir = settings.data_path
    os.umask(PRIVATE_UMASK)  # every file the daemon and its actors create is 0600
    lock = InstanceLock(settings.runtime.admin_port, data_dir)
    try:
        prepare_data_dir(data_dir)
        lock.acquire()
    except (AlreadyRunning, UnsafePath, OSError) as error:
        print(f"ensemble: {error}", file=sys.stderr)
        return EXIT_START_FAILED
    try:
        return _run_locked(settings, data_dir, lock)
    finally:
        lock.release()


def _run_locked(settings: Settings, data_dir: Path, lock: InstanceLock) -> int:
    try:
        token, token_file = load_or_create_token(data_dir)
        # The event journal's file and schema exist before any actor opens it: the Broadcaster
        # (its writer) and the WebFront (its reader) starting together raced to create it, and
        # the loser crashed with "database is locked" (seen in a fresh-clone run).
        JournalReader(data_dir / EVENTS_FILE, read_only=False).close()
        _check_web_port(settings.web.host, settings.web.port)
        replace_stale_admin(settings.runtime.admin_port, data_dir)
    except (OSError, ValueError, StaleAdminError) as error:
        print(f"ensemble: {error}", file=sys.stderr)
        return EXIT_START_FAILED
    if settings.web.host not in ("127.0.0.1", "localhost", "::1"):
        log.warning("the web front listens beyond loopback; anyone who can reach it and has the "
                    "token controls trading", host=settings.web.host)

    stop = _StopRequested()
    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)
    if hasattr(signal, "SIGBREAK"):  # Ctrl+Break in a Windows console
        signal.signal(signal.SIGBREAK, stop)
    stop_requested(data_dir)  # a request left behind by an earlier run is not for this one
    system = start_actor_system(settings.runtime.admin_port, data_dir, settings.log.level)
    gave_up: GaveUp | None = None
    try:
        root = system.createActor(ROOT_CLASS,
                                  globalName=ROOT_GLOBAL_NAME)
        reply = system.ask(root, StartTree(settings, os.getpid()), settings.runtime.start_timeout_s)
        if not isinstance(reply, TreeStarted):
            log.error("the actor tree did not start", reply=brief(reply))
            return EXIT_START_FAILED
        url = f"http://{settings.web.host}:{settings.web.port}/"
        lock.publish(DaemonInfo(os.getpid(), settings.runtime.admin_port, str(data_dir), url,
                                str(token_file), iso_utc(time.time())))
        print(startup_line(settings, token, token_file, sys.stdout.isatty()), flush=True)
        print(f"API token file: {token_file}", flush=True)
        log.info("daemon started", pid=os.getpid(), dashboard=url, token_file=str(token_file),
                 admin_port=settings.runtime.admin_port)
        while stop.signal_name is None:
            message = system.listen(0.5)
            if stop_requested(data_dir):  # `ensemble stop` on the portable path (Windows)
                stop.signal_name = "stop request"
                break
            if isinstance(message, GaveUp):
                gave_up = message
                break
        if gave_up is None:
            log.info("stopping", signal=stop.signal_name)
            stopped = system.ask(root, StopTree(), settings.runtime.stop_timeout_s)
            if not isinstance(stopped, TreeStopped):
                log.warning("the tree did not stop in time; shutting the system down anyway")
    finally:
        system.shutdown()
    if gave_up is not None:
        reason = f"supervision gave up: {gave_up.reason}"
        log.error("the root supervisor gave up; kill switch latched", reason=reason)
        _latch_kill_switch(data_dir, reason)
        return EXIT_GAVE_UP
    log.info("stopped")
    return EXIT_OK
