"""A real Ensemble daemon for integration tests: started as a user would start it, on free
ports with a temporary data directory, and spoken to only through HTTP and WebSocket.

Every process of a test daemon carries ``ENSEMBLE_TEST_RUN`` in its environment (forks inherit
it), which is how :meth:`Daemon.processes` finds all of them, actors included, and how cleanup
makes sure none is left behind even when a test fails.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from pathlib import Path
from typing import Any, ClassVar

REPO = Path(__file__).resolve().parents[2]
RUN_MARKER = "ENSEMBLE_TEST_RUN"
# Tuesday 2024-12-03 08:00 UTC. A fast simulated market that started at the wall clock would run
# into the weekend's closed market (or the quiet hours) depending on when the tests run; at 120×
# a test run of 15 minutes covers 30 market hours from here, all of them on weekdays.
WEEKDAY_MARKET_START = 1_733_212_800.0
# The simulated market running fast, always from the same weekday morning.
FAST_MARKET = ("sim.speed=120", f"sim.start={WEEKDAY_MARKET_START}")


def free_port() -> int:
    """A loopback port that is free now and that the kernel will not hand out on its own.

    A port from ``bind(0)`` lies in the ephemeral range, where any outgoing connection or
    port-0 listener (every Thespian actor is one) may take it between this pick and the
    daemon's bind; the daemon's admin then never comes up. Ports just below that range are
    only ever taken on request.
    """
    low, high = _ports_below_ephemeral_range()
    for _ in range(500):
        port = random.randint(low, high)
        with socket.socket() as probe:
            try:
                probe.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError(f"no free loopback port in {low}-{high}")


def _ports_below_ephemeral_range() -> tuple[int, int]:
    try:
        first_ephemeral = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        first_ephemeral = 32768
    high = max(first_ephemeral - 1, 2048)
    return max(1024, high - 12_000), high


def processes_with_marker(marker: str) -> list[int]:
    needle = f"{RUN_MARKER}={marker}".encode()
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            if needle in (entry / "environ").read_bytes().split(b"\0"):
                found.append(int(entry.name))
        except OSError:
            continue
    return sorted(found)


def listening_sockets(pids: list[int]) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP socket the processes listen on, IPv4 and IPv6."""
    inodes: dict[str, int] = {}
    for pid in pids:
        try:
            for fd in Path(f"/proc/{pid}/fd").iterdir():
                target = os.readlink(fd)
                if target.startswith("socket:["):
                    inodes[target[8:-1]] = pid
        except OSError:
            continue
    found = []
    for table, width in (("/proc/net/tcp", 8), ("/proc/net/tcp6", 32)):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            local, state, inode = fields[1], fields[3], fields[9]
            if state != "0A" or inode not in inodes:  # 0A: LISTEN
                continue
            address_hex, port_hex = local.split(":")
            if width == 8:
                address = ".".join(str(int(address_hex[i:i + 2], 16)) for i in (6, 4, 2, 0))
            else:
                address = "::1" if address_hex == "0" * 24 + "01000000" else address_hex
            found.append((address, int(port_hex, 16), inodes[inode]))
    return found


