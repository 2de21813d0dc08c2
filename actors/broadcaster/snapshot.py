"""The rolling snapshot of the seed's dashboard state, as a pure reducer over wire events.

The same reducer runs in the Broadcaster (the authority, rebuilt from the journal after a
restart) and in the WebFront (a mirror, so that ``STATE_SNAPSHOT`` and ``/api/state`` cost no
actor hop). Unlike the seed, events are kept oldest first *and* numbered, so a client can order
and de-duplicate them; the lists are bounded as in the seed (200 events, 50 trades).
Quotes are kept apart, the latest of each symbol (:meth:`Snapshot.apply_quote`), and never
enter the list of recent events.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any

__all__ = ["SNAPSHOT_TYPES", "Snapshot"]

# The event types whose latest instance a rebuilt snapshot needs, however old it is.
SNAPSHOT_TYPES = (
    "ACCOUNT_UPDATE",
    "POSITION_UPDATE",
    "SCAN_SUMMARY",
    "RISK_STATE",
    "BROKER_STATUS",
)


class Snapshot:
    def __init__(self, max_events: int = 200, max_trades: int = 50) -> None:
        self.max_events = max_events
        self.max_trades = max_trades
        self.last_seq = 0
        self.account: dict[str, Any] = {}
        self.positions: list[dict[str, Any]] = []
        self.scan_summary: dict[str, Any] = {}  # the latest, of whichever strategy
        self.scan_summaries: dict[str, dict[str, Any]] = {}  # strategy -> its latest
        self.recent_trades: list[dict[str, Any]] = []
        self.events: list[dict[str, Any]] = []
        self.risk: dict[str, Any] = {}
        self.broker: dict[str, Any] = {}
        self.quotes: dict[str, dict[str, Any]] = {}  # symbol -> its latest QUOTE

    def apply_quote(self, wire: dict[str, Any]) -> bool:
        """Hold a QUOTE unless the one held for its symbol is newer (quotes may arrive out of
        order); True when it is held."""
        symbol = wire.get("symbol")
        if not isinstance(symbol, str) or not symbol:
            return False
        held = self.quotes.get(symbol)
        if held is not None and _quote_time(held) > _quote_time(wire):
            return False
        self.quotes[symbol] = wire
        return True

    def apply(self, wire: dict[str, Any]) -> None:
        seq = wire.get("seq") or 0
        if seq and seq <= self.last_seq:
            return  # already applied: replays and restarts may repeat events
        self.last_seq = max(self.last_seq, seq)
        if wire.get("type") == "QUOTE":
            self.apply_quote(wire)
            return
        self.events.append(wire)
        if len(self.events) > self.max_events:
            del self.events[: len(self.events) - self.max_events]
        kind = wire.get("type")
        if kind == "ACCOUNT_UPDATE":
            self.account.update(wire.get("account") or {})
        elif kind == "POSITION_UPDATE":
            self.positions = list(wire.get("positions") or [])
        elif kind == "SCAN_SUMMARY":
            self.scan_summary = {key: wire.get(key) for key in (
                "symbols", "timestamp", "count", "candidates", "strategy")}
            # Each strategy's own: a page that (re)connects shows every strategy's cards.
            self.scan_summaries[str(wire.get("strategy") or "")] = self.scan_summary
        elif kind == "TRADE_EXECUTION":
            trade = {key: value for key, value in wire.items() if key != "type"}
            self.recent_trades.insert(0, trade)
            del self.recent_trades[self.max_trades :]
        elif kind == "RISK_STATE":
            self.risk = {key: wire.get(key)
                         for key in ("mode", "kill_switch", "reason", "blocked_by",
                                     "blocked_words", "seq")}
        elif kind == "BROKER_STATUS":
            self.broker = {key: value for key, value in wire.items() if key != "type"}

    def apply_all(self, wires: Iterable[dict[str, Any]]) -> None:
        for wire in wires:
            self.apply(wire)

    def to_dict(self) -> dict[str, Any]:
        """A deep copy, safe to hand to another thread or process."""
        return copy.deepcopy(
            {
                "account": self.account,
                "positions": self.positions,
                "scan_summary": self.scan_summary,
                "scan_summaries": list(self.scan_summaries.values()),
                "recent_trades": self.recent_trades,
                "events": self.events,
                "risk": self.risk,
                "broker": self.broker,
                "quotes": self.quotes,
                "last_seq": self.last_seq,
            }
        )

    @classmethod
    def from_dict(cls, data: dict[str, Any], max_events: int = 200,
                  max_trades: int = 50) -> Snapshot:
        snapshot = cls(max_events, max_trades)
        snapshot.account = dict(data.get("account") or {})
        snapshot.positions = list(data.get("positions") or [])
        snapshot.scan_summary = dict(data.get("scan_summary") or {})
        for summary in data.get("scan_summaries") or []:
            if isinstance(summary, dict):
                snapshot.scan_summaries[str(summary.get("strategy") or "")] = dict(summary)
        snapshot.recent_trades = list(data.get("recent_trades") or [])
        snapshot.events = list(data.get("events") or [])
        snapshot.risk = dict(data.get("risk") or {})
        snapshot.broker = dict(data.get("broker") or {})
        snapshot.quotes = dict(data.get("quotes") or {})
        snapshot.last_seq = int(data.get("last_seq") or 0)
        return snapshot


def _quote_time(wire: dict[str, Any]) -> float:
    value = wire.get("time")
    return float(value) if isinstance(value, int | float) else 0.0
