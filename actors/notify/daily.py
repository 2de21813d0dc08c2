"""The daily summary: the broker day's figures as the RiskManager reports them, and the end of
that day noticed when the day it reports changes. Pure, no actor.

The RiskManager's ``RiskStatus.day`` names the broker day (its rollover follows the trade
server's clock, DST included) and holds the day's realised P&L and trade count. The notifier
asks for it on a timer; :class:`DayWatch` keeps the latest figures of the current day and,
when a later status names another day, returns the summary of the one that ended, with the
wins and losses of the trades it saw close meanwhile.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from actors.notify.notices import Notice, money
from messages.trading import RiskDay

__all__ = ["DayTally", "DayWatch", "day_text"]


@dataclass(slots=True)
class DayTally:
    wins: int = 0
    losses: int = 0
    best: float | None = None
    worst: float | None = None

    def add(self, profit: float) -> None:
        if profit > 0:
            self.wins += 1
        elif profit < 0:
            self.losses += 1
        self.best = profit if self.best is None else max(self.best, profit)
        self.worst = profit if self.worst is None else min(self.worst, profit)

    def words(self, currency: str = "") -> str:
        if self.best is None:
            return "no trade closed while the notifier watched"
        return (f"{self.wins} won, {self.losses} lost; best {money(self.best, currency)}, "
                f"worst {money(self.worst, currency)}")


def day_text(day: RiskDay, currency: str = "") -> str:
    """The RiskManager's day figures in one line."""
    parts = [f"realised {money(day.realised, currency)}", f"{day.trades} trade(s)"]
    if day.open_risk is not None:
        parts.append(f"open risk {day.open_risk:.2f}")
    if day.loss_limit is not None:
        remaining = day.remaining
        parts.append(f"loss limit {day.loss_limit:.2f}"
                     + (f" ({remaining:.2f} left)" if remaining is not None else ""))
    return ", ".join(parts)


@dataclass(slots=True)
class DayWatch:
    day: str | None = None
    figures: RiskDay | None = None
    tally: DayTally = field(default_factory=DayTally)

    def closed(self, profit: Any) -> None:
        try:
            self.tally.add(float(profit))
        except (TypeError, ValueError):
            return

    def observe(self, day: RiskDay, equity: float | None = None,
                currency: str = "") -> Notice | None:
        """The RiskManager's latest ``day``; the summary of the previous day once it ended."""
        if self.figures is None or day.broker_day == self.day:
            self.day, self.figures = day.broker_day, day
            return None
        ended, figures, tally = self.day, self.figures, self.tally
        self.day, self.figures, self.tally = day.broker_day, day, DayTally()
        text = (f"📅 Broker day {ended} ended: {day_text(figures, currency)}; "
                f"{tally.words(currency)}.")
        if equity is not None:
            text += f" Equity {equity:,.2f}{' ' + currency if currency else ''}."
        return Notice("daily", text, {"day": ended, **dataclasses.asdict(figures),
                                      "wins": tally.wins, "losses": tally.losses,
                                      "equity": equity})
