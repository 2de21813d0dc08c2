"""``/api/health``, ``/api/supervisors`` and ``/metrics`` on the real app."""

from __future__ import annotations

import asyncio
import json
import re
from pathlib import Path
from typing import Any

from prometheus_client.parser import text_string_to_metric_families

from messages.events import (
    AccountUpdate,
    ActorRestarted,
    BrokerStatus,
    OrderRejected,
    PositionUpdate,
    ResearchResult,
    RiskDenials,
    RiskStateChanged,
    ScanSummary,
    TradeExecution,
)
from tests.support.rows import account_row, position_row
from tests.unit.web.conftest import WebFixture, node

NOW = "2026-01-01T00:00:00Z"
GRAFANA = Path(__file__).resolve().parents[3] / "contrib" / "grafana-dashboard.json"


async def test_health_needs_no_token_and_says_where_the_stream_is(web_app: WebFixture) -> None:
    web_app.feed.publish(ActorRestarted(timestamp=NOW, name="critic", old_pid=1, new_pid=2,
                                        reason="test", restarts=1))
    await web_app.ready()
    status, body = await web_app.call("GET", "/api/health", token=False)
    assert status == 200 and body["status"] == "ok" and body["last_seq"] == 1
    assert body["clients"] == 0 and body["uptime_s"] >= 0 and "waiting_for" not in body


async def test_health_says_starting_until_each_part_is_ready(web_app: WebFixture) -> None:
    async def waiting_for() -> list[str]:
        status, body = await web_app.call("GET", "/api/health", token=False)
        assert (status, body["status"]) == (503, "starting")
        return list(body["waiting_for"])

    assert await waiting_for() == ["the RiskManager to load its state",
                                   "the broker to reconcile with the terminal",
                                   "the Broadcaster's first sync"]
    web_app.starting(risk_loaded=False, broker_reconciled=False)
    web_app.feed.sync()
    while "the Broadcaster's first sync" in await waiting_for():
        await asyncio.sleep(0.01)
    assert await waiting_for() == ["the RiskManager to load its state",
                                   "the broker to reconcile with the terminal"]
    await web_app.ready()  # now the RiskManager has loaded and the broker has reconciled
    assert (await web_app.call("GET", "/api/health", token=False))[1]["status"] == "ok"


async def test_health_waits_for_every_actor_to_start(web_app: WebFixture) -> None:
    web_app.hub.set_tree(node("root", state="starting", children=(node("core"),)))
    web_app.feed.sync()
    status, body = await web_app.call("GET", "/api/health", token=False)
    assert status == 503 and "every actor to start" in body["waiting_for"]
    web_app.hub.set_tree(node("root", children=(node("core"), node("trading"))))
    await web_app.ready()


async def test_supervisors_show_the_tree_the_root_pushed(web_app: WebFixture) -> None:
    status, tree = await web_app.call("GET", "/api/supervisors")
    assert status == 200 and tree["name"] == "root"
    assert [child["name"] for child in tree["children"]] == ["core", "trading"]
    assert (await web_app.call("GET", "/api/supervisors", token=False))[0] == 401


def _families(text: str) -> dict[str, Any]:
    return {family.name: family for family in text_string_to_metric_families(text)}


def _value(family: Any, **labels: str) -> float:
    (sample,) = [s for s in family.samples
                 if s.labels == labels and not s.name.endswith(("_created", "_bucket"))
                 and s.name in (family.name, f"{family.name}_total")]
    return float(sample.value)


def _feed_one_of_everything(web_app: WebFixture) -> None:
    """Events that give every metric a value (12 events, seq 1 to 12)."""
    feed = web_app.feed.publish
    feed(AccountUpdate(timestamp=NOW, account=account_row(
        equity=10_050.5, balance=10_000.0, margin_level=812.5, day_pl=-12.25)))
    feed(PositionUpdate(timestamp=NOW, positions=(position_row(ticket=1), position_row(ticket=2))))
    feed(RiskStateChanged(timestamp=NOW, mode="PAUSED", kill_switch=False, reason="operator"))
    feed(BrokerStatus(timestamp=NOW, state="connected", kind="sim"))
    feed(TradeExecution(timestamp=NOW, symbol="XAUUSD", direction="BUY", price=1.0, lot=0.1,
                        latency_ms=12.5))
    feed(RiskDenials(timestamp=NOW, strategy="Confluence",
                     counts={"DAILY_LOSS_LIMIT": 3, "not a code": 5, "SPREAD_TOO_WIDE": -1}))
    feed(OrderRejected(timestamp=NOW, symbol="XAUUSD", direction="BUY", code="REJECTED",
                       reason="broker", retcode=10006, latency_ms=7.5))
    for restarts in (1, 2):
        feed(ActorRestarted(timestamp=NOW, name='odd "name"\\x', old_pid=1, new_pid=2,
                            reason="test", restarts=restarts))
    feed(ScanSummary(timestamp=NOW, symbols={}, count=8, candidates=0, duration_ms=42.0))
    feed(ResearchResult(timestamp=NOW, symbol="XAUUSD", action="BUY", confidence=70.0,
                        reason="r", source="gpt-x", tokens=350, cost=0.0125))
    feed(ResearchResult(timestamp=NOW, symbol="XAUUSD", action="HOLD", confidence=40.0,
                        reason="r", fallback="rate_limited: HTTP 429 Too Many Requests"))


