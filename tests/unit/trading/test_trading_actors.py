"""The trading roles as actors, in one process (simpleSystemBase) with the real SharedState on
a temporary SQLite file: fail-closed risk, controls, the kill switch from observed deals, and
the Critic's lessons changing the Researcher's next decision."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from thespian.actors import ActorSystem

from actors.app.settings import Settings, load_settings
from messages.books import DealRecord
from messages.commands import JournalAppend, Publish, StateGet, StateReply
from messages.market import Side
from messages.risk import OrderInput, PreScanInput
from messages.supervision import Configure, Peers, Started
from messages.trading import (
    BrokerProfile,
    BrokerReady,
    ControlCommand,
    ControlReply,
    DealsObserved,
    OrderApproval,
    OrderReport,
    PlaceOrder,
    PreScanCheck,
    PreScanVerdict,
    ResearchReply,
    ResearchRequest,
    SubmitOrder,
    TradeClosed,
    TradingGate,
)
from tests.support.actors import Recorder, ask_for
from tests.unit.researcher.builders import NOW, facts
from tests.unit.risk.builders import EURUSD_SPEC

ASK = 10.0


def _settings(data_dir: Path, *assignments: str) -> Settings:
    return load_settings(assignments=[f"runtime.data_dir='{data_dir}'", *assignments],
                         environ={})


def _start(system: ActorSystem, settings: Settings, **roles: str) -> dict[str, Any]:
    """Start real actors for ``roles`` (name → class path) plus SharedState; a Recorder plays
    the broadcaster, the broker and the strategy."""
    directory = {"broadcaster": system.createActor(Recorder),
                 "broker": system.createActor(Recorder),
                 "strategy": system.createActor(Recorder)}
    classes = {"shared_state": "actors.shared_state.actor.SharedStateActor", **roles}
    for name, path in classes.items():
        directory[name] = system.createActor(path)
    for name in classes:
        ask_for(system, directory[name], Configure(name, settings, os.getpid(),
                                                    peers=directory), Started)
    for name in classes:
        system.tell(directory[name], Peers(directory))
    return directory


def _events(system: ActorSystem, recorder: Any, kind: str) -> list[Any]:
    received = system.ask(recorder, "dump", ASK)
    return [event for message in received if isinstance(message, Publish)
            for event in message.events if kind == event.TYPE]


def _wait_loaded(system: ActorSystem, risk: Any) -> None:
    deadline = time.monotonic() + ASK
    while time.monotonic() < deadline:
        reply = ask_for(system, risk, ControlCommand("probe", "resume", "p"), ControlReply)
        if "loading" not in reply.detail:
            return
        time.sleep(0.05)
    raise AssertionError("the risk state never loaded")


def test_the_risk_manager_denies_everything_it_cannot_judge(system, tmp_path) -> None:
    actors = _start(system, _settings(tmp_path),
                    risk="actors.risk.actor.RiskManagerActor")
    _wait_loaded(system, actors["risk"])
    verdict = ask_for(system, actors["risk"], PreScanCheck("1", "EURUSD", None), PreScanVerdict)
    assert not verdict.allowed and verdict.code == "MISSING_INPUT"
    unknown = PreScanInput(symbol="EURUSD", now=None, bid=None, ask=None, spec=None,
                           exposures=None, floating_pnl=None, news_blackout=None)
    order = OrderInput(market=unknown, direction=Side.BUY, entry_price=1.1, stop_loss=1.09,
                       take_profit=1.12, commission_per_lot=None, m1_bars=None)
    approval = ask_for(system, actors["risk"],
                       SubmitOrder("2", "d", "Test", "EURUSD", Side.BUY, 80, 1.1, 1.09, 1.12,
                                   order), OrderApproval)
    assert not approval.approved and approval.code == "MISSING_INPUT"
    # Nothing was sent to the broker for it.
    assert not [m for m in system.ask(actors["broker"], "dump", ASK) if isinstance(m, PlaceOrder)]


def test_losing_deals_trip_the_kill_switch_which_halts_broker_and_strategy(system,
                                                                          tmp_path) -> None:
    seed_kill_switch = _settings(tmp_path, "risk.kill_switch.max_loss=60")  # presets/seed.toml
    actors = _start(system, seed_kill_switch, risk="actors.risk.actor.RiskManagerActor")
    _wait_loaded(system, actors["risk"])
    losses = tuple(
        DealRecord(ticket=100 + i, order=0, time=int(NOW) + i * 60, time_msc=(int(NOW) + i * 60)
                   * 1000, type=0, entry=1, magic=234000, position_id=i, reason=0, volume=0.1,
                   price=1.1, commission=0.0, swap=0.0, profit=-7.0, fee=0.0, symbol="EURUSD",
                   comment="", external_id="")
        for i in range(12)
    )  # 12 closing deals losing 84 in all: more than 60 over at least 10 deals
    # As the broker does on reconciling: its profile, with the server's clock, comes first.
    system.tell(actors["risk"], BrokerReady(True, True, BrokerProfile(
        kind="sim", connected=True, server_utc_offset_s=7200)))
    system.tell(actors["risk"], DealsObserved(losses))
    reply = ask_for(system, actors["risk"], ControlCommand("k", "kill-switch", "k1"),
                     ControlReply)
    assert reply.status == 409 and reply.kill_switch and reply.mode == "HALTED"
    gates = [m for m in system.ask(actors["broker"], "dump", ASK) if isinstance(m, TradingGate)]
    assert gates[-1].kill_switch and gates[-1].mode == "HALTED"
    changes = _events(system, actors["broadcaster"], "RISK_STATE")
    assert changes[-1].kill_switch and "kill switch" in changes[-1].reason


def test_every_risk_state_names_what_blocks_whatever_announced_it(system, tmp_path) -> None:
    """The dashboard's header shows ``blocked_words``: before the first account it said
    "BLOCKED · risk state restored", the announcement's reason, instead of what blocks."""
    actors = _start(system, _settings(tmp_path), risk="actors.risk.actor.RiskManagerActor")
    system.tell(actors["risk"], BrokerReady(True, True, BrokerProfile(
        kind="sim", connected=True, server_utc_offset_s=7200)))
    _wait_loaded(system, actors["risk"])
    ask_for(system, actors["risk"], ControlCommand("p", "pause", "p1"), ControlReply)
    paused = _events(system, actors["broadcaster"], "RISK_STATE")[-1]
    assert paused.reason == "pause by operator"
    assert paused.blocked_by == ("PAUSED", "MISSING_INPUT")
    assert paused.blocked_words == "paused, waiting for the account"


