"""Malformed requests are logged once a minute per client, untraced; other records pass."""

from __future__ import annotations

import logging

import pytest
from aiohttp.http_exceptions import BadStatusLine

from web.http_log import MalformedRequestLog


def test_one_line_a_minute_per_client_saying_how_many_were_left_out(
    caplog: pytest.LogCaptureFixture,
) -> None:
    now = [0.0]
    log = MalformedRequestLog(logging.getLogger("test.http"), clock=lambda: now[0])
    caplog.set_level(logging.DEBUG, logger="test.http")
    for _ in range(4):
        log.exception("Error handling request from %s", "10.0.0.1", exc_info=BadStatusLine("x"))
    log.exception("Error handling request from %s", "10.0.0.2", exc_info=BadStatusLine("y"))
    now[0] = 60.0
    log.exception("Error handling request from %s", "10.0.0.1", exc_info=BadStatusLine("z"))
    log.error("something else", exc_info=ValueError("kept"))
    lines = [(r.levelno, r.getMessage(), r.exc_info is not None) for r in caplog.records]
    assert [line[1].split(":")[0] for line in lines[:4]] == [
        "malformed HTTP request from 10.0.0.1", "malformed HTTP request from 10.0.0.2",
        "malformed HTTP request from 10.0.0.1", "something else"]
    assert "(3 more from it left out" in lines[2][1]
    assert all(level == logging.WARNING and not traced for level, _, traced in lines[:3])
    assert lines[3][0] == logging.ERROR and lines[3][2]
    assert len(lines) == 4
