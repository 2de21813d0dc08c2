"""``/metrics`` of a real daemon that has traded, read with prometheus_client's own parser:
every metric of issue 13 is there with ``# HELP`` and its type, and the trading ones have
counted the trade (an order filled, its latency observed, the scans timed)."""

from __future__ import annotations

import urllib.request
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from tests.support.daemon import FAST_MARKET, Daemon

EXPECTED = {
    "ensemble_equity": "gauge", "ensemble_balance": "gauge", "ensemble_margin_level": "gauge",
    "ensemble_open_positions": "gauge", "ensemble_day_pnl": "gauge",
    "ensemble_kill_switch": "gauge", "ensemble_trading_mode": "gauge",
    "ensemble_broker_connected": "gauge", "ensemble_orders": "counter",
    "ensemble_actor_restarts": "counter", "ensemble_risk_denials": "counter",
    "ensemble_scan_duration_seconds": "histogram",
    "ensemble_order_latency_seconds": "histogram", "ensemble_llm_tokens": "counter",
    "ensemble_llm_cost": "counter", "ensemble_llm_fallbacks": "counter",
    "ensemble_research_decisions": "counter",
}


def scrape(daemon: Daemon) -> dict[str, Any]:
    request = urllib.request.Request(daemon.base_url + "/metrics",
                                     headers={"Authorization": f"Bearer {daemon.token}"})
    with urllib.request.urlopen(request, timeout=10) as response:
        assert response.headers["Content-Type"].startswith("text/plain; version=0.0.4")
        text = response.read().decode()
    return {family.name: family for family in text_string_to_metric_families(text)}


def samples(family: Any, suffix: str = "", **labels: str) -> list[float]:
    return [s.value for s in family.samples if s.name == family.name + suffix
            and all(s.labels.get(k) == v for k, v in labels.items())]


def test_metrics_after_a_trade_parse_with_help_types_and_counts(make_daemon: Any) -> None:
    daemon = make_daemon(*FAST_MARKET)
    daemon.wait_until(lambda: daemon.get("/api/trades"), timeout=180, what="a fill")
    families = daemon.wait_until(
        lambda: (f := scrape(daemon)) and samples(f["ensemble_orders"], "_total",
                                                  result="filled") and f,
        what="the fill counted in /metrics")
    for name, kind in EXPECTED.items():
        assert name in families, f"{name} is missing"
        assert families[name].type == kind, name
        assert families[name].documentation, f"{name} has no # HELP"
    fills = len(daemon.get("/api/trades"))
    assert 1 <= samples(families["ensemble_orders"], "_total", result="filled")[0] <= fills
    latency = families["ensemble_order_latency_seconds"]
    assert samples(latency, "_count")[0] >= 1
    assert 0 < samples(latency, "_sum")[0] < 10 * samples(latency, "_count")[0]
    assert samples(latency, "_bucket", le="+Inf") == samples(latency, "_count")
    assert samples(families["ensemble_scan_duration_seconds"], "_count")[0] >= 1
    assert samples(families["ensemble_broker_connected"]) == [1.0]
    assert samples(families["ensemble_trading_mode"], mode="ACTIVE") == [1.0]
    assert samples(families["ensemble_equity"])[0] > 0
    assert samples(families["ensemble_research_decisions"], "_total", source="rules")[0] >= 1
