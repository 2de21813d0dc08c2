"""The broker tests' terminal fixtures, for the backtest's fill tests."""

from tests.unit.broker.conftest import clock, make_terminal  # noqa: F401