async def test_metrics_are_prometheus_with_help_types_and_escaped_labels(
        web_app: WebFixture) -> None:
    _feed_one_of_everything(web_app)
    status, text = await web_app.call("GET", "/metrics")
    assert status == 200
    families = _families(text)
    for name, kind in [
        ("ensemble_equity", "gauge"), ("ensemble_balance", "gauge"),
        ("ensemble_margin_level", "gauge"), ("ensemble_open_positions", "gauge"),
        ("ensemble_day_pnl", "gauge"), ("ensemble_kill_switch", "gauge"),
        ("ensemble_trading_mode", "gauge"), ("ensemble_broker_connected", "gauge"),
        ("ensemble_orders", "counter"), ("ensemble_risk_denials", "counter"),
        ("ensemble_actor_restarts", "counter"), ("ensemble_scan_duration_seconds", "histogram"),
        ("ensemble_order_latency_seconds", "histogram"),
        ("ensemble_llm_tokens", "counter"), ("ensemble_llm_fallbacks", "counter"),
        ("ensemble_llm_cost", "counter"),
        ("ensemble_research_decisions", "counter"), ("ensemble_last_event_seq", "gauge"),
    ]:
        assert families[name].type == kind, name
        assert families[name].documentation, f"{name} has no # HELP"
    assert _value(families["ensemble_equity"]) == 10_050.5
    assert _value(families["ensemble_margin_level"]) == 812.5
    assert _value(families["ensemble_day_pnl"]) == -12.25
    assert _value(families["ensemble_open_positions"]) == 2
    assert _value(families["ensemble_kill_switch"]) == 0
    assert _value(families["ensemble_trading_mode"], mode="PAUSED") == 1
    assert _value(families["ensemble_trading_mode"], mode="ACTIVE") == 0
    assert _value(families["ensemble_broker_connected"]) == 1
    assert _value(families["ensemble_orders"], result="filled") == 1
    assert _value(families["ensemble_orders"], result="rejected") == 1
    assert _value(families["ensemble_risk_denials"], code="DAILY_LOSS_LIMIT") == 3
    assert {s.labels["code"] for s in families["ensemble_risk_denials"].samples} <= {
        "DAILY_LOSS_LIMIT"}  # unknown codes and nonsense counts are not labels
    assert _value(families["ensemble_actor_restarts"], actor='odd "name"\\x') == 2
    scans = families["ensemble_scan_duration_seconds"]
    assert [s.value for s in scans.samples if s.name.endswith("_sum")] == [0.042]
    latency = {s.name: s.value for s in families["ensemble_order_latency_seconds"].samples
               if not s.name.endswith("_bucket")}
    assert latency["ensemble_order_latency_seconds_count"] == 2  # the broker's answers only
    assert latency["ensemble_order_latency_seconds_sum"] == 0.02
    assert _value(families["ensemble_llm_tokens"]) == 350
    assert _value(families["ensemble_llm_cost"]) == 0.0125
    assert _value(families["ensemble_llm_fallbacks"], kind="rate_limited") == 1
    assert _value(families["ensemble_research_decisions"], source="model") == 1
    assert _value(families["ensemble_last_event_seq"]) == 12  # one seq per event fed
    assert (await web_app.call("GET", "/metrics", token=False))[0] == 401


async def test_the_dashboard_page_and_its_files_need_no_token(web_app: WebFixture) -> None:
    status, page = await web_app.call("GET", "/", token=False)
    assert status == 200 and "<html" in page.lower()
    status, script = await web_app.call("GET", "/static/js/api.js", token=False)
    assert status == 200 and "Authorization" in script
    status, body = await web_app.call("GET", "/static/../app.py", token=False)
    assert status in (401, 403, 404) and "import" not in str(body)


async def test_the_grafana_dashboard_queries_only_metrics_that_exist(web_app: WebFixture) -> None:
    dashboard = json.loads(GRAFANA.read_text(encoding="utf-8"))
    _feed_one_of_everything(web_app)
    _, text = await web_app.call("GET", "/metrics")
    exposed = {sample.name for family in text_string_to_metric_families(text)
               for sample in family.samples}
    queried = {name for panel in dashboard["panels"] for target in panel["targets"]
               for name in re.findall(r"\bensemble_[a-z_]+", target["expr"])}
    assert queried and queried <= exposed, f"not exposed: {sorted(queried - exposed)}"
    families = {family.name for family in text_string_to_metric_families(text)
                if not family.name.endswith("_created")}  # counters' creation times
    shown = {re.sub(r"_(total|bucket|sum|count)$", "", name) for name in queried}
    assert families - shown <= {"ensemble_ws_events", "ensemble_ws_frames",
                                "ensemble_ws_connections"}, "a metric without a panel"
    assert len({panel["id"] for panel in dashboard["panels"]}) == len(dashboard["panels"])