class Daemon:
    # Added to every daemon's environment (a test module sets it, e.g. ENSEMBLE_PORTABLE=1).
    extra_env: ClassVar[dict[str, str]] = {}

    def __init__(self, data_dir: Path, *settings: str, port: int | None = None,
                 admin_port: int | None = None, until_healthy: bool = True) -> None:
        # Started means /api/health says ok; a test of a daemon that cannot get ready (a broker
        # that cannot log in) waits only for the supervision tree (until_healthy=False).
        self.until_healthy = until_healthy
        self.data_dir = data_dir
        self.port = port or free_port()
        self.admin_port = admin_port or free_port()
        self.settings = list(settings)
        self.marker = uuid.uuid4().hex
        self.log_path = data_dir.parent / f"daemon-{self.marker[:8]}.log"
        self.process: subprocess.Popen[bytes] | None = None
        self.cwd = REPO  # where the command runs (an installed package's test runs elsewhere)

    # --- lifecycle ---------------------------------------------------------------------------

    def command(self, *extra: str) -> list[str]:
        args = [sys.executable, str(REPO / "run_system.py"), *extra,
                "--data-dir", str(self.data_dir), "--port", str(self.port),
                "--admin-port", str(self.admin_port)]
        for assignment in self.settings:
            args += ["--set", assignment]
        return args

    def environment(self) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items()
               if not key.startswith("ENSEMBLE_")}
        env.update(self.extra_env)
        env[RUN_MARKER] = self.marker
        return env

    def start(self, wait: bool = True) -> Daemon:
        # Output goes to a file, never a pipe: a process that outlives us would hold the pipe.
        with open(self.log_path, "ab") as log:
            self.process = subprocess.Popen(
                self.command("run"), cwd=self.cwd, env=self.environment(), stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            )
        if wait:
            try:
                self.wait_ready()
            except BaseException:
                self.stop()  # a daemon that failed to come up must not outlive the test
                raise
        return self

    def wait_ready(self, timeout: float = 60.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise AssertionError(f"daemon exited with {self.process.returncode}:\n"
                                     f"{self.log()}")
            with contextlib.suppress(OSError, ValueError, AssertionError):
                # Ready means ready: every actor started, the RiskManager loaded, the broker
                # reconciled, the web front synced (/api/health says ok, not starting).
                if self.until_healthy:
                    status, health = self.request("GET", "/api/health", token=None)
                    if status == 200 and health["status"] == "ok":
                        return
                elif self.get("/api/supervisors")["state"] == "running":
                    return
            time.sleep(0.05)
        raise AssertionError(f"daemon not ready in {timeout} s:\n{self.log()}")

    def stop(self, timeout: float = 15.0) -> int | None:
        """SIGTERM, wait, then make sure nothing is left (killing leftovers)."""
        code = None
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                code = self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                code = self.process.wait(5)
        elif self.process is not None:
            code = self.process.returncode
        self.kill_leftovers()
        return code

    def kill_leftovers(self) -> list[int]:
        leftovers = processes_with_marker(self.marker)
        for pid in leftovers:
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
        return leftovers

    def processes(self) -> list[int]:
        return processes_with_marker(self.marker)

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    # --- talking to it ---------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self) -> str:
        return f"ws://127.0.0.1:{self.port}/ws"

    @property
    def token(self) -> str:
        return (self.data_dir / "api_token").read_text().strip()

    def request(self, method: str, path: str, body: Any = None, token: str | None = "default",
                raw: bytes | None = None) -> tuple[int, Any]:
        headers = {}
        if token == "default":
            token = self.token
        if token is not None:
            headers["Authorization"] = f"Bearer {token}"
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        request = urllib.request.Request(self.base_url + path, data=data, method=method,
                                         headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return response.status, json.loads(response.read() or b"null")
        except urllib.error.HTTPError as error:
            payload = error.read()
            try:
                return error.code, json.loads(payload)
            except ValueError:
                return error.code, payload.decode(errors="replace")

    def get(self, path: str, **kwargs: Any) -> Any:
        status, body = self.request("GET", path, **kwargs)
        assert status == 200, (status, body)
        return body

    def tree(self) -> dict[str, Any]:
        return self.get("/api/supervisors")

    def node(self, name: str) -> dict[str, Any]:
        def find(node: dict[str, Any]) -> dict[str, Any] | None:
            if node["name"] == name:
                return node
            for child in node["children"]:
                hit = find(child)
                if hit is not None:
                    return hit
            return None

        found = find(self.tree())
        assert found is not None, f"no node {name!r}"
        return found

    def produce(self, count: int, rate: float = 2000.0, batch: int = 20) -> None:
        """Publish ``count`` BENCH_TICK events through the real Broadcaster → WebFront path."""
        subprocess.run(
            [sys.executable, "-m", "bench.produce_events", "--admin-port", str(self.admin_port),
             "--count", str(count), "--rate", str(rate), "--batch", str(batch)],
            cwd=REPO, env=self.environment(), check=True, timeout=120,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )

    def wait_until(self, predicate: Any, timeout: float = 15.0, what: str = "condition") -> Any:
        deadline = time.monotonic() + timeout
        last: Any = None
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, AssertionError, KeyError, ValueError):
                last = predicate()
                if last:
                    return last
            time.sleep(0.05)
        raise AssertionError(f"timed out waiting for {what} (last: {last!r})\n{self.log()[-3000:]}")
