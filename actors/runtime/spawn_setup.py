"""Processes that Thespian *spawns* are set up as the daemon is, before their transport starts.

The daemon prepares its process before the ActorSystem starts (``actors/runtime/system.py``):
Thespian's sockets bound to loopback (:mod:`actors.runtime.loopback`), every frame sealed with
the daemon's secret (:mod:`actors.runtime.frame_auth`) and the almost-due timer fixed
(:mod:`actors.runtime.thespian_timers`). With Thespian's default start method on Linux, fork,
the admin, the logger and every actor inherit all three in memory. With the spawn start method
(the only one on Windows; Thespian's ``'Process Startup Method': 'spawn'`` capability elsewhere)
each of them is a fresh interpreter that imports Thespian anew: unprepared, its transport would
send and expect plain pickles, and the daemon's admin would never answer.

:func:`prepare_spawned_children` makes every endpoint that Thespian prepares for a new process
(``TCPTransport.prepEndpoint``, for the admin, the logger and each actor alike) carry what the
child needs. When multiprocessing pickles the endpoint to spawn a child, the pickle names
:func:`_endpoint_in_child` with the bind host and the secret, so unpickling it in the child
prepares that process (and, in turn, the children it spawns) before ``startAdmin``,
``startASLogger`` or ``startChild`` builds the transport. The pickle travels only through the
pipe that multiprocessing opens between parent and child (a pipe handle on Windows): never the
command line or the environment, which ``/proc`` shows. An endpoint pickled for anything but a
spawn carries no secret (:func:`multiprocessing.context.get_spawning_popen` tells them apart).

Thespian waits 5 s for a new admin to report (``multiprocCommon.MAX_ADMIN_STARTUP_DELAY``),
and a spawned admin reports only once it has imported the project and spawned its logger,
which took longer than that on this 2-core machine under load (``is not a valid ActorSystem
admin``). :func:`allow_admin_start` gives a spawned admin :data:`SPAWNED_ADMIN_START_S`; a
forked admin keeps Thespian's 5 s.
"""

from __future__ import annotations

import multiprocessing
from datetime import timedelta
from multiprocessing.context import get_spawning_popen
from typing import Any

from thespian.system import multiprocCommon
from thespian.system.transport import TCPTransport
from thespian.system.transport.TCPTransport import TCPEndpoint

from actors.runtime import frame_auth, loopback, thespian_timers

__all__ = ["SPAWNED_ADMIN_START_S", "START_METHOD_ENV", "SpawnEndpoint", "allow_admin_start",
           "prepare_spawned_children", "spawn_setup", "thespian_start_method"]

# Test switch: which start method Thespian uses ("spawn" forces Windows' on Linux). Unset, it
# keeps Thespian's default (fork where there is fork).
START_METHOD_ENV = "ENSEMBLE_START_METHOD"

SPAWNED_ADMIN_START_S = 60.0

_ORIGINAL_PREP: Any = None
_setup: tuple[str, bytes] | None = None


class SpawnEndpoint(TCPEndpoint):  # type: ignore[misc]
    """Thespian's endpoint for a new process, which prepares that process when it is
    unpickled there."""

    def __reduce__(self) -> tuple[Any, ...]:
        if get_spawning_popen() is None or _setup is None:
            return (TCPEndpoint, tuple(self.args))  # not for a spawned child: no secret
        return (_endpoint_in_child, (*_setup, tuple(self.args)))


def _prep_endpoint(transport: Any, *args: Any, **kwargs: Any) -> Any:
    endpoint = _ORIGINAL_PREP(transport, *args, **kwargs)
    return SpawnEndpoint(*endpoint.args)


def _endpoint_in_child(host: str, secret: bytes, args: tuple[Any, ...]) -> TCPEndpoint:
    """In a freshly spawned process, while multiprocessing unpickles its start arguments."""
    loopback.restrict_thespian_to(host)
    frame_auth.install(secret)
    thespian_timers.install()
    prepare_spawned_children(host, secret)
    return TCPEndpoint(*args)


def prepare_spawned_children(host: str, secret: bytes) -> None:
    """Every process Thespian spawns from this one (and from those) binds on ``host``, seals
    its frames with ``secret`` and has the timer fix, before its transport starts. Harmless
    where processes are forked: an endpoint is then never pickled."""
    global _ORIGINAL_PREP, _setup
    _setup = (host, bytes(secret))
    if _ORIGINAL_PREP is None:
        _ORIGINAL_PREP = TCPTransport.TCPTransport.prepEndpoint
        TCPTransport.TCPTransport.prepEndpoint = _prep_endpoint


def spawn_setup() -> tuple[str, bytes] | None:
    """What spawned children of this process are prepared with (host, secret), if anything."""
    return _setup


def thespian_start_method(requested: str | None) -> str:
    """The start method Thespian will use (``multiprocCommon.get_multiproc_context``): the
    requested one if this platform has it, else fork, else spawn."""
    available = multiprocessing.get_all_start_methods()
    return next(method for method in (requested or "fork", "fork", "spawn")
                if method in available)


def allow_admin_start(start_method: str) -> None:
    """Give a spawned admin :data:`SPAWNED_ADMIN_START_S` to report instead of Thespian's 5 s."""
    if start_method == "spawn":
        multiprocCommon.MAX_ADMIN_STARTUP_DELAY = timedelta(seconds=SPAWNED_ADMIN_START_S)
