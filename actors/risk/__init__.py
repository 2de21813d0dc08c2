"""The RiskManager role's pure logic: risk counters (``state``), pre-trade rules with stable
denial codes (``rules``) and position sizing with the final order approval (``sizing``)."""

from __future__ import annotations

__all__: list[str] = []
