"""Schemathesis against a real daemon: requests generated from ``/api/openapi.json`` (valid
and invalid, every operation) get no 5xx and nothing the description does not say (status,
content type, headers, body schema), invalid input is refused, valid input accepted, and an
undeclared method is a 405 with ``Allow``. Bounded: 5 examples per operation and phase, one
worker, a fixed seed (about 10 s here).

Left out, as in the fuzz run of ``test_web_api``: ``POST /api/sim/faults`` and ``POST
/api/broker/reconnect``, which break the terminal on purpose (a broker told to hang answers
503, as it should), and ``/ws``, which is a WebSocket upgrade rather than a request and a
response (``test_websocket`` covers it)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path
from typing import Any

from tests.integration.test_web_api import tree_facts

EXCLUDED = ("--exclude-path", "/ws", "--exclude-path", "/api/broker/reconnect",
            "--exclude-operation-id", "post_sim_faults")


def test_schemathesis_finds_nothing_against_the_description(make_daemon: Any,
                                                            tmp_path: Path) -> None:
    # Under the load of a full test run an actor may answer late: that is not what this test
    # is about, so the front waits for it longer than schemathesis would (a 503 still fails).
    daemon = make_daemon("web.request_timeout_s=30")
    before = tree_facts(daemon)
    command = [sys.executable, "-m", "schemathesis.cli", "run",
               f"http://127.0.0.1:{daemon.port}/api/openapi.json",
               "--header", f"Authorization: Bearer {daemon.token}",
               "--checks", "all", "--max-examples", "5", "--seed", "1", "--workers", "1",
               "--generation-database", "none", "--request-timeout", "40", "--no-color",
               *EXCLUDED]
    result = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True,
                            timeout=240, check=False)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-6000:]
    selected = re.search(r"Selected: (\d+)/(\d+)\s+Tested: (\d+)", output)
    assert selected is not None, output[-3000:]
    chosen, described, tested = map(int, selected.groups())
    assert described >= 30 and chosen == tested == described - 3, selected.group(0)
    assert tree_facts(daemon) == before, "an actor restarted during the run"
