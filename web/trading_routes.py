"""HTTP routes of the trading roles: the operator's controls and the trade journal.

Controls go to the RiskManager (which closes positions through the broker for close-all); the
journal is read from SharedState. Both go through the actor bridge like every other request. A
control sent while the daemon is starting (:mod:`web.readiness`), or while the RiskManager is
loading its state, is answered 503: try again.
"""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from datetime import UTC, date, datetime
from typing import Any

from aiohttp import web

from actors.shared_state.keys import review_op_id
from messages.commands import JournalQuery, StateReply
from messages.trading import ControlCommand, ControlReply, MarketData, MarketDataRequest
from web.api_spec import (
    INTEGER,
    NUMBER,
    STRING,
    Answer,
    Operation,
    Param,
    array,
    json_answer,
    nullable,
    obj,
)
from web.bridge import ServiceUnavailable
from web.core import CONTEXT, HUB, ClientError, ask, int_param, json_body, json_response
from web.journal import calibration, daily_stats, trades_csv, trades_with_reviews
from web.readiness import READINESS

__all__ = ["API", "CONTROL_COMMANDS", "routes"]

CONTROL_COMMANDS = ("pause", "resume", "kill-switch", "reset-kill-switch", "close-all")
_DECISION_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_SYMBOL = re.compile(r"[A-Za-z0-9._]{1,32}")
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[Tt]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?"
                        r"(?:[Zz]|[+-]\d{2}:\d{2})?")


def _is_date(text: str) -> bool:
    """``YYYY-MM-DD`` and a real day."""
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
        return False
    try:
        date.fromisoformat(text)
    except ValueError:
        return False
    return True

routes = web.RouteTableDef()


@routes.post("/api/control/{command}")
async def control(request: web.Request) -> web.Response:
    command = request.match_info["command"]
    if command not in CONTROL_COMMANDS:
        raise ClientError(404, "not_found", f"no control {command!r}; use one of "
                          f"{', '.join(CONTROL_COMMANDS)}")
    waiting_for = request.app[READINESS].observe(request.app[HUB]).waiting_for()
    if waiting_for:
        raise ServiceUnavailable(f"the daemon is starting (waiting for "
                                 f"{', '.join(waiting_for)}); try again")
    body = await json_body(request) if request.can_read_body else {}
    for name in ("op_id", "reason"):
        if not isinstance(body.get(name, ""), str):
            raise ClientError(400, "bad_body", f"{name} must be a string", field=name)
    op_id = str(body.get("op_id") or request.headers.get("Idempotency-Key") or uuid.uuid4())
    reason = str(body.get("reason") or "operator")[:200]
    reply = await ask(request.app, "risk",
                       lambda rid: ControlCommand(rid, command, op_id[:128], reason))
    assert isinstance(reply, ControlReply)
    payload = {"command": command, "mode": reply.mode, "kill_switch": reply.kill_switch,
               "detail": reply.detail}
    if reply.status == 503:
        raise ServiceUnavailable(reply.detail)
    if reply.status != 200:
        return json_response({"error": "conflict", **payload}, reply.status)
    return json_response(payload)


async def _journal(request: web.Request, **query: Any) -> list[dict[str, Any]]:
    reply = await ask(request.app, "shared_state",
                       lambda rid: JournalQuery(request_id=rid, **query))
    assert isinstance(reply, StateReply)
    if not reply.ok:
        raise ClientError(400, "rejected", reply.error or "journal query refused")
    return list(reply.value)


