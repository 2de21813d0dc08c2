"""An optional Researcher backed by any OpenAI-compatible chat-completions endpoint.

The request asks for a strict JSON answer (``response_format`` of type ``json_schema``):
action BUY / SELL / HOLD, confidence 0–100, a reason, and the bull and bear cases, validated
by the pydantic model :class:`ModelAnswer`. It sends ``max_completion_tokens`` (current reasoning
models reject ``max_tokens`` with HTTP 400) and ``temperature`` only when configured; a model
that answers 400 naming ``temperature`` is asked again without it, and never sent it again.
HTTP 429 and 5xx are retried up to ``max_retries`` times with exponential backoff, waiting
what ``Retry-After`` asks when it says (seconds or an HTTP date), at most ``retry_max_s`` a
wait and never past ``max_decision_seconds`` in all, which stays under the Strategy's wait.

Whatever goes wrong — no API key, the per-decision or per-day token budget, a timeout, an HTTP
or network error, a refusal, text that is not JSON or JSON that breaks the schema — the
deterministic analyst answers instead; ``fallback`` says why (its first word is the kind:
``no``, ``budget``, ``timeout``, ``http``, ``rate_limited``, ``network``, ``refused``,
``unparsable``, ``schema``), and so does the start of its reason. Either way the result carries
its source (the model's name or "rules"), the tokens spent, their cost and the call's latency.

A model's answer goes through the same :func:`~actors.researcher.analyst.finalise_decision`
as the rules' one, so the Critic's lessons and the HOLD threshold apply to it too.

The client is synchronous (``urllib``): it runs inside the Researcher actor, which handles one
decision at a time. ``timeout_seconds`` bounds each socket operation.
"""

from __future__ import annotations

import email.utils
import json
import math
import os
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, replace
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from actors.researcher.analyst import (
    Action,
    Analysis,
    AnalystParams,
    analyse,
    finalise_decision,
    relevant_lessons,
)
from messages.market import Side
from messages.research import Lesson, MarketFacts

__all__ = [
    "ANSWER_SCHEMA",
    "LLMAnalyst",
    "LLMConfig",
    "LLMError",
    "LLMUsage",
    "ModelAnswer",
    "build_messages",
    "parse_answer",
    "retry_after_seconds",
]

_MAX_RESPONSE_BYTES = 1_000_000
_MAX_ERROR_BYTES = 20_000
_RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
_CHARS_PER_TOKEN = 4  # a conservative estimate for budgeting before the call

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "action": {"type": "string", "enum": ["BUY", "SELL", "HOLD"]},
        "confidence": {"type": "integer", "minimum": 0, "maximum": 100},
        "reason": {"type": "string"},
        "bull_case": {"type": "array", "items": {"type": "string"}},
        "bear_case": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["action", "confidence", "reason", "bull_case", "bear_case"],
    "additionalProperties": False,
}

_SYSTEM_PROMPT = (
    "You are the research desk of an automated trading system. Weigh a bull case against a "
    "bear case using only the facts given. Trend outweighs oscillators. Past lessons describe "
    "what went wrong or right on similar trades; heed them. ModelAnswer BUY, SELL or HOLD with a "
    "confidence from 0 to 100 and a short reason naming the facts that decided."
)


class ModelAnswer(BaseModel):
    """The model's answer, as :data:`ANSWER_SCHEMA` asks for it. Strict: a confidence must be
    a finite number (not a string or a boolean), the cases lists of strings, and nothing else
    may be in the object."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    action: Literal["BUY", "SELL", "HOLD"]
    confidence: Annotated[float, Field(ge=0, le=100, strict=True, allow_inf_nan=False)]
    reason: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, strict=True)]
    bull_case: list[Annotated[str, Field(strict=True)]]
    bear_case: list[Annotated[str, Field(strict=True)]]


@dataclass(frozen=True, slots=True)
class LLMConfig:
    """Where and how to ask. The API key is read from the environment variable named
    ``api_key_env``, never stored in configuration. Costs are per million tokens.
    ``temperature`` None sends none (reasoning models accept only their default).
    ``max_decision_seconds`` bounds one decision, retries included; keep it under the
    Strategy's 30 s wait for the Researcher."""

    base_url: str
    model: str
    api_key_env: str = "ENSEMBLE_LLM_API_KEY"
    timeout_seconds: Annotated[float, Field(gt=0, le=120)] = 15.0
    temperature: Annotated[float, Field(ge=0, le=2)] | None = 0.2
    max_retries: Annotated[int, Field(ge=0, le=5)] = 2
    retry_initial_s: Annotated[float, Field(ge=0, le=60)] = 1.0
    retry_max_s: Annotated[float, Field(ge=0, le=60)] = 8.0
    max_decision_seconds: Annotated[float, Field(gt=0, le=120)] = 25.0
    max_completion_tokens: int = 500
    max_tokens_per_decision: int = 4000
    max_tokens_per_day: int = 200_000
    prompt_cost_per_million: float = 0.0
    completion_cost_per_million: float = 0.0
    use_environment_proxies: bool = True


