"""Only the daemon's own processes can talk to its actors: an unauthenticated Thespian frame is
dropped unread wherever it is sent, a captured one cannot be sent again, and an admin port held
by anyone else is refused."""

from __future__ import annotations

import contextlib
import os
import pickle
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from tests.support.daemon import REPO, Daemon, free_port, listening_sockets
from tests.support.listener import RecordingServer

REJECTED = "dropped a Thespian frame that failed authentication, unread"
REPLAYED = "dropped a replayed or misaddressed Thespian frame, unread"


class _Touch:
    """A pickle that creates ``path`` when it is unpickled (what an attacker would send)."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.path,))


def _frame(path: Path) -> bytes:
    body = pickle.dumps(_Touch(path))
    return b"%d>" % len(body) + body


def test_the_payload_creates_its_file_when_unpickled(tmp_path: Path) -> None:
    """The control: without authentication, the frame's body would have run."""
    target = tmp_path / "control"
    body = _frame(target).partition(b">")[2]
    pickle.loads(body)
    assert target.exists()


def _rejections(log: str, event: str = REJECTED) -> dict[int, int]:
    counts: dict[int, int] = {}
    for line in log.splitlines():
        if event in line:
            match = re.search(r"\bpid=(\d+)", line)
            if match:
                counts[int(match.group(1))] = counts.get(int(match.group(1)), 0) + 1
    return counts


def test_an_unauthenticated_pickle_at_any_thespian_port_is_dropped_unread(
        make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon()
    before = daemon.tree()
    sockets = [(port, pid) for _, port, pid in listening_sockets(daemon.processes())
               if port != daemon.port]
    ports = {port for port, _ in sockets}
    assert daemon.admin_port in ports and len(sockets) >= 6  # admin, logger, every actor
    targets = {port: tmp_path / f"pwned-{port}" for port, _ in sockets}
    for port, _ in sockets:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
            connection.sendall(_frame(targets[port]))
            with contextlib.suppress(OSError):
                connection.recv(100)  # the data-error ack, or the socket closing
    pids = {pid for _, pid in sockets}
    daemon.wait_until(lambda: pids <= set(_rejections(daemon.log())), timeout=20,
                      what="every process to report the frame it dropped")
    assert not [path for path in targets.values() if path.exists()]
    assert all(count == 1 for pid, count in _rejections(daemon.log()).items() if pid in pids)
    after = daemon.tree()
    assert after["state"] == "running"
    for node_before, node_after in zip(_nodes(before), _nodes(after), strict=True):
        assert (node_after["name"], node_after["state"], node_after["pid"],
                node_after["restarts"]) == (node_before["name"], "running", node_before["pid"],
                                            node_before["restarts"])


def test_a_captured_frame_replayed_to_any_thespian_port_is_refused(
        make_daemon, tmp_path: Path) -> None:
    """A real frame of the daemon's own (SharedState, set ops.replay to "captured"), captured
    on its way and sent again later, to SharedState and to every other port, is dropped."""
    daemon = make_daemon()
    capture = tmp_path / "frame"
    subprocess.run([sys.executable, "-m", "tests.support.frame_tap", "--admin-port",
                    str(daemon.admin_port), "--out", str(capture)], cwd=REPO,
                   env=daemon.environment(), check=True, timeout=60,
                   stdin=subprocess.DEVNULL, capture_output=True)
    receiver_text, frame_hex = capture.read_text().split()
    frame = bytes.fromhex(frame_hex)
    assert daemon.get("/api/kv/ops.replay")["value"] == "captured"  # the frame did its work
    assert daemon.request("PUT", "/api/kv/ops.replay", body={"value": "later"})[0] == 200
    assert not _rejections(daemon.log(), REPLAYED)  # the daemon's own traffic passes
    before = daemon.tree()
    sockets = [(port, pid) for _, port, pid in listening_sockets(daemon.processes())
               if port != daemon.port]
    assert int(receiver_text) in {port for port, _ in sockets}
    for port, _ in sockets:
        for _ in range(2):  # twice at the receiver it was meant for: refused each time
            with socket.create_connection(("127.0.0.1", port), timeout=5) as connection:
                connection.sendall(frame)
                with contextlib.suppress(OSError):
                    connection.recv(100)
    pids = {pid for _, pid in sockets}
    daemon.wait_until(lambda: pids <= set(_rejections(daemon.log(), REPLAYED)), timeout=20,
                      what="every process to report the replayed frame it dropped")
    assert all(count == 1 for count in _rejections(daemon.log(), REPLAYED).values())
    assert daemon.get("/api/kv/ops.replay")["value"] == "later"
    assert not _rejections(daemon.log())  # authentic, only replayed
    after = daemon.tree()
    assert after["state"] == "running"
    assert [(node["name"], node["state"], node["pid"], node["restarts"])
            for node in _nodes(after)] == [
        (node["name"], "running", node["pid"], node["restarts"]) for node in _nodes(before)]


def _nodes(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node["children"]:
        yield from _nodes(child)


def test_a_fake_admin_on_the_admin_port_is_refused_and_nothing_it_sends_is_unpickled(
        tmp_path: Path) -> None:
    target = tmp_path / "pwned-by-fake-admin"
    port = free_port()
    fake = RecordingServer(port, reply=_frame(target))
    try:
        daemon = Daemon(tmp_path / "data", admin_port=port)
        result = subprocess.run(daemon.command("run"), cwd=REPO, capture_output=True, text=True,
                                timeout=60, env=daemon.environment())
    finally:
        fake.close()
        Daemon(tmp_path / "data", admin_port=port).kill_leftovers()
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"admin port {port} on 127.0.0.1 is held by a process that is not a Thespian admin " \
           "of this data directory" in result.stderr
    assert "nothing it sent was unpickled" in result.stderr
    assert fake.received  # it was asked, and answered with its pickle
    assert not target.exists()


def test_a_plain_thespian_admin_on_the_port_is_refused_not_reused(
        make_daemon, tmp_path: Path) -> None:
    daemon = make_daemon(start=False)
    # An admin started without the daemon's secret (another user's, another program's).
    plain = subprocess.run(
        [sys.executable, "-c",
         "from thespian.actors import ActorSystem;"
         f"ActorSystem('multiprocTCPBase', {{'Admin Port': {daemon.admin_port}}})"],
        env=daemon.environment(), timeout=60, stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert plain.returncode == 0
    admin_pids = daemon.processes()
    assert admin_pids
    daemon.start(wait=False)
    assert daemon.process is not None and daemon.process.wait(60) == 2
    assert "is held by a process that is not a Thespian admin of this data directory" in \
        daemon.log()
    assert set(admin_pids) <= set(daemon.processes())  # left alone, not shut down or reused


def test_the_actor_secret_is_private_and_new_at_every_start(make_daemon) -> None:
    daemon = make_daemon()
    path = daemon.data_dir / "actor_secret"
    first = path.read_text()
    assert len(bytes.fromhex(first.strip())) == 32
    assert os.stat(path).st_mode & 0o777 == 0o600
    daemon.stop()
    again = make_daemon(data_dir=daemon.data_dir, admin_port=daemon.admin_port)
    assert again.tree()["state"] == "running"
    assert path.read_text() != first
