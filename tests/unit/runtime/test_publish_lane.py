"""The publish lane (``actors/runtime/publish_lane.py``) on real Unix sockets: order, partial
writes, refusals, a reader that goes away, and frames that are not sealed with the daemon's
secret."""

from __future__ import annotations

import os
import pickle
import queue
import select
import socket
import struct
from collections.abc import Iterator
from pathlib import Path

import pytest

from actors.runtime import frame_auth
from actors.runtime.frame_auth import AuthenticatedPickle
from actors.runtime.publish_lane import LaneInbox, LaneReader, LaneSender, Sent, lane_address
from messages.commands import Publish, SnapshotSync

pytestmark = pytest.mark.skipif(not hasattr(socket, "AF_UNIX"), reason="no Unix sockets")


@pytest.fixture(autouse=True)
def daemon_secret(monkeypatch: pytest.MonkeyPatch) -> AuthenticatedPickle:
    """This process as one of a daemon's: its secret installed (without patching Thespian)."""
    serializer = AuthenticatedPickle(os.urandom(32))
    monkeypatch.setattr(frame_auth, "_installed", serializer)
    return serializer


def _sealed_elsewhere(data: bytes) -> bytes:
    return AuthenticatedPickle(os.urandom(32)).tag(data) + data


@pytest.fixture()
def address(tmp_path: Path) -> Iterator[str]:
    # A short path: Unix socket names are limited to about 100 bytes.
    path = f"/tmp/lane-test-{os.getpid()}-{abs(hash(tmp_path)) % 10**8}.sock"
    yield path
    if os.path.exists(path):
        os.unlink(path)


@pytest.fixture()
def lane(address: str) -> Iterator[tuple[LaneInbox, LaneSender]]:
    inbox, sender = LaneInbox(address, _is_publish), LaneSender(address)
    yield inbox, sender
    sender.close()
    inbox.close()


def _publishes(inbox: LaneInbox, rounds: int = 50) -> list[Publish]:
    """Read what arrived (accepting first), as the Broadcaster does on each wake-up."""
    got: list[Publish] = []
    for _ in range(rounds):
        got.extend(inbox.read(inbox.filenos()))
    return got


def _is_publish(message: object) -> bool:
    return isinstance(message, Publish)


def test_no_listener_hands_the_message_back(address: str) -> None:
    sender = LaneSender(address)
    state, unsent = sender.send(Publish(()))
    assert state is Sent.REFUSED and unsent == [Publish(())]
    assert LaneSender(None).send(Publish(()))[0] is Sent.REFUSED


def test_one_senders_messages_arrive_in_order(lane: tuple[LaneInbox, LaneSender]) -> None:
    inbox, sender = lane
    sent = [Publish((SnapshotSync({"n": n}, n),)) for n in range(200)]  # type: ignore[arg-type]
    for message in sent:
        assert sender.send(message)[0] is Sent.DONE
    assert _publishes(inbox) == sent


def test_what_the_socket_cannot_take_yet_is_written_by_flush_in_order(
        lane: tuple[LaneInbox, LaneSender]) -> None:
    inbox, sender = lane
    big = "x" * 100_000
    states = [sender.send(Publish((SnapshotSync({"big": big}, n),)))[0]  # type: ignore[arg-type]
              for n in range(60)]
    assert Sent.PENDING in states and sender.pending  # the reader has not read yet
    got: list[Publish] = []
    while sender.pending or len(got) < 60:
        got.extend(inbox.read(inbox.filenos()))
        state, unsent = sender.flush()
        assert state is not Sent.REFUSED and unsent == []
    got.extend(_publishes(inbox))
    assert [p.events[0].last_seq for p in got] == list(range(60))  # type: ignore[attr-defined]


def test_a_reader_that_is_gone_hands_back_what_never_started(address: str) -> None:
    inbox = LaneInbox(address, _is_publish)
    sender = LaneSender(address)
    assert sender.send(Publish(()))[0] is Sent.DONE
    _publishes(inbox)
    inbox.close()
    states = []
    for _ in range(5):  # the first send after the close may still be taken by the kernel
        state, unsent = sender.send(Publish(()))
        states.append(state)
        if state is Sent.REFUSED:
            assert unsent and all(message == Publish(()) for message in unsent)
            break
    assert states[-1] is Sent.REFUSED


def test_a_new_inbox_at_the_same_address_is_found_again(address: str) -> None:
    first = LaneInbox(address, _is_publish)
    sender = LaneSender(address)
    assert sender.send(Publish(()))[0] is Sent.DONE
    first.close()
    second = LaneInbox(address, _is_publish)
    try:
        state = Sent.DONE
        for _ in range(5):
            state, _unsent = sender.send(Publish(()))
            if state is Sent.REFUSED:
                break
        assert state is Sent.REFUSED  # the old connection broke...
        assert sender.send(Publish(()))[0] is Sent.DONE  # ...and the next send reconnects
        assert _publishes(second) == [Publish(())]
    finally:
        sender.close()
        second.close()


