"""The model client against a real local chat-completions server (aiohttp, 127.0.0.1)."""

from __future__ import annotations

import asyncio
import email.utils
import json
import socket
from dataclasses import dataclass, field
from typing import Any

import pytest
from aiohttp import web

from actors.app.settings import ConfigError, load_settings
from actors.researcher.analyst import analyse
from actors.researcher.llm import (
    ANSWER_SCHEMA,
    LLMAnalyst,
    LLMConfig,
    LLMError,
    LLMUsage,
    parse_answer,
    retry_after_seconds,
)
from messages.market import Side
from messages.research import Action, TradeOutcome
from tests.unit.researcher.builders import NOW, facts, lesson

KEY_ENV = "TEST_LLM_KEY"
WALL_NOW = 1_790_000_000.0  # the wall clock the client reads an HTTP-date Retry-After against
GOOD_ANSWER = {
    "action": "BUY",
    "confidence": 72,
    "reason": "H4 and H1 trend up, ADX confirms",
    "bull_case": ["H4 above SMA50", "ADX 31"],
    "bear_case": ["RSI near 70"],
}


@dataclass
class FakeModel:
    """What the local server answers, and what it was asked."""

    mode: str = "ok"
    answer: Any = field(default_factory=lambda: dict(GOOD_ANSWER))
    usage: dict[str, int] | None = field(
        default_factory=lambda: {"prompt_tokens": 310, "completion_tokens": 40}
    )
    requests: list[dict[str, Any]] = field(default_factory=list)
    headers: list[dict[str, str]] = field(default_factory=list)
    release: asyncio.Event = field(default_factory=asyncio.Event)
    # Answers given first, one per request: (status, headers, JSON body).
    script: list[tuple[int, dict[str, str], Any]] = field(default_factory=list)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(await request.json())
        self.headers.append(dict(request.headers))
        if self.script:
            status, headers, body = self.script.pop(0)
            return web.json_response(body, status=status, headers=headers)
        if self.mode == "hang":
            await self.release.wait()
        if self.mode == "http500":
            return web.json_response({"error": "overloaded"}, status=500)
        if self.mode == "not_json":
            return web.Response(text="<html>gateway</html>", content_type="text/html")
        content = self.answer if isinstance(self.answer, str) else json.dumps(self.answer)
        message: dict[str, Any] = {"role": "assistant", "content": content}
        if self.mode == "refusal":
            message = {"role": "assistant", "content": None, "refusal": "I cannot help"}
        body: dict[str, Any] = {
            "id": "chatcmpl-test",
            "object": "chat.completion",
            "model": self.requests[-1]["model"],
            "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
        }
        if self.usage is not None:
            body["usage"] = {**self.usage, "total_tokens": sum(self.usage.values())}
        return web.json_response(body)


@pytest.fixture
async def model(aiohttp_server):
    fake = FakeModel()
    app = web.Application()
    app.router.add_post("/v1/chat/completions", fake.handle)
    server = await aiohttp_server(app)
    fake.base_url = str(server.make_url("/v1"))
    yield fake
    fake.release.set()


def analyst(fake: FakeModel, key: str | None = "secret", sleeps: list[float] | None = None,
            **config: Any) -> LLMAnalyst:
    settings = {
        "base_url": fake.base_url,
        "model": "test-model",
        "api_key_env": KEY_ENV,
        "timeout_seconds": 5.0,
        "use_environment_proxies": False,
        "prompt_cost_per_million": 1_000.0,
        "completion_cost_per_million": 2_000.0,
        **config,
    }
    environ = {} if key is None else {KEY_ENV: key}
    ticks = iter(range(0, 10_000, 250))  # a fake monotonic clock: 0.25 s per reading
    waits = [] if sleeps is None else sleeps  # the client's backoff sleeps, recorded
    return LLMAnalyst(
        LLMConfig(**settings), environ=environ, monotonic=lambda: next(ticks) / 1000.0,
        sleep=waits.append, wall_clock=lambda: WALL_NOW,
    )