def test_a_losing_trade_lowers_the_confidence_of_the_next_similar_decision(system,
                                                                           tmp_path) -> None:
    actors = _start(system, _settings(tmp_path),
                    researcher="actors.researcher.actor.ResearcherActor",
                    critic="actors.critic.actor.CriticActor")
    setup = facts()
    before = ask_for(system, actors["researcher"],
                      ResearchRequest("r1", "d1", "XAUUSD", Side.BUY, setup, NOW), ResearchReply)
    assert before.action == "BUY"
    # What the Strategy journals for the decision: the research step with its regime.
    ask_for(system, actors["shared_state"], JournalAppend(
        request_id="j", op_id="d1-research", kind="decision", key="XAUUSD", decision_id="d1",
        record={"step": "research", "action": "BUY", "confidence": before.confidence,
                "regime": before.regime}), StateReply)
    system.tell(actors["critic"], TradeClosed(
        ticket=7, symbol="XAUUSD", direction="BUY", volume=0.1, entry_price=2350.0,
        exit_price=2348.0, sl=2348.0, tp=2354.0, profit=-20.0, opened_at=NOW - 600,
        closed_at=NOW - 60, decision_id="d1", max_adverse_price=2347.9,
        max_favourable_price=2350.5, exit_reason="SL"))
    reviews = []
    deadline = time.monotonic() + ASK
    while not reviews and time.monotonic() < deadline:
        reviews = _events(system, actors["broadcaster"], "CRITIC_REVIEW")
    assert len(reviews) == 1 and reviews[0].symbol == "XAUUSD" and reviews[0].score < 5
    after = ask_for(system, actors["researcher"],
                     ResearchRequest("r2", "d2", "XAUUSD", Side.BUY, setup, NOW), ResearchReply)
    assert after.confidence < before.confidence
    assert "lesson" in after.reason.lower()
    # The same closed trade again (a broker restart) is not reviewed twice.
    system.tell(actors["critic"], TradeClosed(
        ticket=7, symbol="XAUUSD", direction="BUY", volume=0.1, entry_price=2350.0,
        exit_price=2348.0, sl=2348.0, tp=2354.0, profit=-20.0, opened_at=NOW - 600,
        closed_at=NOW - 60, decision_id="d1"))
    ask_for(system, actors["researcher"],
             ResearchRequest("r3", "d3", "XAUUSD", Side.BUY, setup, NOW), ResearchReply)
    assert len(_events(system, actors["broadcaster"], "CRITIC_REVIEW")) == 1


