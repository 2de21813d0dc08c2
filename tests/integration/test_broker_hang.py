"""A hung terminal on the real daemon, as the requester sees it: a request that reaches the
broker while every terminal call hangs is answered "unavailable" by the broker itself, not left
to the web front's own time limit (a 504 after the requester has given up)."""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.test_broker import BROKER_SETTINGS, set_faults, wait_broker

pytestmark = pytest.mark.integration


def test_a_request_during_a_hang_is_answered_unavailable_by_the_broker(make_daemon: Any) -> None:
    daemon = make_daemon(*BROKER_SETTINGS, "broker.call_timeout_s=1")
    wait_broker(daemon)
    set_faults(daemon, call_delay_s=600)  # every terminal call now hangs
    status, body = daemon.request("GET", "/api/bars?symbol=EURUSD&timeframe=M5&count=10")
    assert status == 503, (status, body)  # the broker's answer, not the front's 504
    assert body["error"] == "unavailable", body