async def decide(client: LLMAnalyst, *args: Any, **kwargs: Any):
    """The client is synchronous (it runs inside an actor); keep the server's loop free."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(None, lambda: client.decide(*args, **kwargs))


async def test_a_good_answer_is_used_and_accounted(model):
    client = analyst(model)
    result = await decide(client, facts(), [], NOW, Side.BUY)
    assert result.source == "test-model" and result.fallback == ""
    assert result.action is Action.BUY and result.confidence == 72
    assert result.reason == "BUY 72%: test-model: H4 and H1 trend up, ADX confirms"
    assert result.bull_case == ("H4 above SMA50", "ADX 31")
    assert (result.prompt_tokens, result.completion_tokens) == (310, 40)
    assert result.cost == pytest.approx((310 * 1000 + 40 * 2000) / 1e6)
    assert result.latency_ms == pytest.approx(250.0)  # one reading before, one after
    assert client.usage.tokens == 350 and client.usage.calls == 1
    request = model.requests[0]
    assert request["model"] == "test-model" and request["max_completion_tokens"] == 500
    assert "max_tokens" not in request and request["temperature"] == 0.2
    assert request["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "research_decision", "strict": True, "schema": ANSWER_SCHEMA},
    }
    user = json.loads(request["messages"][1]["content"])
    assert user["symbol"] == "XAUUSD" and user["candidate_direction"] == "BUY"
    assert model.headers[0]["Authorization"] == "Bearer secret"


async def test_lessons_are_sent_and_still_lower_the_models_confidence(model):
    losses = [lesson(TradeOutcome.LOSS, ticket=i) for i in range(2)]
    result = await decide(analyst(model), facts(), losses, NOW)
    assert result.confidence == 52 and result.lesson_points == -20
    sent = json.loads(model.requests[0]["messages"][1]["content"])["lessons"]
    assert [item["advice"] for item in sent] == ["secure break-even sooner"] * 2
    model.answer = {**GOOD_ANSWER, "confidence": 55}
    held = await decide(analyst(model), facts(), losses, NOW)
    assert held.action is Action.HOLD and held.source == "test-model"


async def test_timeout_falls_back_to_the_rules(model):
    model.mode = "hang"
    client = analyst(model, timeout_seconds=0.2)
    result = await decide(client, facts(), [], NOW)
    model.release.set()
    rules = analyse(facts(), now=NOW)
    assert result.source == "rules" and result.fallback.startswith("timeout")
    assert result.reason.startswith("[model test-model not used: timeout")
    assert result.reason.endswith(rules.reason)
    assert (result.action, result.confidence) == (rules.action, rules.confidence)
    # A timed-out call may have been billed: the worst case counts against the budget.
    assert result.completion_tokens == 500 and client.usage.tokens > 500
    assert client.usage.fallbacks == 1


@pytest.mark.parametrize(
    ("mode", "answer", "kind"),
    [
        ("ok", "I think BUY, 80%", "unparsable"),
        ("ok", {**GOOD_ANSWER, "action": "**BUY"}, "schema"),
        ("ok", {**GOOD_ANSWER, "confidence": 140}, "schema"),
        ("ok", {**GOOD_ANSWER, "confidence": "high"}, "schema"),
        ("ok", {**GOOD_ANSWER, "confidence": True}, "schema"),
        ("ok", {**GOOD_ANSWER, "extra": 1}, "schema"),
        ("ok", {"action": "BUY", "confidence": 70}, "schema"),
        ("ok", [GOOD_ANSWER], "schema"),
        ("not_json", None, "unparsable"),
        ("http500", None, "http"),
        ("refusal", None, "refused"),
    ],
)
async def test_bad_answers_fall_back_and_say_why(model, mode, answer, kind):
    model.mode = mode
    if answer is not None:
        model.answer = answer
    result = await decide(analyst(model), facts(), [], NOW)
    assert result.source == "rules"
    assert result.fallback.startswith(kind)
    assert f"not used: {kind}" in result.reason
    assert result.action is analyse(facts(), now=NOW).action


async def test_a_fenced_json_answer_is_accepted(model):
    model.answer = "```json\n" + json.dumps(GOOD_ANSWER) + "\n```"
    result = await decide(analyst(model), facts(), [], NOW)
    assert result.source == "test-model" and result.confidence == 72


async def test_missing_usage_is_estimated_not_ignored(model):
    model.usage = None
    client = analyst(model)
    result = await decide(client, facts(), [], NOW)
    assert result.prompt_tokens > 0 and result.completion_tokens == 500


async def test_no_api_key_means_rules_without_calling(model):
    result = await decide(analyst(model, key=None), facts(), [], NOW)
    assert result.fallback == f"no API key in ${KEY_ENV}"
    assert model.requests == []


async def test_per_decision_budget_is_checked_before_calling(model):
    client = analyst(model, max_tokens_per_decision=600)
    result = await decide(client, facts(), [], NOW)
    assert result.fallback.startswith("budget:") and "per decision" in result.fallback
    assert model.requests == []


async def test_daily_budget_stops_calls_and_resets_the_next_day(model):
    client = analyst(model, max_tokens_per_day=2_000)
    results = [await decide(client, facts(), [], NOW + 60 * i) for i in range(8)]
    used_model = [result.source == "test-model" for result in results]
    # Each call spends 350 tokens but may need ~ 800 (prompt estimate + 500): a few fit.
    assert used_model[0] and not used_model[-1]
    assert used_model == sorted(used_model, reverse=True)  # once refused, refused all day
    assert results[-1].fallback.startswith("budget:") and "daily" in results[-1].fallback
    assert len(model.requests) == sum(used_model)
    assert client.usage.tokens <= 2_000
    tomorrow = await decide(client, facts(), [], NOW + 86_400)
    assert tomorrow.source == "test-model"
    assert client.usage.calls == 1  # a new day's usage


def test_unreachable_server_is_a_network_fallback():
    with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = LLMConfig(
        base_url=f"http://127.0.0.1:{port}/v1",
        model="m",
        api_key_env=KEY_ENV,
        timeout_seconds=2.0,
        use_environment_proxies=False,
    )
    result = LLMAnalyst(config, environ={KEY_ENV: "k"}).decide(facts(), [], NOW)
    assert result.source == "rules" and result.fallback.startswith("network")


def test_parse_answer_validates_every_field():
    answer = parse_answer(json.dumps(GOOD_ANSWER))
    assert (answer.action, answer.confidence, answer.bear_case) == ("BUY", 72.0, ["RSI near 70"])
    for bad in ('{"action": "BUY"}', "[]", "nope", json.dumps({**GOOD_ANSWER, "bull_case": [1]}),
                json.dumps({**GOOD_ANSWER, "confidence": float("nan")}),
                json.dumps({**GOOD_ANSWER, "reason": "   "})):
        with pytest.raises(LLMError):
            parse_answer(bad)


def test_usage_is_a_plain_record():
    usage = LLMUsage(day=3, prompt_tokens=10, completion_tokens=5)
    assert usage.tokens == 15


def _error(message: str, param: str | None = None) -> dict[str, Any]:
    """An error body in OpenAI's format."""
    return {"error": {"message": message, "type": "invalid_request_error", "param": param,
                      "code": "unsupported_parameter"}}


