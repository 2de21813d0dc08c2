"""Classification of retcodes and call failures."""

from __future__ import annotations

import pytest

from actors.broker.retcodes import RETCODES, classify_call_failure, classify_retcode
from actors.broker.sim import constants as c
from messages.orders import Outcome


def test_every_module_retcode_is_classified() -> None:
    module_retcodes = {v for k, v in c.MT5_CONSTANTS.items() if k.startswith("TRADE_RETCODE_")}
    assert module_retcodes <= set(RETCODES)
    for name, value in c.MT5_CONSTANTS.items():
        if name.startswith("TRADE_RETCODE_"):
            assert RETCODES[value][0] == name


@pytest.mark.parametrize(
    ("retcode", "outcome"),
    [
        (10009, Outcome.DONE),
        (10008, Outcome.DONE),
        (10010, Outcome.DONE),
        (10025, Outcome.DONE),
        (10004, Outcome.RETRY_PRICE),
        (10020, Outcome.RETRY_PRICE),
        (10021, Outcome.RETRY_PRICE),
        (10018, Outcome.WAIT),
        (10024, Outcome.WAIT),
        (10028, Outcome.WAIT),
        (10029, Outcome.WAIT),
        (10011, Outcome.UNKNOWN),
        (10012, Outcome.UNKNOWN),
        (10031, Outcome.UNKNOWN),
        (99999, Outcome.UNKNOWN),
        (10013, Outcome.REJECTED),
        (10014, Outcome.REJECTED),
        (10016, Outcome.REJECTED),
        (10019, Outcome.REJECTED),
        (10027, Outcome.REJECTED),
        (10030, Outcome.REJECTED),
        (10046, Outcome.REJECTED),
    ],
)
def test_retcode_classes(retcode: int, outcome: Outcome) -> None:
    verdict = classify_retcode(retcode)
    assert verdict.outcome is outcome and verdict.retcode == retcode and verdict.reason


def test_call_failures() -> None:
    assert classify_call_failure(-10005, "IPC timeout").outcome is Outcome.UNKNOWN
    assert classify_call_failure(-10004, "No IPC connection").outcome is Outcome.UNKNOWN
    assert classify_call_failure(-2, 'Invalid "sl" argument').outcome is Outcome.REJECTED
    assert classify_call_failure(-10004, "x", sent=False).outcome is Outcome.WAIT
    assert classify_call_failure(-4, "Terminal: Not found", sent=False).outcome is Outcome.REJECTED
    assert classify_call_failure(-10005, "IPC timeout").reason == "ipc_timeout"