_PUBLISH = pickle.dumps(Publish(()))


@pytest.mark.parametrize("frame", [
    struct.pack("!I", 2**31) + b"x",  # a declared length beyond the limit
    struct.pack("!I", 5) + b"junk!",  # not sealed
    struct.pack("!I", len(_PUBLISH)) + _PUBLISH,  # a Publish, but not sealed: never unpickled
    struct.pack("!I", len(_PUBLISH) + 32) + _sealed_elsewhere(_PUBLISH),  # another secret's
], ids=["too long", "junk", "unsealed", "another daemon's"])
def test_a_frame_that_is_not_ours_closes_its_connection(address: str, frame: bytes) -> None:
    inbox = LaneInbox(address, _is_publish)
    stranger = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        stranger.connect(address)
        inbox.read(inbox.filenos())  # accepted
        stranger.sendall(frame)
        assert _publishes(inbox) == []
        assert inbox.refused == 1
        assert inbox.filenos() == inbox.filenos()[:1]  # only the listener is left
    finally:
        stranger.close()
        inbox.close()


def test_a_sealed_frame_that_is_not_a_publish_closes_its_connection(
        address: str, daemon_secret: AuthenticatedPickle) -> None:
    inbox = LaneInbox(address, _is_publish)
    stranger = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        stranger.connect(address)
        inbox.read(inbox.filenos())
        sealed = frame_auth.seal(pickle.dumps("text"))
        assert sealed is not None
        stranger.sendall(struct.pack("!I", len(sealed)) + sealed)
        assert _publishes(inbox) == [] and inbox.refused == 1
    finally:
        stranger.close()
        inbox.close()


def test_without_the_daemons_secret_nothing_goes_by_the_lane(
        lane: tuple[LaneInbox, LaneSender], monkeypatch: pytest.MonkeyPatch) -> None:
    _, sender = lane
    monkeypatch.setattr(frame_auth, "_installed", None)
    state, unsent = sender.send(Publish(()))
    assert state is Sent.REFUSED and unsent == [Publish(())]  # it goes by Thespian instead


def test_the_address_is_the_data_directorys(tmp_path: Path) -> None:
    one, two = lane_address(tmp_path / "a"), lane_address(tmp_path / "b")
    assert one and two and one != two
    assert lane_address(tmp_path / "a") == one


# --- the reader thread ---------------------------------------------------------------------

WAIT_S = 30.0  # a bound on waiting for a state, never a measured time


def _wait_readable(fd: int) -> bool:
    return bool(select.select([fd], [], [], WAIT_S)[0])


def test_the_reader_thread_hands_over_every_senders_messages_in_its_order(address: str) -> None:
    got: queue.Queue[Publish] = queue.Queue()
    reader = LaneReader(LaneInbox(address, _is_publish),
                        lambda messages: [got.put(m) for m in messages]).start()
    senders = [LaneSender(address) for _ in range(3)]
    try:
        for n in range(300):  # three senders interleaved, each in its own order
            message = Publish((SnapshotSync({"sender": n % 3}, n),))  # type: ignore[arg-type]
            sender = senders[n % 3]
            state, unsent = sender.send(message)
            while state is Sent.PENDING:
                state, unsent = sender.flush()
            assert state is Sent.DONE and unsent == []
        received = [got.get(timeout=WAIT_S) for _ in range(300)]
    finally:
        for sender in senders:
            sender.close()
        reader.stop()
    for index in range(3):
        seqs = [p.events[0].last_seq for p in received  # type: ignore[attr-defined]
                if p.events[0].snapshot["sender"] == index]  # type: ignore[attr-defined]
        assert seqs == list(range(index, 300, 3))


def test_an_error_in_the_reader_thread_reaches_the_actors_thread(address: str) -> None:
    def deliver(messages: list[object]) -> None:
        raise ValueError("bad delivery")

    reader = LaneReader(LaneInbox(address, _is_publish), deliver).start()
    sender = LaneSender(address)
    try:
        reader.check()  # nothing yet: no error
        assert sender.send(Publish(()))[0] is Sent.DONE
        assert _wait_readable(reader.fileno())
        with pytest.raises(RuntimeError, match="bad delivery"):
            reader.check()
    finally:
        sender.close()
        reader.stop()


def test_a_poke_wakes_the_actor_and_stop_closes_the_inbox(address: str) -> None:
    reader = LaneReader(LaneInbox(address, _is_publish), lambda messages: None).start()
    reader.poke()
    assert _wait_readable(reader.fileno())
    reader.check()
    reader.stop()
    assert not os.path.exists(address)
    assert LaneSender(address).send(Publish(()))[0] is Sent.REFUSED
