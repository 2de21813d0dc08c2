"""Well-known SharedState keys, named once for every actor that reads or writes them."""

from __future__ import annotations

__all__ = ["KILL_SWITCH"]

# {"latched": bool, "reason": str, "at": ISO time}; reset only by an operator command.
KILL_SWITCH = "risk.kill_switch"
