"""What the Strategy, the Researcher and the Critic tell each other about a trade idea.

The Strategy hands the Researcher a candidate's closed-bar facts (:class:`MarketFacts`); the
Researcher answers BUY, SELL or HOLD (:class:`Action`) in a market :class:`Regime`; the Critic
files a :class:`Lesson` from each closed trade's :class:`TradeOutcome`, which the Researcher
weighs next time. Each is defined here once, so no role imports another's modules for them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from messages.market import Side

__all__ = ["Action", "Lesson", "MarketFacts", "Regime", "TradeOutcome"]


class Regime(StrEnum):
    """The market condition the Researcher reasons about and the Critic files lessons under."""

    TREND = "TREND"
    RANGE = "RANGE"
    VOLATILE = "VOLATILE"


class Action(StrEnum):
    """The Researcher's answer to a candidate."""

    BUY = "BUY"
    SELL = "SELL"
    HOLD = "HOLD"

    @property
    def direction(self) -> Side | None:
        return None if self is Action.HOLD else Side(self.value)


class TradeOutcome(StrEnum):
    WIN = "WIN"
    LOSS = "LOSS"
    BREAKEVEN = "BREAKEVEN"


@dataclass(frozen=True, slots=True)
class MarketFacts:
    """Closed-bar indicator values the Researcher reasons from. ``trends`` maps a timeframe to
    +1 (close above SMA50 by the band), −1 (below) or 0."""

    symbol: str
    close: float
    atr: float
    atr_mean: float
    adx: float
    plus_di: float
    minus_di: float
    rsi: float
    bollinger_upper: float
    bollinger_middle: float
    bollinger_lower: float
    trends: dict[str, int]
    buy_score: int
    sell_score: int
    regime: Regime


@dataclass(frozen=True, slots=True)
class Lesson:
    """What to remember from one trade, for the same symbol, regime and direction."""

    ticket: int
    symbol: str
    regime: Regime | None
    direction: Side
    outcome: TradeOutcome
    r_multiple: float | None
    score: float
    advice: str
    created_at: float | None = None

    def to_record(self) -> dict[str, Any]:
        """The lesson as the journal keeps it (JSON)."""
        return {
            "ticket": self.ticket,
            "symbol": self.symbol,
            "regime": None if self.regime is None else self.regime.value,
            "direction": self.direction.value,
            "outcome": self.outcome.value,
            "r_multiple": self.r_multiple,
            "score": self.score,
            "advice": self.advice,
            "created_at": self.created_at,
        }

    @classmethod
    def from_record(cls, data: Mapping[str, Any]) -> Lesson:
        """A lesson read back from the journal; KeyError, ValueError or TypeError if broken."""
        regime = data.get("regime")
        r_multiple = data.get("r_multiple")
        created = data.get("created_at")
        return cls(
            ticket=int(data["ticket"]),
            symbol=str(data["symbol"]),
            regime=None if regime is None else Regime(regime),
            direction=Side(data["direction"]),
            outcome=TradeOutcome(data["outcome"]),
            r_multiple=None if r_multiple is None else float(r_multiple),
            score=float(data["score"]),
            advice=str(data["advice"]),
            created_at=None if created is None else float(created),
        )