async def _ask_researcher(tmp_path: Path, aiohttp_server: Any, monkeypatch: Any,
                          answer: web.Response) -> ResearchReply:
    """One research request to a real Researcher actor whose model is a local fake server
    that gives ``answer``."""
    async def model(request: web.Request) -> web.Response:
        return answer

    app = web.Application()
    app.router.add_post("/v1/chat/completions", model)
    server = await aiohttp_server(app)
    settings = load_settings(environ={}, assignments=[
        f"runtime.data_dir='{tmp_path}'", f"researcher.llm.base_url='{server.make_url('/v1')}'",
        "researcher.llm.model='m1'", "researcher.llm.api_key_env='TEST_LLM_KEY'",
        "researcher.llm.use_environment_proxies=false",
        "researcher.llm.prompt_cost_per_million=2.0",
        "researcher.llm.completion_cost_per_million=8.0"])
    monkeypatch.setenv("TEST_LLM_KEY", "k")  # the Researcher reads its key from there

    def ask() -> ResearchReply:
        system = ActorSystem("simpleSystemBase", transientUnique=True)
        try:
            actors = _start(system, settings,
                            researcher="actors.researcher.actor.ResearcherActor")
            return ask_for(system, actors["researcher"],
                           ResearchRequest("r1", "d1", "XAUUSD", Side.BUY, facts(), NOW),
                           ResearchReply)
        finally:
            system.shutdown()

    return await asyncio.get_running_loop().run_in_executor(None, ask)


async def test_the_researcher_says_in_its_reply_why_the_model_was_not_used(
        tmp_path, aiohttp_server, monkeypatch):
    """The model answers HTTP 400: the Researcher actor's reply (what RESEARCH_RESULT carries)
    says the rules decided, and why, in the server's own words."""
    refused = web.json_response({"error": {"message": "Unsupported parameter: 'max_tokens'",
                                           "param": "max_tokens"}}, status=400)
    reply = await _ask_researcher(tmp_path, aiohttp_server, monkeypatch, refused)
    assert reply.source == "rules"
    assert reply.fallback == "http: HTTP 400 Bad Request: Unsupported parameter: 'max_tokens'"
    assert reply.reason.startswith("[model m1 not used: http: HTTP 400")
    assert reply.cost == 0.0 and reply.tokens == 0  # a refused call is not billed


async def test_the_researchers_reply_carries_the_models_tokens_and_cost(
        tmp_path, aiohttp_server, monkeypatch):
    content = json.dumps({"action": "BUY", "confidence": 72, "reason": "trend up",
                          "bull_case": ["H4 up"], "bear_case": []})
    answered = web.json_response({
        "choices": [{"index": 0, "message": {"role": "assistant", "content": content}}],
        "usage": {"prompt_tokens": 300, "completion_tokens": 50, "total_tokens": 350}})
    reply = await _ask_researcher(tmp_path, aiohttp_server, monkeypatch, answered)
    assert (reply.source, reply.fallback, reply.action) == ("m1", "", "BUY")
    assert reply.tokens == 350 and reply.cost == pytest.approx((300 * 2.0 + 50 * 8.0) / 1e6)


def _news_check(system: ActorSystem, tmp_path: Path, calendar: str, now: float,
                *extra: str) -> Any:
    settings = _settings(tmp_path, "risk.news.enabled=true", f"risk.news.calendar='{calendar}'",
                         *extra)
    actors = _start(system, settings, risk="actors.risk.actor.RiskManagerActor")
    _wait_loaded(system, actors["risk"])
    system.tell(actors["risk"], BrokerReady(True, True, BrokerProfile(
        kind="sim", connected=True, server_utc_offset_s=7200)))
    market = PreScanInput(symbol="EURUSD", now=now, bid=1.1, ask=1.10001, spec=EURUSD_SPEC,
                          exposures=(), floating_pnl=0.0, news_blackout=False, balance=10_000.0)
    return ask_for(system, actors["risk"], PreScanCheck("n", "EURUSD", market), PreScanVerdict)


def test_the_risk_manager_blocks_around_high_impact_news(system, tmp_path) -> None:
    calendar = tmp_path / "ff_calendar_thisweek.json"
    calendar.write_text('[{"title": "Non-Farm Employment Change", "country": "USD", '
                        '"date": "2024-12-06T08:30:00-05:00", "impact": "High"}]')
    nfp = 1_733_491_800.0  # 2024-12-06 13:30 UTC
    verdict = _news_check(system, tmp_path, str(calendar), nfp + 600)
    assert not verdict.allowed and verdict.code == "NEWS_BLACKOUT"
    assert "Non-Farm Employment Change" in verdict.message


