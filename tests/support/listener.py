"""A local TCP server for tests that stands in for something squatting a port: it records what
each connection sent and may answer every connection with fixed bytes."""

from __future__ import annotations

import contextlib
import socket
import threading
import time

__all__ = ["RecordingServer"]


class RecordingServer:
    def __init__(self, port: int = 0, reply: bytes = b"") -> None:
        self.socket = socket.create_server(("127.0.0.1", port))
        self.socket.settimeout(0.2)
        self.port = int(self.socket.getsockname()[1])
        self.reply = reply
        self.received: list[bytes] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while not self._stop.is_set():
            try:
                connection, _ = self.socket.accept()
            except TimeoutError:
                continue
            with connection:
                connection.settimeout(2)
                with contextlib.suppress(OSError):
                    self.received.append(connection.recv(65536))
                    if self.reply:
                        connection.sendall(self.reply)
                        time.sleep(0.2)  # let the peer read it before the socket closes

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.socket.close()
