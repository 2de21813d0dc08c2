"""Fixtures that start real daemons (multiprocTCPBase, real processes).

With ``ENSEMBLE_TEST_PORTABLE=1`` every daemon of the run takes the portable implementations
Windows uses (``ENSEMBLE_PORTABLE=1``: the instance lock, liveness, process-group cleanup and
signals of ``actors/runtime/portable.py``), and so does this process. ``make test`` runs the
integration suite twice, the second time so. In the first pass, the modules that exercise the
mechanisms most set ``PORTABLE_TOO = True``: each of their tests runs ``[linux]`` and
``[portable]`` (liveness and the orphan rule, supervision and kills, the whole daemon
killed); ``test_daemon_lifecycle.py`` has its own two-way fixture, and ``test_spawn_start.py``
runs the daemon as on Windows (portable and spawned). The second pass leaves the ``[linux]``
cases out.
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


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if getattr(metafunc.module, "PORTABLE_TOO", False) and "mechanisms" in metafunc.fixturenames:
        metafunc.parametrize("mechanisms", ["linux", "portable"], indirect=True, scope="module")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """In the portable pass, a test's ``[linux]`` case is left out: it is the Linux pass's."""
    if os.environ.get("ENSEMBLE_TEST_PORTABLE") != "1":
        return
    linux = [item for item in items if getattr(item, "callspec", None)
             and item.callspec.params.get("mechanisms") == "linux"]
    if linux:
        config.hook.pytest_deselected(items=linux)
        items[:] = [item for item in items if item not in linux]


@pytest.fixture(scope="module", autouse=True)
def mechanisms(request: pytest.FixtureRequest) -> Iterator[str]:
    """Which implementation of the platform mechanisms this module's daemons (and this
    process) use: ``portable`` in the second pass of a ``PORTABLE_TOO`` module, otherwise
    what the run chose."""
    if getattr(request, "param", None) != "portable":
        yield "portable" if Daemon.extra_env.get(PORTABLE_ENV) else "linux"
        return
    before_env, before_extra = os.environ.get(PORTABLE_ENV), Daemon.extra_env.get(PORTABLE_ENV)
    Daemon.extra_env[PORTABLE_ENV] = os.environ[PORTABLE_ENV] = "1"
    yield "portable"
    for mapping, value in ((os.environ, before_env), (Daemon.extra_env, before_extra)):
        if value is None:
            mapping.pop(PORTABLE_ENV, None)
        else:
            mapping[PORTABLE_ENV] = value


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
def shared_daemon(tmp_path_factory: pytest.TempPathFactory, mechanisms: str) -> Iterator[Daemon]:
    """One daemon for the tests of a module that only read or add."""
    daemon = Daemon(tmp_path_factory.mktemp("shared") / "data").start()
    yield daemon
    daemon.stop()


@pytest.fixture
async def session() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession() as client_session:
        yield client_session
