"""Tests: the journal's doorbell tells the Broadcaster whether a WebFront listens
(actors/broadcaster/journal.py), so events never go nowhere."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import stat
from pathlib import Path

import pytest

from actors.broadcaster.journal import Doorbell, doorbell_address
from actors.runtime import frame_auth
from actors.runtime.frame_auth import AuthenticatedPickle

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no AF_UNIX sockets")


def _listen(tmp_path: Path) -> tuple[socket.socket, str]:
    """A reader bound where the WebFront would listen for this journal's rings."""
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    address = doorbell_address(tmp_path / "events.db")
    assert address is not None
    with contextlib.suppress(FileNotFoundError):
        os.unlink(address)
    listener.bind(address)
    listener.settimeout(5.0)
    return listener, address


def test_with_no_listener_a_ring_says_so(tmp_path: Path) -> None:
    bell = Doorbell(tmp_path / "events.db")
    try:
        assert bell.ring() is False  # the Broadcaster then sends the EventBatch itself
    finally:
        bell.close()


def test_a_listener_on_the_journals_address_hears_the_ring(tmp_path: Path) -> None:
    listener, address = _listen(tmp_path)
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


def test_quotes_ride_in_a_rings_body_and_only_while_someone_listens(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # This process as one of a daemon's: its secret installed (without patching Thespian).
    monkeypatch.setattr(frame_auth, "_installed", AuthenticatedPickle(os.urandom(32)))
    bell = Doorbell(tmp_path / "events.db")
    texts = ['{"type":"QUOTE","symbol":"EURUSD","bid":1.1}', '{"type":"QUOTE","symbol":"X"}']
    assert bell.ring_with_quotes(texts) is False  # nobody listens: they go by actor message
    listener, address = _listen(tmp_path)
    try:
        assert bell.ring_with_quotes(texts) is True
        body = frame_auth.unseal(listener.recv(65536))  # sealed with the daemon's secret
        assert body is not None and json.loads(body) == [json.loads(text) for text in texts]
        too_many = ['{"type":"QUOTE","symbol":"' + "S" * 1000 + '"}'] * 100
        assert bell.ring_with_quotes(too_many) is False  # more than one datagram's worth
    finally:
        bell.close()
        listener.close()
        os.unlink(address)