async def test_no_temperature_is_sent_when_none_is_configured(model):
    result = await decide(analyst(model, temperature=None), facts(), [], NOW)
    assert result.source == "test-model" and "temperature" not in model.requests[0]


async def test_a_model_that_refuses_a_temperature_is_asked_again_without_it(model):
    model.script = [(400, {}, _error("Unsupported value: 'temperature' does not support 0.2 "
                                     "with this model. Only the default (1) value is supported.",
                                     "temperature"))]
    sleeps: list[float] = []
    client = analyst(model, sleeps=sleeps)
    first = await decide(client, facts(), [], NOW)
    assert first.source == "test-model" and first.fallback == ""
    assert [("temperature" in r) for r in model.requests] == [True, False]
    second = await decide(client, facts(), [], NOW + 60)
    assert second.source == "test-model" and "temperature" not in model.requests[2]
    assert sleeps == [] and client.sends_temperature is False


async def test_an_http_400_says_what_the_server_said(model):
    model.script = [(400, {}, _error("Unsupported parameter: 'max_tokens' is not supported "
                                     "with this model. Use 'max_completion_tokens' instead.",
                                     "max_tokens"))]
    result = await decide(analyst(model), facts(), [], NOW)
    assert result.source == "rules" and len(model.requests) == 1  # a 400 is not retried
    assert result.fallback.startswith("http: HTTP 400 Bad Request: Unsupported parameter")
    assert "max_completion_tokens" in result.fallback and "max_completion_tokens" in result.reason


