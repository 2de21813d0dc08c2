"""The authenticated Thespian serializer: what is tagged reads back, nothing else is unpickled."""

from __future__ import annotations

import os
import pickle
import socket
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import structlog
from thespian.system.transport.streamBuffer import ackDataErrPacket, ackPacket, toSendBuffer

from actors.runtime.frame_auth import (
    MAX_FRAME_BYTES,
    REPLAYED,
    SECRET_FILE,
    AuthenticatedPickle,
    BoundedReceiveBuffer,
    ReplayGuard,
    create_secret,
    probe_admin,
    read_secret,
)

SECRET = b"s" * 32


class _Touch:
    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


PORT = 4242


def _receiver() -> AuthenticatedPickle:
    auth = AuthenticatedPickle(SECRET)
    auth.listen(PORT, 0)
    return auth


def _one_bit_off(tag: bytes) -> bytes:
    return tag[:-1] + bytes([tag[-1] ^ 1])


def test_a_tagged_body_reads_back() -> None:
    auth = _receiver()
    message = ("sender", {"symbol": "EURUSD", "volume": 0.1})
    assert auth.loads(AuthenticatedPickle(SECRET).dumps_to(message, PORT)) == message


def test_a_frame_is_accepted_once_then_refused_as_a_replay() -> None:
    sender, receiver = AuthenticatedPickle(SECRET), _receiver()
    first = sender.dumps_to(("sender", "hello"), PORT)
    second = sender.dumps_to(("sender", "again"), PORT)
    assert receiver.loads(first) == ("sender", "hello")
    assert receiver.loads(second) == ("sender", "again")  # counters may arrive out of order
    with structlog.testing.capture_logs() as logs:
        assert receiver.loads(first) == ackDataErrPacket
        assert receiver.loads(second) == ackDataErrPacket
    assert [(entry["event"], entry["reason"]) for entry in logs] == [
        (REPLAYED, "this sender's frame was already accepted")]  # logged once a minute


def test_a_frame_captured_for_one_process_is_refused_by_the_next_on_its_port() -> None:
    """Process A listens on PORT and accepts a frame; A goes, and process B (a restarted actor,
    with an empty replay memory) listens on the same port: the captured frame is refused."""
    process_a = AuthenticatedPickle(SECRET)
    process_a.listen(PORT, time.monotonic_ns())
    frame = AuthenticatedPickle(SECRET).dumps_to(("sender", "order"), PORT)
    assert process_a.loads(frame) == ("sender", "order")
    built_at = time.monotonic_ns()
    while time.monotonic_ns() <= built_at:  # B starts after the frame was built
        pass
    process_b = AuthenticatedPickle(SECRET)
    process_b.listen(PORT, time.monotonic_ns())
    with structlog.testing.capture_logs() as logs:
        assert process_b.loads(frame) == ackDataErrPacket
    assert logs[0]["reason"] == f"built before this process listened on port {PORT}"
    fresh = AuthenticatedPickle(SECRET).dumps_to(("sender", "order"), PORT)
    assert process_b.loads(fresh) == ("sender", "order")  # what is sent to B still arrives


def test_a_frame_for_another_process_is_refused() -> None:
    frame = AuthenticatedPickle(SECRET).dumps_to(("sender", "hello"), PORT + 1)
    with structlog.testing.capture_logs() as logs:
        assert _receiver().loads(frame) == ackDataErrPacket
    assert logs[0]["reason"] == f"addressed to port {PORT + 1}, which this process does not " \
                                "listen on"


def test_a_frame_addressed_to_no_one_is_only_an_acknowledgement() -> None:
    auth = _receiver()
    assert auth.loads(auth.dumps(ackPacket)) == ackPacket
    assert auth.loads(auth.dumps(ackDataErrPacket)) == ackDataErrPacket
    with structlog.testing.capture_logs() as logs:
        assert auth.loads(auth.dumps(("sender", "hello"))) == ackDataErrPacket
    assert logs[0]["reason"] == "a message frame addressed to no one"


def test_each_sender_has_its_own_counters() -> None:
    receiver = _receiver()
    one, other = AuthenticatedPickle(SECRET), AuthenticatedPickle(SECRET)
    assert receiver.loads(one.dumps_to("a", PORT)) == "a"
    assert receiver.loads(other.dumps_to("b", PORT)) == "b"  # counter 1 of another sender
    one.after_fork()  # a forked process draws a new id: its counter 1 is new too
    assert receiver.loads(one.dumps_to("c", PORT)) == "c"


