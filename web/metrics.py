"""Prometheus metrics of the WebFront, produced with prometheus_client (``/metrics``).

Two kinds, in one registry per app (never the process-global one):

* state, read at scrape time from the hub's snapshot mirror and its own counters: equity,
  balance, margin level, open positions, the day's P&L, kill switch, trading mode (one label
  per mode, 1 for the current one), broker connected, uptime, last seq, WebSocket clients;
* events, counted as the hub delivers them (each seq once): orders by result, risk denials by
  code, actor restarts by actor, the scan duration and order latency histograms, research
  decisions by source, the model's tokens and cost, and the model's fallbacks by kind.

Counters start at zero when the WebFront starts; Prometheus treats that as a counter reset.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from messages.risk import DenialCode

if TYPE_CHECKING:
    from web.hub import Hub

__all__ = ["CONTENT_TYPE", "TRADING_MODES", "Metrics"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
TRADING_MODES = ("ACTIVE", "PAUSED", "REDUCING", "HALTED")
_DENIAL_CODES = frozenset(code.value for code in DenialCode)
_SCAN_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
_ORDER_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return float(value)


class _StateCollector(Collector):
    """Gauges computed from the hub when Prometheus scrapes."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub

    def collect(self) -> Iterator[Metric]:
        hub = self.hub
        snapshot = hub.snapshot
        account = snapshot.account
        for name, key, what in (
            ("ensemble_equity", "equity", "Account equity, in the account currency."),
            ("ensemble_balance", "balance", "Account balance, in the account currency."),
            ("ensemble_margin_level", "margin_level",
             "Margin level in percent (0 while no margin is used)."),
            ("ensemble_day_pnl", "day_pl",
             "The broker day's realised plus floating P&L, in the account currency."),
        ):
            value = _number(account.get(key))
            if value is not None:
                yield GaugeMetricFamily(name, what, value=value)
        yield GaugeMetricFamily("ensemble_open_positions", "Open positions of ours.",
                                value=len(snapshot.positions))
        risk = snapshot.risk
        if risk:
            yield GaugeMetricFamily("ensemble_kill_switch", "1 while the kill switch is tripped.",
                                    value=1.0 if risk.get("kill_switch") else 0.0)
            mode = str(risk.get("mode") or "")
            family = GaugeMetricFamily("ensemble_trading_mode",
                                       "1 for the current trading mode, 0 for the others.",
                                       labels=["mode"])
            for known in dict.fromkeys((*TRADING_MODES, mode) if mode else TRADING_MODES):
                family.add_metric([known], 1.0 if known == mode else 0.0)
            yield family
        if snapshot.broker:
            connected = snapshot.broker.get("state") == "connected"
            yield GaugeMetricFamily("ensemble_broker_connected",
                                    "1 while the broker gateway is connected.",
                                    value=1.0 if connected else 0.0)
        yield GaugeMetricFamily("ensemble_uptime_seconds", "Seconds since this web front started.",
                                value=time.monotonic() - hub.started)
        yield GaugeMetricFamily("ensemble_last_event_seq", "The newest event's seq.",
                                value=hub.last_seq)
        yield GaugeMetricFamily("ensemble_ws_clients", "Connected WebSocket clients.",
                                value=len(hub.subscribers))
        for name, value in sorted(hub.counters.items()):
            yield CounterMetricFamily(f"ensemble_ws_{name}",
                                      f"WebSocket {name} since this web front started.",
                                      value=value)


class Metrics:
    """The app's registry: state gauges plus the counters fed by :meth:`observe`."""

    def __init__(self, hub: Hub) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_StateCollector(hub))
        self.orders = Counter("ensemble_orders", "Orders by outcome: filled or rejected by the "
                              "broker.", ["result"], registry=self.registry)
        self.denials = Counter("ensemble_risk_denials", "Orders the RiskManager denied, by "
                               "denial code.", ["code"], registry=self.registry)
        self.restarts = Counter("ensemble_actor_restarts", "Actor restarts by supervisors, by "
                                "actor.", ["actor"], registry=self.registry)
        self.scan_duration = Histogram("ensemble_scan_duration_seconds", "A scan cycle, from "
                                       "the Strategy's wake-up to its summary.",
                                       buckets=_SCAN_BUCKETS, registry=self.registry)
        self.order_latency = Histogram("ensemble_order_latency_seconds", "An opening order, from "
                                       "the RiskManager's approval to the broker's answer "
                                       "(order_send's result, or the fate of an unknown one).",
                                       buckets=_ORDER_BUCKETS, registry=self.registry)
        self.research = Counter("ensemble_research_decisions", "Research decisions, by who "
                                "decided: rules or model.", ["source"], registry=self.registry)
        self.llm_tokens = Counter("ensemble_llm_tokens", "Tokens the research model spent.",
                                  registry=self.registry)
        self.llm_cost = Counter("ensemble_llm_cost", "What the research model's calls cost, in "
                                "the unit of researcher.llm's prices.", registry=self.registry)
        self.llm_fallbacks = Counter("ensemble_llm_fallbacks", "Decisions where a configured "
                                     "model was not used, by kind of cause.", ["kind"],
                                     registry=self.registry)

    def observe(self, event: dict[str, Any]) -> None:
        """Count one delivered event (a wire dict)."""
        kind = event.get("type")
        if kind in ("TRADE_EXECUTION", "ORDER_REJECTED"):
            latency_ms = _number(event.get("latency_ms"))
            if latency_ms is not None and latency_ms >= 0:
                self.order_latency.observe(latency_ms / 1000.0)
        if kind == "TRADE_EXECUTION":
            self.orders.labels(result="filled").inc()
        elif kind == "ORDER_REJECTED":  # the broker's or the terminal's refusal
            self.orders.labels(result="rejected").inc()
        elif kind == "RISK_DENIALS":  # one scan cycle's denials, a count per code
            counts = event.get("counts")
            for code, count in (counts.items() if isinstance(counts, dict) else ()):
                number = _number(count)
                if code in _DENIAL_CODES and number is not None and number > 0:
                    self.denials.labels(code=code).inc(number)
        elif kind == "ACTOR_RESTARTED":
            self.restarts.labels(actor=str(event.get("name") or "")).inc()
        elif kind == "SCAN_SUMMARY":
            duration = _number(event.get("duration_ms"))
            if duration is not None and duration >= 0:
                self.scan_duration.observe(duration / 1000.0)
        elif kind == "RESEARCH_RESULT":
            source = str(event.get("source") or "rules")
            self.research.labels(source="rules" if source == "rules" else "model").inc()
            tokens = _number(event.get("tokens"))
            if tokens and tokens > 0:
                self.llm_tokens.inc(tokens)
            cost = _number(event.get("cost"))
            if cost and cost > 0:
                self.llm_cost.inc(cost)
            fallback = str(event.get("fallback") or "")
            if fallback:
                self.llm_fallbacks.labels(kind=fallback.split(":", 1)[0].split()[0]).inc()

    def render(self) -> bytes:
        return generate_latest(self.registry)