@dataclass(frozen=True, slots=True)
class LLMUsage:
    """Tokens and cost spent on one UTC day (``day`` = days since the epoch)."""

    day: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost: float = 0.0
    calls: int = 0
    fallbacks: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class LLMError(Exception):
    """A failed model call; ``kind`` is a short machine-readable cause. An HTTP error also has
    its ``status``, the ``param`` its error body names (OpenAI's error format) and the wait its
    ``Retry-After`` header asks for, in seconds."""

    def __init__(self, kind: str, detail: str, status: int | None = None,
                 param: str | None = None, retry_after: float | None = None) -> None:
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail
        self.status = status
        self.param = param
        self.retry_after = retry_after


def retry_after_seconds(value: str | None, now: float) -> float | None:
    """``Retry-After`` as seconds to wait: delta-seconds or an HTTP date (RFC 9110), None when
    absent or unreadable. ``now`` is the wall clock (epoch seconds) for a date."""
    if not value:
        return None
    text = value.strip()
    try:
        seconds = float(text)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(text)
        except (TypeError, ValueError):
            return None
        seconds = when.timestamp() - now
    return max(0.0, seconds) if math.isfinite(seconds) else None


def _http_error(exc: urllib.error.HTTPError, now: float) -> LLMError:
    """An HTTP error with the server's own message (OpenAI-style ``error.message``/``param``)."""
    message, param = "", None
    try:
        body = json.loads(exc.read(_MAX_ERROR_BYTES) or b"null")
    except (OSError, ValueError):
        body = None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        message = str(error.get("message") or "")[:300]
        param = error.get("param") if isinstance(error.get("param"), str) else None
    elif isinstance(error, str):
        message = error[:300]
    detail = f"HTTP {exc.code} {exc.reason}" + (f": {message}" if message else "")
    retry_after = retry_after_seconds(exc.headers.get("Retry-After") if exc.headers else None,
                                      now)
    return LLMError("http", detail, status=exc.code, param=param, retry_after=retry_after)


def _facts_payload(facts: MarketFacts) -> dict[str, Any]:
    payload = asdict(facts)
    payload["regime"] = facts.regime.value
    return {
        key: round(value, 6) if isinstance(value, float) else value
        for key, value in payload.items()
    }


def build_messages(
    facts: MarketFacts, lessons: Sequence[Lesson], proposed: Side | None
) -> list[dict[str, str]]:
    """The chat messages for one decision."""
    user = {
        "symbol": facts.symbol,
        "candidate_direction": None if proposed is None else proposed.value,
        "facts": _facts_payload(facts),
        "lessons": [
            {
                "direction": lesson.direction.value,
                "outcome": lesson.outcome.value,
                "r_multiple": lesson.r_multiple,
                "advice": lesson.advice,
            }
            for lesson in lessons
        ],
    }
    return [
        {"role": "system", "content": _SYSTEM_PROMPT},
        {"role": "user", "content": json.dumps(user, sort_keys=True)},
    ]


def _strip_fences(text: str) -> str:
    stripped = text.strip()
    if stripped.startswith("```"):
        stripped = stripped.split("\n", 1)[1] if "\n" in stripped else ""
        if stripped.rstrip().endswith("```"):
            stripped = stripped.rstrip()[:-3]
    return stripped.strip()


def parse_answer(content: str) -> ModelAnswer:
    """The validated answer; raises LLMError("unparsable" | "schema")."""
    try:
        answer = json.loads(_strip_fences(content))
    except (json.JSONDecodeError, TypeError) as exc:
        raise LLMError("unparsable", f"not JSON: {exc}") from exc
    if not isinstance(answer, dict):
        raise LLMError("schema", "the answer is not a JSON object")
    try:
        return ModelAnswer.model_validate(answer)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(part) for part in item['loc']) or 'answer'}: {item['msg']}"
            for item in exc.errors()[:5]
        )
        raise LLMError("schema", problems) from None


