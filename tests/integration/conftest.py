"""Fixtures that start real daemons (multiprocTCPBase, real processes)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import aiohttp
import pytest

from tests.support.daemon import Daemon

pytestmark = pytest.mark.integration


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