async def test_429_waits_what_retry_after_says_then_uses_the_answer(model):
    model.script = [(429, {"Retry-After": "3"}, _error("Rate limit reached"))]
    sleeps: list[float] = []
    result = await decide(analyst(model, sleeps=sleeps), facts(), [], NOW)
    assert result.source == "test-model" and sleeps == [3.0] and len(model.requests) == 2


async def test_retry_after_as_an_http_date_is_honoured(model):
    when = email.utils.formatdate(WALL_NOW + 5, usegmt=True)
    model.script = [(503, {"Retry-After": when}, {"error": "overloaded"})]
    sleeps: list[float] = []
    result = await decide(analyst(model, sleeps=sleeps), facts(), [], NOW)
    assert result.source == "test-model" and sleeps == [5.0]


async def test_5xx_without_retry_after_backs_off_exponentially(model):
    model.script = [(502, {}, {}), (500, {}, {})]
    sleeps: list[float] = []
    result = await decide(analyst(model, sleeps=sleeps), facts(), [], NOW)
    assert result.source == "test-model" and sleeps == [1.0, 2.0] and len(model.requests) == 3


async def test_retries_are_bounded_and_the_fallback_says_why(model):
    model.script = [(429, {"Retry-After": "1"}, _error("Rate limit reached"))] * 5
    sleeps: list[float] = []
    client = analyst(model, sleeps=sleeps, max_retries=2)
    result = await decide(client, facts(), [], NOW)
    assert len(model.requests) == 3 and sleeps == [1.0, 1.0]
    assert result.source == "rules"
    assert result.fallback.startswith("rate_limited: HTTP 429")
    assert "gave up after 3 attempts" in result.fallback
    assert client.usage.tokens == 0  # nothing was billed


async def test_a_retry_after_longer_than_allowed_is_not_waited_for(model):
    model.script = [(429, {"Retry-After": "60"}, _error("Rate limit reached"))]
    sleeps: list[float] = []
    result = await decide(analyst(model, sleeps=sleeps, retry_max_s=8.0), facts(), [], NOW)
    assert sleeps == [] and len(model.requests) == 1
    assert result.fallback.startswith("rate_limited") and "Retry-After 60 s" in result.fallback


async def test_retries_stop_at_the_decisions_time_limit(model):
    # The fake clock moves 0.25 s per reading; a 2 s wait would pass a 1 s limit.
    model.script = [(503, {"Retry-After": "2"}, {})]
    sleeps: list[float] = []
    result = await decide(analyst(model, sleeps=sleeps, max_decision_seconds=1.0),
                          facts(), [], NOW)
    assert sleeps == [] and result.fallback.startswith("http: HTTP 503")
    assert "max_decision_seconds 1 s" in result.fallback


def test_retry_after_is_read_as_seconds_or_a_date():
    assert retry_after_seconds("2.5", WALL_NOW) == 2.5
    assert retry_after_seconds(email.utils.formatdate(WALL_NOW + 7, usegmt=True), WALL_NOW) == 7
    assert retry_after_seconds(email.utils.formatdate(WALL_NOW - 7, usegmt=True), WALL_NOW) == 0
    assert retry_after_seconds("soon", WALL_NOW) is None
    assert retry_after_seconds(None, WALL_NOW) is None


def test_retry_settings_are_bounded_in_the_configuration():
    base = ["researcher.llm.base_url='http://127.0.0.1:1/v1'", "researcher.llm.model='m'"]
    loaded = load_settings(assignments=base, environ={})
    assert loaded.researcher.llm == LLMConfig(base_url="http://127.0.0.1:1/v1", model="m")
    for bad in ("max_retries=9", "retry_max_s=-1", "max_decision_seconds=0", "temperature=3"):
        with pytest.raises(ConfigError, match=f"researcher.llm.{bad.split('=')[0]}"):
            load_settings(assignments=[*base, f"researcher.llm.{bad}"], environ={})