class LLMAnalyst:
    """A Researcher that asks a model and falls back to :func:`analyse`."""

    def __init__(
        self,
        config: LLMConfig,
        environ: Mapping[str, str] | None = None,
        analyst_params: AnalystParams | None = None,
        usage: LLMUsage | None = None,
        monotonic: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall_clock: Callable[[], float] = time.time,
    ) -> None:
        self.config = config
        self.analyst_params = analyst_params or AnalystParams()
        self._environ = os.environ if environ is None else environ
        self._usage = usage or LLMUsage()
        self._monotonic = monotonic
        self._sleep = sleep
        self._wall_clock = wall_clock
        # False once the model has refused a temperature (HTTP 400 naming it).
        self.sends_temperature = config.temperature is not None
        handlers: list[urllib.request.BaseHandler] = []
        if not config.use_environment_proxies:
            handlers.append(urllib.request.ProxyHandler({}))
        self._opener = urllib.request.build_opener(*handlers)

    @property
    def usage(self) -> LLMUsage:
        """The day's usage so far (store it to keep the daily budget across restarts)."""
        return self._usage

    def _roll_day(self, now: float) -> None:
        day = math.floor(now / 86_400)
        if day != self._usage.day:
            self._usage = LLMUsage(day=day)

    def _call(self, payload: dict[str, Any], api_key: str, started: float) -> dict[str, Any]:
        """POST with the retries: 429 and 5xx with backoff (``Retry-After`` first), and one
        retry without ``temperature`` if the model refuses it."""
        deadline = started + self.config.max_decision_seconds
        attempt = 0
        while True:
            if not self.sends_temperature:
                payload.pop("temperature", None)
            try:
                return self._post(payload, api_key)
            except LLMError as error:
                if (error.status == 400 and error.param == "temperature"
                        and "temperature" in payload):
                    self.sends_temperature = False  # this model takes only its default
                    continue
                if error.status not in _RETRY_STATUSES:
                    raise
                wait = self._retry_wait(error, attempt, deadline)
                self._sleep(wait)
                attempt += 1

    def _retry_wait(self, error: LLMError, attempt: int, deadline: float) -> float:
        """Seconds to wait before retrying after ``error`` (what ``Retry-After`` asks, else
        exponential backoff); raises the final error when there is no retry left, the wait is
        longer than allowed, or it would pass the decision's time limit."""
        config = self.config
        wait = error.retry_after
        if wait is None:
            wait = min(config.retry_initial_s * 2**attempt, config.retry_max_s)
        why = ""
        if attempt >= config.max_retries:
            why = f"gave up after {attempt + 1} attempts"
        elif wait > config.retry_max_s:
            why = f"Retry-After {wait:g} s is longer than retry_max_s {config.retry_max_s:g} s"
        elif self._monotonic() + wait >= deadline:
            why = (f"no time left to retry within max_decision_seconds "
                   f"{config.max_decision_seconds:g} s")
        if why:
            kind = "rate_limited" if error.status == 429 else "http"
            raise LLMError(kind, f"{error.detail}; {why}", status=error.status) from error
        return wait

    def _post(self, payload: dict[str, Any], api_key: str) -> dict[str, Any]:
        request = urllib.request.Request(
            self.config.base_url.rstrip("/") + "/chat/completions",
            data=json.dumps(payload).encode(),
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {api_key}"},
            method="POST",
        )
        try:
            with self._opener.open(request, timeout=self.config.timeout_seconds) as response:
                body = response.read(_MAX_RESPONSE_BYTES + 1)
        except urllib.error.HTTPError as exc:
            raise _http_error(exc, self._wall_clock()) from exc
        except urllib.error.URLError as exc:
            if isinstance(exc.reason, TimeoutError | socket.timeout):
                raise LLMError("timeout", f"no answer in {self.config.timeout_seconds} s") from exc
            raise LLMError("network", str(exc.reason)) from exc
        except TimeoutError as exc:
            raise LLMError("timeout", f"no answer in {self.config.timeout_seconds} s") from exc
        except OSError as exc:
            raise LLMError("network", repr(exc)) from exc
        if len(body) > _MAX_RESPONSE_BYTES:
            raise LLMError("unparsable", "response larger than 1 MB")
        try:
            decoded = json.loads(body)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise LLMError("unparsable", f"response is not JSON: {exc}") from exc
        if not isinstance(decoded, dict):
            raise LLMError("unparsable", "response is not a JSON object")
        return decoded

    def _count(self, decoded: Mapping[str, Any] | None, estimated_prompt: int) -> tuple[int, int]:
        """Tokens of one call, from the response's ``usage`` or, failing that, estimated."""
        usage = decoded.get("usage") if decoded else None
        if isinstance(usage, Mapping):
            prompt, completion = usage.get("prompt_tokens"), usage.get("completion_tokens")
            if isinstance(prompt, int) and isinstance(completion, int):
                return prompt, completion
        return estimated_prompt, self.config.max_completion_tokens if decoded else 0

    def _spend(self, prompt: int, completion: int) -> float:
        cost = (
            prompt * self.config.prompt_cost_per_million
            + completion * self.config.completion_cost_per_million
        ) / 1_000_000
        self._usage = replace(
            self._usage,
            prompt_tokens=self._usage.prompt_tokens + prompt,
            completion_tokens=self._usage.completion_tokens + completion,
            cost=self._usage.cost + cost,
            calls=self._usage.calls + 1,
        )
        return cost

    def _fallback(
        self,
        facts: MarketFacts,
        lessons: Sequence[Lesson],
        now: float,
        proposed: Side | None,
        why: str,
        spent: tuple[int, int, float] = (0, 0, 0.0),
        latency_ms: float = 0.0,
    ) -> Analysis:
        self._usage = replace(self._usage, fallbacks=self._usage.fallbacks + 1)
        result = analyse(facts, lessons, now, proposed, self.analyst_params)
        return replace(
            result,
            reason=f"[model {self.config.model} not used: {why}] {result.reason}",
            fallback=why,
            prompt_tokens=spent[0],
            completion_tokens=spent[1],
            cost=spent[2],
            latency_ms=latency_ms,
        )

    def decide(
        self,
        facts: MarketFacts,
        lessons: Sequence[Lesson],
        now: float,
        proposed: Side | None = None,
    ) -> Analysis:
        """One decision: the model's if it answers well within budget, else the rules'."""
        self._roll_day(now)
        api_key = self._environ.get(self.config.api_key_env, "")
        if not api_key:
            return self._fallback(
                facts, lessons, now, proposed, f"no API key in ${self.config.api_key_env}"
            )
        shown = [
            lesson
            for direction in Side
            for lesson in relevant_lessons(
                lessons, facts.symbol, facts.regime, direction, now, self.analyst_params
            )
        ]
        messages = build_messages(facts, shown, proposed)
        estimated_prompt = math.ceil(len(json.dumps(messages)) / _CHARS_PER_TOKEN)
        worst_case = estimated_prompt + self.config.max_completion_tokens
        if worst_case > self.config.max_tokens_per_decision:
            return self._fallback(
                facts,
                lessons,
                now,
                proposed,
                f"budget: {worst_case} tokens > {self.config.max_tokens_per_decision} per decision",
            )
        if self._usage.tokens + worst_case > self.config.max_tokens_per_day:
            return self._fallback(
                facts,
                lessons,
                now,
                proposed,
                f"budget: {self._usage.tokens} of {self.config.max_tokens_per_day} daily tokens "
                "used",
            )
        payload: dict[str, Any] = {
            "model": self.config.model,
            "messages": messages,
            "max_completion_tokens": self.config.max_completion_tokens,
            "response_format": {
                "type": "json_schema",
                "json_schema": {
                    "name": "research_decision",
                    "strict": True,
                    "schema": ANSWER_SCHEMA,
                },
            },
        }
        if self.sends_temperature:
            payload["temperature"] = self.config.temperature
        started = self._monotonic()
        decoded: dict[str, Any] | None = None
        try:
            decoded = self._call(payload, api_key, started)
            answer = parse_answer(self._content(decoded))
        except LLMError as error:
            latency_ms = (self._monotonic() - started) * 1000.0
            # A timeout may still have been billed; count the worst case against the budget.
            billed = decoded is not None or error.kind == "timeout"
            prompt, completion = self._count(decoded, estimated_prompt) if billed else (0, 0)
            if error.kind == "timeout":
                completion = self.config.max_completion_tokens
            cost = self._spend(prompt, completion) if billed else 0.0
            return self._fallback(
                facts, lessons, now, proposed, str(error), (prompt, completion, cost), latency_ms
            )
        latency_ms = (self._monotonic() - started) * 1000.0
        prompt, completion = self._count(decoded, estimated_prompt)
        cost = self._spend(prompt, completion)
        result = finalise_decision(
            facts,
            Action(answer.action),
            answer.confidence,
            answer.bull_case,
            answer.bear_case,
            lessons,
            now,
            f"{self.config.model}: {answer.reason}",
            self.analyst_params,
            source=self.config.model,
        )
        return replace(
            result,
            prompt_tokens=prompt,
            completion_tokens=completion,
            cost=cost,
            latency_ms=latency_ms,
        )

    @staticmethod
    def _content(decoded: Mapping[str, Any]) -> str:
        try:
            message = decoded["choices"][0]["message"]
        except (KeyError, IndexError, TypeError) as exc:
            raise LLMError("unparsable", "no choices[0].message in the response") from exc
        if not isinstance(message, Mapping):
            raise LLMError("unparsable", "choices[0].message is not an object")
        if message.get("refusal"):
            raise LLMError("refused", str(message["refusal"])[:200])
        content = message.get("content")
        if not isinstance(content, str):
            raise LLMError("unparsable", "choices[0].message.content is not text")
        return content
