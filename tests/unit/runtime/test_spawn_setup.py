"""A process that multiprocessing *spawns* with one of Thespian's endpoints is prepared as the
daemon is (loopback, the daemon's secret, the timer fix) while its start arguments are
unpickled; the endpoint pickled for anything else carries no secret."""

from __future__ import annotations

import hmac
import multiprocessing
import pickle
from typing import Any

import pytest
from thespian.system.transport.TCPTransport import TCPEndpoint

from actors.runtime import spawn_setup
from actors.runtime.spawn_setup import SpawnEndpoint

SECRET = b"k" * 32
ARGS = (3, None, "parent-address", "admin-address", False, False)


def _report(endpoint: Any, answers: Any) -> None:
    """In the spawned child: what its start arguments set up."""
    from thespian.system import timing
    from thespian.system.transport import TCPTransport

    from actors.runtime import frame_auth, loopback, thespian_timers

    serializer = frame_auth.installed()
    answers.put({
        "endpoint": (type(endpoint).__name__, tuple(endpoint.args)),
        "tag": None if serializer is None else serializer.tag(b"frame").hex(),
        "sealing_serializer": TCPTransport.serializer is serializer,
        "bind_host": loopback.thespian_bind_host(),
        "timer_fix": timing.ExpirationTimerView.remaining is thespian_timers.remaining,
        "grandchildren": spawn_setup.spawn_setup(),
    })


def test_a_spawned_child_is_prepared_before_it_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spawn_setup, "_setup", ("127.0.0.1", SECRET))
    context = multiprocessing.get_context("spawn")
    answers = context.Queue()
    child = context.Process(target=_report, args=(SpawnEndpoint(*ARGS), answers))
    child.start()
    try:
        answer = answers.get(timeout=120)
    finally:
        child.join(60)
    assert answer == {
        "endpoint": ("TCPEndpoint", ARGS),
        "tag": hmac.digest(SECRET, b"frame", "sha256").hex(),
        "sealing_serializer": True,
        "bind_host": "127.0.0.1",
        "timer_fix": True,
        "grandchildren": ("127.0.0.1", SECRET),
    }
    assert child.exitcode == 0


def test_an_endpoint_pickled_for_anything_but_a_spawn_carries_no_secret(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(spawn_setup, "_setup", ("127.0.0.1", SECRET))
    data = pickle.dumps(SpawnEndpoint(*ARGS))
    assert SECRET not in data
    copy = pickle.loads(data)
    assert type(copy) is TCPEndpoint and copy.args == ARGS
