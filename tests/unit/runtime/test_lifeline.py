"""How an actor tells that its daemon is gone: end-of-file on the lifeline pipe, else the
daemon's start time (a zombie counts as gone), never just its pid."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from actors.runtime.lifeline import LIFELINE_ENV, DaemonWatch, process_start_ticks


def test_the_lifeline_ends_when_its_write_end_closes(monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    try:
        monkeypatch.setenv(LIFELINE_ENV, f"{read_end}:{os.fstat(read_end).st_ino}")
        watch = DaemonWatch(os.getpid())
        assert watch.method == "lifeline" and not watch.gone()
        os.close(write_end)
        assert watch.gone()
    finally:
        os.close(read_end)


def test_a_lifeline_that_names_another_pipe_is_not_trusted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    read_end, write_end = os.pipe()
    try:
        monkeypatch.setenv(LIFELINE_ENV, f"{read_end}:{os.fstat(read_end).st_ino + 1}")
        assert DaemonWatch(os.getpid()).method == "start time"
    finally:
        os.close(read_end)
        os.close(write_end)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="needs /proc")
def test_without_a_lifeline_a_zombie_daemon_counts_as_gone(
        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(LIFELINE_ENV, raising=False)
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        watch = DaemonWatch(child.pid)
        assert watch.method == "start time" and not watch.gone()
        assert process_start_ticks(child.pid) is not None
        child.kill()
        deadline = time.monotonic() + 10
        while not watch.gone() and time.monotonic() < deadline:
            time.sleep(0.01)
        os.kill(child.pid, 0)  # unreaped: the pid still "exists"
        assert watch.gone()
    finally:
        child.kill()
        child.wait(5)
    assert watch.gone()