def _time_param(request: web.Request, name: str) -> float | None:
    """An RFC 3339 time (``2024-12-03T08:00:00Z``; UTC when it has no offset) as epoch
    seconds, or None."""
    raw = request.query.get(name)
    if raw is None:
        return None
    try:
        if not _DATE_TIME.fullmatch(raw):
            raise ValueError(raw)
        when = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError:
        raise ClientError(400, "bad_parameter", f"{name}={raw!r}: use an ISO 8601 time, "
                          "e.g. 2024-12-03T08:00:00Z", parameter=name) from None
    return (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()


async def _trades(request: web.Request) -> list[dict[str, Any]]:
    """The newest ``limit`` (≤ 10,000) closed trades, optionally only those closed in
    ``since`` ≤ closed_at < ``until``, and only those of one ``strategy``."""
    limit = int_param(request, "limit", 50, 1, MAX_TRADES)
    since, until = _time_param(request, "since"), _time_param(request, "until")
    strategy = request.query.get("strategy") or None
    if strategy is not None and len(strategy) > MAX_STRATEGY_NAME:
        raise ClientError(400, "bad_parameter", f"strategy is longer than {MAX_STRATEGY_NAME} "
                          "characters", parameter="strategy")
    # The strategy is known only once merged with the review (the Critic reads it from the
    # chain when the trade's record lacks it), so that filter runs here, on at most MAX_TRADES.
    trades = await _journal(request, kind="trade", closed_since=since, closed_until=until,
                            limit=MAX_TRADES if strategy is not None else limit)
    # Each trade's own review, however old (op ids as the Critic writes them).
    reviews = await _journal(request, kind="review", limit=MAX_TRADES, op_ids=tuple(
        review_op_id(t["record"].get("ticket")) for t in trades)) if trades else []
    merged = trades_with_reviews(trades, reviews)
    if strategy is not None:
        merged = [trade for trade in merged if trade.get("strategy") == strategy]
    return merged[:limit]


MAX_TRADES = 10_000
MAX_STRATEGY_NAME = 64


@routes.get("/api/journal/trades")
async def journal_trades(request: web.Request) -> web.Response:
    return json_response(await _trades(request))


@routes.get("/api/journal/trades.csv")
async def journal_trades_csv(request: web.Request) -> web.Response:
    """The same trades as ``/api/journal/trades`` (same filters), as a CSV download."""
    text = trades_csv(await _trades(request))
    return web.Response(text=text, content_type="text/csv", charset="utf-8", headers={
        "Content-Disposition": 'attachment; filename="ensemble-trades.csv"',
        "X-Content-Type-Options": "nosniff", "Cache-Control": "no-store"})


@routes.get("/api/journal/daily")
async def journal_daily(request: web.Request) -> web.Response:
    day = request.query.get("day")
    if day is not None and not _is_date(day):
        raise ClientError(400, "bad_parameter", f"day={day!r}: use YYYY-MM-DD",
                          parameter="day")
    trades = [entry["record"] for entry in await _journal(request, kind="trade", limit=2000)]
    return json_response(daily_stats(trades, day))


@routes.get("/api/journal/calibration")
async def journal_calibration(request: web.Request) -> web.Response:
    bins = int_param(request, "bins", 10, 2, 50)
    return json_response(calibration(await _journal(request, kind="review", limit=5000), bins))


@routes.get("/api/journal/decisions/{decision_id}")
async def journal_decision(request: web.Request) -> web.Response:
    decision_id = request.match_info["decision_id"]
    if not _DECISION_ID.fullmatch(decision_id):
        raise ClientError(400, "bad_parameter", f"decision id {decision_id!r} is not valid",
                          parameter="decision_id")
    chain = await _journal(request, decision_id=decision_id, limit=200)
    if not chain:
        raise ClientError(404, "not_found", f"no decision {decision_id!r}")
    return json_response({"decision_id": decision_id, "steps": chain})


# --- charts ------------------------------------------------------------------------------------

TIMEFRAMES = ("M1", "M5", "M15", "M30", "H1", "H4", "D1")


@routes.get("/api/bars")
async def bars(request: web.Request) -> web.Response:
    """Closed candles of one symbol for the chart, times in UTC seconds."""
    symbol = request.query.get("symbol", "")
    if not _SYMBOL.fullmatch(symbol):
        raise ClientError(400, "bad_parameter", f"symbol={symbol!r} is not a symbol name",
                          parameter="symbol")
    timeframe = request.query.get("timeframe", "M5")
    if timeframe not in TIMEFRAMES:
        raise ClientError(400, "bad_parameter", f"timeframe={timeframe!r}: use one of "
                          f"{', '.join(TIMEFRAMES)}", parameter="timeframe")
    count = int_param(request, "count", 200, 1, 2000)
    data = await ask(request.app, "broker",
                      lambda rid: MarketDataRequest(rid, (symbol,), (timeframe,), count,
                                                    timeout_s=request.app[CONTEXT]
                                                    .request_timeout_s))
    assert isinstance(data, MarketData)
    # The broker's measured clock, each bar with the offset of its own time (DST switches).
    bars = data.bars_of(symbol, timeframe)
    if bars is None and data.unavailable:  # the terminal, not the symbol: ask again later
        raise ClientError(503, "unavailable", data.errors.get(symbol) or "terminal unavailable")
    if bars is None:
        raise ClientError(404, "not_found", data.errors.get(symbol) or f"no bars for {symbol}")
    return json_response([
        {"time": int(time), "open": float(open_), "high": float(high), "low": float(low),
         "close": float(close)}
        for time, open_, high, low, close in zip(bars.time, bars.open, bars.high, bars.low,
                                                 bars.close, strict=True)
    ])


@routes.get("/api/equity")
async def equity(request: web.Request) -> web.Response:
    """The equity curve, from the account updates in the event journal."""
    limit = int_param(request, "limit", 2000, 1, 20_000)
    hub = request.app[HUB]
    rows = await asyncio.to_thread(hub.read_journal_latest, "ACCOUNT_UPDATE", limit)
    points = []
    for _, _, text in rows:
        event = json.loads(text)
        account = event.get("account") or {}
        if isinstance(account.get("equity"), int | float):
            points.append({"time": event["timestamp"], "seq": event["seq"],
                           "equity": account["equity"], "balance": account.get("balance")})
    return json_response(points)


# --- the description (web.api_spec) ----------------------------------------------------------

_TIME = {"type": "string", "format": "date-time", "examples": ["2024-12-03T08:00:00Z"],
         "description": "RFC 3339 (UTC when it has no offset)"}
_TRADE_FILTERS = (
    Param("limit", "the newest this many closed trades (default 50)",
          {"type": "integer", "minimum": 1, "maximum": MAX_TRADES}),
    Param("since", "only trades closed at or after this time", _TIME),
    Param("until", "only trades closed before this time", _TIME),
    Param("strategy", "only trades this strategy opened (default: every strategy's)",
          {"type": "string", "maxLength": MAX_STRATEGY_NAME}),
)
_REVIEW = nullable(obj(score=nullable(NUMBER), outcome=nullable(STRING),
                       r_multiple=nullable(NUMBER), analysis=nullable(STRING),
                       lesson=nullable(STRING)))
_TRADE = obj(("ticket", "symbol", "review"), ticket=INTEGER, symbol=STRING, direction=STRING,
             volume=NUMBER, entry_price=NUMBER, exit_price=NUMBER, profit=NUMBER,
             opened_at={**NUMBER, "description": "epoch seconds"},
             closed_at={**NUMBER, "description": "epoch seconds"},
             decision_id=nullable(STRING), strategy=STRING, review=_REVIEW)
_CONTROL_REPLY = obj(("command", "mode", "kill_switch", "detail"), command=STRING, mode=STRING,
                     kill_switch={"type": "boolean"}, detail=STRING)
_BIN = obj(lower=NUMBER, upper=NUMBER, count=INTEGER, mean_confidence=nullable(NUMBER),
           hit_rate=nullable(NUMBER))
_JOURNAL_ERRORS = (400, 503)

API = (
    Operation("POST", "/api/control/{command}", "An operator control, through the RiskManager",
              tag="control", errors=(400, 404, 503),
              params=(Param("command", "what to do", {"enum": list(CONTROL_COMMANDS)},
                            where="path"),
                      Param("Idempotency-Key", "the op_id, when the body has none",
                            where="header")),
              body=obj(op_id={"type": "string", "description": "a retry with the same op_id "
                              "is applied once"},
                       reason={"type": "string", "description": "kept in the journal (at "
                               "most 200 characters)"}),
              body_required=False,
              ok={200: json_answer("applied", _CONTROL_REPLY),
                  409: json_answer("refused in the current state (e.g. resume while the kill "
                                   "switch is set)", obj(("error",), error=STRING))}),
    Operation("GET", "/api/journal/trades", "Closed trades with their review, newest first",
              tag="journal", errors=_JOURNAL_ERRORS, params=_TRADE_FILTERS,
              ok={200: json_answer("the trades", array(_TRADE))}),
    Operation("GET", "/api/journal/trades.csv", "The same trades as a CSV download",
              tag="journal", errors=_JOURNAL_ERRORS, params=_TRADE_FILTERS,
              ok={200: Answer("a header, then one row per trade", content_type="text/csv")}),
    Operation("GET", "/api/journal/daily", "The totals of one day's closed trades",
              tag="journal", errors=_JOURNAL_ERRORS,
              params=(Param("day", "YYYY-MM-DD, a broker day (the trade server's date; "
                                   "default: the newest trade's)",
                            {"type": "string", "format": "date"}),),
              ok={200: json_answer("the totals", obj(
                  ("day", "total", "wins", "losses", "total_profit", "win_rate"), day=STRING,
                  total=INTEGER, wins=INTEGER, losses=INTEGER, total_profit=NUMBER,
                  win_rate=nullable(NUMBER)))}),
    Operation("GET", "/api/journal/calibration", "Research confidence against winning trades",
              tag="journal", errors=_JOURNAL_ERRORS,
              params=(Param("bins", "reliability bins (default 10)",
                            {"type": "integer", "minimum": 2, "maximum": 50}),),
              ok={200: json_answer("Brier score, expected calibration error and the bins", obj(
                  ("count", "bins"), count=INTEGER, brier=nullable(NUMBER),
                  ece=nullable(NUMBER), bins=array(_BIN)))}),
    Operation("GET", "/api/journal/decisions/{decision_id}", "Every journal step of one "
              "decision", tag="journal", errors=(400, 404, 503),
              params=(Param("decision_id", "1 to 64 letters, digits and dashes",
                            {"type": "string", "pattern": f"^{_DECISION_ID.pattern}$"},
                            where="path"),),
              ok={200: json_answer("the chain", obj(("decision_id", "steps"),
                                                    decision_id=STRING,
                                                    steps=array({"type": "object"})))}),
    Operation("GET", "/api/bars", "Closed candles of one symbol, times in UTC seconds",
              tag="market", errors=(400, 404, 503),
              params=(Param("symbol", "the symbol", {"type": "string",
                                                     "pattern": f"^{_SYMBOL.pattern}$",
                                                     "examples": ["EURUSD"]},
                            required=True),
                      Param("timeframe", "default M5", {"enum": list(TIMEFRAMES)}),
                      Param("count", "candles (default 200)",
                            {"type": "integer", "minimum": 1, "maximum": 2000})),
              ok={200: json_answer("the candles, oldest first", array(obj(
                  ("time", "open", "high", "low", "close"), time=INTEGER, open=NUMBER,
                  high=NUMBER, low=NUMBER, close=NUMBER)))}),
    Operation("GET", "/api/equity", "The equity curve, from the account updates",
              tag="market", errors=(400,),
              params=(Param("limit", "the newest this many points (default 2000)",
                            {"type": "integer", "minimum": 1, "maximum": 20_000}),),
              ok={200: json_answer("the points, oldest first", array(obj(
                  ("time", "seq", "equity"), time=STRING, seq=INTEGER, equity=NUMBER,
                  balance=nullable(NUMBER))))}),
)
