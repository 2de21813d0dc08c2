"""Tests: the journal's doorbell tells the Broadcaster whether a WebFront listens
(actors/broadcaster/journal.py), so events never go nowhere."""

from __future__ import annotations

import contextlib
import os
import socket
import stat
from pathlib import Path

import pytest

from actors.broadcaster.journal import Doorbell, doorbell_address

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no AF_UNIX sockets")


def test_with_no_listener_a_ring_says_so(tmp_path: Path) -> None:
    bell = Doorbell(tmp_path / "events.db")
    try:
        assert bell.ring() is False  # the Broadcaster then sends the EventBatch itself
    finally:
        bell.close()


def test_a_listener_on_the_journals_address_hears_the_ring(tmp_path: Path) -> None:
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = doorbell_address(tmp_path / "events.db")
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address)
    listener.bind(address)
    listener.settimeout(5.0)
    bell = Doorbell(tmp_path / "." / "events.db")  # the same journal, spelled differently
    try:
        assert bell.ring() is True
        assert listener.recv(16) == b"\0"
    finally:
        bell.close()
        listener.close()
        os.unlink(address)


def test_each_journal_has_its_own_doorbell(tmp_path: Path) -> None:
    assert doorbell_address(tmp_path / "a" / "events.db") != doorbell_address(
        tmp_path / "b" / "events.db")


def test_no_other_local_user_can_reach_the_doorbell(tmp_path: Path) -> None:
    """A file in the user's private runtime directory, not an abstract name that anyone could
    ring, squat or list."""
    address = Path(doorbell_address(tmp_path / "events.db"))
    assert not str(address).startswith("\0")
    directory = address.parent.lstat()
    assert directory.st_uid == os.getuid() and stat.S_IMODE(directory.st_mode) == 0o700
