"""Well-known SharedState keys (and journal op ids), named once for every actor that reads or
writes them."""

from __future__ import annotations

__all__ = [
    "INTENT_PREFIX",
    "KILL_SWITCH",
    "OPERATOR_PREFIX",
    "POSITION_PREFIX",
    "REPORTED_PREFIX",
    "REVIEWED_PREFIX",
    "review_op_id",
]

# {"latched": bool, "reason": str, "at": ISO time}; reset only by an operator command.
KILL_SWITCH = "risk.kill_switch"

# Records that retention (actors/shared_state/retention.py) must understand. Their owners write
# them: the broker (intents.py, positions_tracker.py, actor.py) and the Critic.
INTENT_PREFIX = "broker.intent."  # an order's write-ahead record, {"status", "ticket", …}
POSITION_PREFIX = "broker.position."  # a position the broker tracks, {"decision_id", …}
REPORTED_PREFIX = "broker.reported."  # <ticket>: the closed trade has been reported
REVIEWED_PREFIX = "critic.reviewed."  # <ticket>: the Critic has claimed (and reviews) it
# Keys that operators write through the API (``/api/kv``); every other key belongs to an actor.
OPERATOR_PREFIX = "ops."


def review_op_id(ticket: int | str) -> str:
    """The op id of the Critic's journal entry reviewing the closed trade ``ticket``."""
    return f"review-{ticket}"