def test_an_unreadable_calendar_fails_closed(system, tmp_path) -> None:
    verdict = _news_check(system, tmp_path, str(tmp_path / "missing.json"), NOW)
    assert not verdict.allowed and verdict.code == "NEWS_BLACKOUT"
    assert "calendar unavailable" in verdict.message


def test_an_unreadable_calendar_may_be_set_to_fail_open(system, tmp_path) -> None:
    verdict = _news_check(system, tmp_path, str(tmp_path / "missing.json"), NOW,
                          "risk.news.fail_closed=false")
    assert verdict.allowed, verdict.message


def test_the_fixed_schedule_follows_market_time_on_a_market_in_the_past(system,
                                                                       tmp_path) -> None:
    """A simulated market replaying December 2024: its Friday 13:30 is blocked, though the wall
    clock's week is years later."""
    calendar = tmp_path / "empty.json"
    calendar.write_text("[]")
    nfp = 1_733_491_800.0  # Friday 2024-12-06 13:30 UTC
    verdict = _news_check(system, tmp_path, str(calendar), nfp + 600,
                          "risk.news.schedule=['Fri 13:30 USD']")
    assert not verdict.allowed and verdict.code == "NEWS_BLACKOUT", verdict.message
    assert "scheduled Fri 13:30 USD" in verdict.message


def _submission(request_id: str, decision_id: str) -> SubmitOrder:
    market = PreScanInput(symbol="EURUSD", now=NOW, bid=1.1, ask=1.10002, spec=EURUSD_SPEC,
                          exposures=(), floating_pnl=0.0, news_blackout=False, balance=10_000.0)
    order = OrderInput(market=market, direction=Side.BUY, entry_price=1.10002,
                       stop_loss=1.09802, take_profit=1.10502, commission_per_lot=0.0,
                       m1_bars=None, balance=10_000.0, equity=10_000.0, confidence=80.0)
    return SubmitOrder(request_id, decision_id, "Test", "EURUSD", Side.BUY, 80.0, 1.10002,
                       1.09802, 1.10502, order)


def _sent_orders(system: ActorSystem, broker: Any) -> list[PlaceOrder]:
    return [m for m in system.ask(broker, "dump", ASK) if isinstance(m, PlaceOrder)]


def test_a_refused_order_starts_no_trade_interval_and_a_fill_does(system, tmp_path) -> None:
    """Trade counts and intervals count fills, not approvals; the reservation is written to
    SharedState before the order goes, and a refusal gives it back."""
    actors = _start(system, _settings(tmp_path), risk="actors.risk.actor.RiskManagerActor")
    _wait_loaded(system, actors["risk"])
    system.tell(actors["risk"], BrokerReady(True, True, BrokerProfile(  # a market in the past
        kind="sim", connected=True, server_utc_offset_s=7200, market_epoch=(NOW, time.time()))))
    risk, broker = actors["risk"], actors["broker"]

    first = ask_for(system, risk, _submission("s1", "D1"), OrderApproval)
    assert first.approved, first.message
    (sent,) = _sent_orders(system, broker)
    assert sent.client_order_id == "ED1" and sent.approval is not None
    saved = ask_for(system, actors["shared_state"],
                    StateGet(request_id="g1", key="risk.reservations"), StateReply)
    assert "ED1" in json.dumps(saved.value)  # written ahead of the order
    system.tell(risk, OrderReport(sent.request_id, "rejected", "no money", "ED1", retcode=10019))

    second = ask_for(system, risk, _submission("s2", "D2"), OrderApproval)
    assert second.approved, second.message  # the refusal started no 15-minute interval
    sent = _sent_orders(system, broker)[-1]
    system.tell(risk, OrderReport(sent.request_id, "done", "done", "ED2", ticket=501,
                                  price=1.10002, volume=second.volume))
    deadline = time.monotonic() + ASK
    while True:  # the fill is booked when the RiskManager has taken the report
        third = ask_for(system, risk, _submission(f"s3-{time.monotonic()}", "D3"),
                        OrderApproval)
        if not third.approved or time.monotonic() > deadline:
            break
        sent = _sent_orders(system, broker)[-1]
        system.tell(risk, OrderReport(sent.request_id, "rejected", "test", "ED3"))
    assert not third.approved and third.code == "TRADE_INTERVAL", third.message
    wait = re.search(r"wait (-?\d+) s more", third.message)  # counted from the fill's time
    assert wait is not None and 0 < int(wait.group(1)) <= 15 * 60, third.message
