"""May the broker send this order now? The last check before anything reaches the terminal.

The broker fails closed: an order is refused (never sent) while the terminal is disconnected or
not reconciled, while an earlier order's outcome is still unknown, or while the RiskManager's
:class:`~messages.trading.TradingGate` or the latched kill switch forbids new positions. Closes
and stop changes reduce risk, so they only need a connected, reconciled terminal.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["GateState", "refusal_reason"]

_ENTRY_BLOCKING_MODES = frozenset({"HALTED", "REDUCING", "PAUSED"})


@dataclass(frozen=True, slots=True)
class GateState:
    """The RiskManager's last word (``ACTIVE`` until it speaks, unless the kill switch stored in
    SharedState is latched)."""

    mode: str = "ACTIVE"
    kill_switch: bool = False
    reason: str = ""


def refusal_reason(
    *,
    opening: bool,
    connected: bool,
    reconciled: bool,
    may_trade: bool,
    gate: GateState,
    unresolved_orders: int,
) -> str | None:
    """Why an order must not be sent, as a stable code; None when it may be.

    ``opening``: a new position (False: a close or a stop change). ``may_trade``: the terminal
    accepts orders (algo trading allowed, connected to its server).
    """
    if not connected:
        return "disconnected"
    if not reconciled:
        return "not_reconciled"
    if not may_trade:
        return "terminal_not_trading"
    if not opening:
        return None
    if gate.kill_switch:
        return "kill_switch"
    mode = gate.mode.upper()
    if mode in _ENTRY_BLOCKING_MODES:
        return f"trading_{mode.lower()}"
    if mode != "ACTIVE":
        return "trading_mode_unknown"
    if unresolved_orders:
        # An order whose fate is unknown may have opened a position nobody has sized for.
        return "unresolved_order"
    return None
