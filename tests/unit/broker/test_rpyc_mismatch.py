"""A Wine-side server that speaks rpyc 5 (``python -m mt5linux`` from mt5linux 0.2.x, the one
most guides install) gets a message naming both rpyc versions and what to install, from
Ensemble's client and from the mt5linux package's alike.

The server is a local stand-in for that outside component: on 127.0.0.1 it answers every frame
with the bytes a real rpyc 5.2.3 classic server sent to an rpyc 6.0.2 client's first request
(captured through a recording proxy; the client then fails with "invalid message type: 18").
"""

from __future__ import annotations

import gc
import socket
import threading
from collections.abc import Iterator

import pytest
import rpyc

from actors.broker.gateway import BrokerUnavailable, open_gateway

RPYC5_ANSWER = b"\x00\x00\x00\x08\x00\x12QP\x11R\x11Q\x02\n"


@pytest.fixture
def rpyc5_server() -> Iterator[int]:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            with conn:
                while conn.recv(65536):
                    conn.sendall(RPYC5_ANSWER)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield int(listener.getsockname()[1])
    stop.set()
    listener.close()


# rpyc's half-open Connection tries to close itself again when it is collected, and fails on
# the rpyc 5 answer: collected here, inside this test's filter, not in whichever test runs next.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
@pytest.mark.parametrize("package", [False, True], ids=["ensemble-client", "mt5linux-package"])
def test_an_rpyc5_server_is_named_with_what_to_install(rpyc5_server: int, package: bool) -> None:
    with pytest.raises(BrokerUnavailable) as caught:
        open_gateway("mt5linux", port=rpyc5_server, connect=False, use_mt5linux_package=package)
    message = str(caught.value)
    assert f"127.0.0.1:{rpyc5_server}" in message
    assert f"rpyc {rpyc.__version__}" in message and "rpyc 5" in message
    assert 'pip install "mt5linux>=1.0.4,<1.1"' in message
    del caught
    gc.collect()
