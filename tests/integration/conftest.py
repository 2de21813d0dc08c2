"""Fixtures that start real daemons (multiprocTCPBase, real processes).

With ``ENSEMBLE_TEST_PORTABLE=1`` every daemon of the run takes the portable implementations
Windows uses (``ENSEMBLE_PORTABLE=1``: the instance lock, liveness, process-group cleanup and
signals of ``actors/runtime/portable.py``); ``make test`` runs the integration suite a second
time so.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from actors.runtime.portable import PORTABLE_ENV
from tests.support.daemon import Daemon

pytestmark = pytest.mark.integration


@pytest.fixture(scope="session", autouse=True)
def _portable_when_asked() -> Iterator[None]:
    """The daemons and this process alike (the commands and clients a test runs here read
    the daemon's lock the way the daemon wrote it)."""
    if os.environ.get("ENSEMBLE_TEST_PORTABLE") != "1":
        yield
        return
    Daemon.extra_env[PORTABLE_ENV] = "1"
    os.environ[PORTABLE_ENV] = "1"
    yield
    Daemon.extra_env.pop(PORTABLE_ENV, None)
    os.environ.pop(PORTABLE_ENV, None)


@pytest.fixture
def make_daemon(tmp_path: Path) -> Iterator[Callable[..., Daemon]]:
    started: list[Daemon] = []

    def make(*settings: str, data_dir: Path | None = None, start: bool = True,
             **kwargs: object) -> Daemon:
        daemon = Daemon(data_dir or tmp_path / f"data{len(started)}", *settings, **kwargs)
        started.append(daemon)
        return daemon.start() if start else daemon

    yield make
    for daemon in started:
        daemon.stop()


@pytest.fixture(scope="module")
def shared_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Daemon]:
    """One daemon for the tests of a module that only read or add."""
    daemon = Daemon(tmp_path_factory.mktemp("shared") / "data").start()
    yield daemon
    daemon.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session
