"""The files a backtest leaves in its output directory.

- ``trades.csv``: one row per closed trade, the columns of
  :data:`~actors.backtest.results.TRADE_COLUMNS`, times in ISO 8601 UTC.
- ``summary.json``: :func:`~actors.backtest.results.summarise`'s figures, keys sorted.
- ``report.html``: one self-contained page (no script, no external file, opens offline):
  equity and drawdown curves as inline SVG, monthly returns, per-symbol and per-strategy
  statistics, the research calibration, and the trade list with each trade's decision chain
  and Critic review.

Same inputs, same bytes: rows keep the order given, floats are written by ``repr`` after
rounding, and nothing here reads a clock.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from actors.backtest.results import TRADE_COLUMNS, EquityPoint, TradeRow, drawdown_curve
from actors.runtime.clock import iso_utc

__all__ = ["render_report", "write_report", "write_summary", "write_trades"]

_TIMES = ("entry_time", "exit_time")


def _cell(row: TradeRow, column: str) -> str:
    value = getattr(row, column)
    if column in _TIMES:
        return iso_utc(float(value))
    if isinstance(value, float):
        return repr(round(value, 8))
    return str(value)


def write_trades(path: Path, trades: Sequence[TradeRow]) -> None:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(TRADE_COLUMNS)
    for trade in trades:
        writer.writerow([_cell(trade, column) for column in TRADE_COLUMNS])
    path.write_text(buffer.getvalue(), encoding="utf-8")


def write_summary(path: Path, summary: Mapping[str, Any]) -> None:
    path.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# --- report.html --------------------------------------------------------------------------------

_STYLE = """
body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#1b1f24;background:#fff}
h1{font-size:20px}h2{font-size:16px;margin-top:28px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:3px 8px;
text-align:right}th{background:#f6f8fa}td.l,th.l{text-align:left}
.pos{color:#1a7f37}.neg{color:#cf222e}svg{border:1px solid #d0d7de;background:#fbfcfd}
details{margin:0}summary{cursor:pointer}pre{white-space:pre-wrap;margin:4px 0;font-size:12px}
"""


def _esc(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _num(value: Any, digits: int = 2) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        text = f"{value:,.{digits}f}"
        return f'<span class="{"pos" if value > 0 else "neg" if value < 0 else ""}">{text}</span>'
    return _esc(value)


def _polyline(values: Sequence[float], width: int, height: int, colour: str,
              low: float, high: float) -> str:
    if not values:
        return ""
    span = (high - low) or 1.0
    step = width / max(len(values) - 1, 1)
    points = " ".join(f"{i * step:.1f},{height - (v - low) / span * height:.1f}"
                      for i, v in enumerate(values))
    return f'<polyline fill="none" stroke="{colour}" stroke-width="1.5" points="{points}"/>'


def _curve_svg(title: str, values: Sequence[float], colour: str, *, invert: bool = False) -> str:
    width, height = 900, 200
    if len(values) > 2000:  # one point per pixel is all a reader sees
        stride = len(values) / 2000
        values = [values[int(i * stride)] for i in range(2000)] + [values[-1]]
    low, high = (min(values), max(values)) if values else (0.0, 1.0)
    plotted = [-v for v in values] if invert else list(values)
    if invert:
        low, high = -high, -low
    label = (f'<text x="4" y="14" font-size="12">{_esc(title)}: {_esc(f"{min(values):,.2f}")}'
             f' … {_esc(f"{max(values):,.2f}")}</text>') if values else ""
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height + 20}" '
            f'viewBox="0 -20 {width} {height + 20}" role="img" aria-label="{_esc(title)}">'
            f'{label}{_polyline(plotted, width, height, colour, low, high)}</svg>')


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], left: int = 1) -> str:
    head = "".join(f'<th class="{"l" if i < left else ""}">{_esc(h)}</th>'
                   for i, h in enumerate(headers))
    body = "".join("<tr>" + "".join(f'<td class="{"l" if i < left else ""}">{c}</td>'
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><tr>{head}</tr>{body}</table>"


def _stats_rows(groups: Mapping[str, Mapping[str, Any]]) -> list[list[str]]:
    return [[_esc(name), _num(g["trades"]), _num(g["net_profit"]), _num(g["win_rate"], 3),
             _num(g["profit_factor"], 2), _num(g["commission"]), _num(g["swap"])]
            for name, g in groups.items()]


def _chain_text(entries: Sequence[Mapping[str, Any]]) -> str:
    lines = []
    for entry in entries:
        record = dict(entry.get("record", {}))
        step = record.pop("step", entry.get("kind", ""))
        detail = ", ".join(f"{k}={v}" for k, v in sorted(record.items()) if v not in (None, ""))
        lines.append(f"{step}: {detail}")
    return "\n".join(lines)


def render_report(summary: Mapping[str, Any], trades: Sequence[TradeRow],
                  equity: Sequence[EquityPoint], chains: Mapping[str, Sequence[Mapping[str, Any]]],
                  reviews: Mapping[int, Mapping[str, Any]], title: str) -> str:
    """The page as text. ``chains`` maps a decision id to its journal entries (oldest first),
    ``reviews`` a ticket to the Critic's review record."""
    curve = [p.equity for p in equity]
    headline = [
        ("Trades", _num(summary.get("trades"))), ("Net profit", _num(summary.get("net_profit"))),
        ("Return %", _num(summary.get("return_pct"))),
        ("Max drawdown", _num(summary.get("max_drawdown"))),
        ("Win rate", _num(summary.get("win_rate"), 3)),
        ("Profit factor", _num(summary.get("profit_factor"))),
        ("Sharpe", _num(summary.get("sharpe"))), ("Bars", _num(summary.get("bars"))),
        ("Symbol-bars/s", _num(summary.get("bars_per_second"), 0)),
    ]
    months = summary.get("monthly_returns_pct", {})
    trade_rows = []
    for trade in trades:
        chain = chains.get(trade.decision_id, ())
        review = reviews.get(trade.ticket)
        review_text = (f"score {review.get('score')}: {review.get('analysis', '')}\n"
                       f"lesson: {review.get('lesson', '')}") if review else "no review"
        trade_rows.append([
            _esc(trade.strategy), _esc(trade.symbol), _esc(trade.side), _num(trade.volume),
            _esc(iso_utc(trade.entry_time)), _esc(repr(trade.entry_price)),
            _esc(iso_utc(trade.exit_time)), _esc(repr(trade.exit_price)),
            _esc(trade.exit_reason), _num(trade.net),
            f"<details><summary>{_esc(trade.decision_id or '–')}</summary>"
            f"<pre>{_esc(_chain_text(chain) or 'no journal entries')}</pre>"
            f"<pre>{_esc(review_text)}</pre></details>",
        ])
    stats_head = ["", "trades", "net profit", "win rate", "profit factor", "commission", "swap"]
    parts = [
        "<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_esc(title)}</title><style>{_STYLE}</style></head><body>",
        f"<h1>{_esc(title)}</h1>",
        _table([h for h, _ in headline], [[v for _, v in headline]], left=0),
        "<h2>Equity</h2>", _curve_svg("equity", curve, "#0969da"),
        "<h2>Drawdown</h2>", _curve_svg("drawdown", drawdown_curve(equity), "#cf222e",
                                        invert=True),
        "<h2>Monthly returns (%)</h2>",
        _table(["month", "return %"], [[_esc(m), _num(r)] for m, r in months.items()]),
        "<h2>Per symbol</h2>", _table(stats_head, _stats_rows(summary.get("per_symbol", {}))),
        "<h2>Per strategy</h2>",
        _table(stats_head, _stats_rows(summary.get("per_strategy", {}))),
        "<h2>Research calibration</h2>",
        _table(["confidence", "trades", "wins", "win rate"],
               [[_esc(c["band"]), _num(c["trades"]), _num(c["wins"]), _num(c["win_rate"], 3)]
                for c in summary.get("calibration", [])]),
        "<h2>Why candidates did not trade</h2>",
        _table(["step", "code", "times", "the first time"],
               [[_esc(r["step"]), _esc(r["code"]), _num(r["count"], 0), _esc(r["first"])]
                for r in summary.get("refusals", [])], left=2),
        f"<h2>Trades ({len(trades)})</h2>",
        _table(["strategy", "symbol", "side", "volume", "entry", "entry price", "exit",
                "exit price", "exit reason", "net", "decision chain and review"], trade_rows,
               left=3),
        "</body></html>",
    ]
    return "\n".join(parts) + "\n"


def write_report(path: Path, *args: Any, **kwargs: Any) -> None:
    path.write_text(render_report(*args, **kwargs), encoding="utf-8")