def test_the_guard_forgets_the_oldest_counters_and_refuses_below_them() -> None:
    guard = ReplayGuard(memory=3)
    assert [guard.accept(b"s", counter) for counter in (2, 1, 3, 4)] == [True] * 4
    assert not guard.accept(b"s", 2)  # forgotten, at the floor: refused
    assert not guard.accept(b"s", 4)  # remembered
    assert guard.accept(b"s", 9)


@pytest.mark.parametrize("forge", [
    lambda body, auth: body,                                     # no tag at all
    lambda body, auth: AuthenticatedPickle(b"x" * 32).dumps(None)[:32] + body,  # another key
    lambda body, auth: _one_bit_off(auth.tag(body)) + body,      # one bit off
    lambda body, auth: auth.tag(body[:-1]) + body,               # tag of other bytes
    lambda body, auth: auth.tag(body)[:16],                      # truncated
])
def test_a_frame_that_fails_the_check_is_not_unpickled(tmp_path: Path, forge: Any) -> None:
    target = tmp_path / "pwned"
    body = pickle.dumps(_Touch(target))
    auth = AuthenticatedPickle(SECRET)
    with structlog.testing.capture_logs() as logs:
        assert auth.loads(forge(body, auth)) == ackDataErrPacket
    assert not target.exists()
    assert [entry["event"] for entry in logs] == [
        "dropped a Thespian frame that failed authentication, unread"]


def test_repeated_rejections_are_logged_once_a_minute_with_a_count() -> None:
    auth = AuthenticatedPickle(SECRET)
    with structlog.testing.capture_logs() as logs:
        for _ in range(50):
            auth.loads(b"garbage" * 10)
    assert len(logs) == 1 and logs[0]["rejected_total"] == 1


def test_the_secret_file_is_private_and_new_each_time(tmp_path: Path) -> None:
    first = create_secret(tmp_path)
    assert os.stat(tmp_path / SECRET_FILE).st_mode & 0o777 == 0o600
    assert read_secret(tmp_path) == first and len(first) == 32
    assert create_secret(tmp_path) != first
    assert read_secret(tmp_path / "none") is None


def test_a_symlinked_secret_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "elsewhere").write_text("00" * 32)
    (tmp_path / SECRET_FILE).symlink_to(tmp_path / "elsewhere")
    with pytest.raises(OSError):
        read_secret(tmp_path)


def _answer_once(listener: socket.socket, reply: bytes) -> None:
    connection, _ = listener.accept()
    with connection:
        connection.recv(65536)
        connection.sendall(reply)


@pytest.mark.parametrize("reply, ours", [
    (toSendBuffer(ackPacket, AuthenticatedPickle(SECRET).dumps), True),
    (toSendBuffer(ackPacket, AuthenticatedPickle(b"o" * 32).dumps), False),
    (toSendBuffer(ackPacket), False),  # a plain Thespian admin's ack
    (b"99999999>" + b"x" * 100, False),
    (b"", False),
])
def test_the_admin_probe_trusts_only_an_ack_tagged_with_the_secret(
        tmp_path: Path, reply: bytes, ours: bool) -> None:
    target = tmp_path / "pwned"
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
        if not reply:
            reply = toSendBuffer(_Touch(target))  # a malicious answer
        server = threading.Thread(target=_answer_once, args=(listener, reply))
        server.start()
        assert probe_admin(port, SECRET, timeout=2.0) is ours
        server.join(5)
    assert not target.exists()


@pytest.mark.parametrize("prefix", [b"%d>" % (MAX_FRAME_BYTES + 1), b"-5>", b"9" * 60])
def test_a_frame_declaring_an_absurd_length_is_dropped_before_it_is_buffered(
        prefix: bytes) -> None:
    frame = BoundedReceiveBuffer(AuthenticatedPickle(SECRET).loads)
    for chunk in (prefix[i:i + 20] for i in range(0, len(prefix), 20)):
        frame.addMore(chunk)
    frame.addMore(b"x" * 1000)
    assert frame.isDone() and frame.completed() is None


def test_a_frame_within_the_limit_reads_back_through_the_bounded_buffer() -> None:
    auth = _receiver()
    wire = toSendBuffer(("sender", "hello"), lambda value: auth.dumps_to(value, PORT))
    frame = BoundedReceiveBuffer(auth.loads)
    frame.addMore(wire[:7])
    frame.addMore(wire[7:])
    assert frame.isDone() and frame.completed() == (("sender", "hello"), b"")
