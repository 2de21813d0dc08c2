"""The built-in strategy: the seed's multi-timeframe confluence, written against the public API.

Per direction, +1 for each of M5, H1 and H4 whose close is beyond its SMA50 by the band that
way, +1 when ADX is above its threshold; the gates (session, news, spread, data, dead market)
come first. The logic is :func:`actors.strategy.signals.scan_symbol`; this class only adapts
it to :class:`~actors.strategy.api.Strategy`, so the built-in is one strategy among others.
Its parameters are the ``strategy.signals`` section of the configuration.
"""

from __future__ import annotations

from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from actors.strategy.api import Market, NoSignal, Signal, Strategy
from actors.strategy.signals import SignalParams, SymbolMarket, scan_symbol

__all__ = ["Confluence", "ConfluenceParams"]


class ConfluenceParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    signals: SignalParams = SignalParams()


class Confluence(Strategy):
    name = "Confluence"
    Params = ConfluenceParams
    timeframes: ClassVar[tuple[str, ...]] = ("M1", "M5", "H1", "H4")

    @classmethod
    def params_from(cls, section: dict[str, Any], settings: Any) -> BaseModel:
        """Its parameters live where they always have: ``strategy.signals``."""
        if section:
            raise ValueError(f"the built-in {cls.name} takes its parameters from "
                             f"strategy.signals, not from strategy.params.{cls.name} "
                             f"(got {sorted(section)})")
        return ConfluenceParams(signals=settings.strategy.signals)

    def scan(self, market: Market) -> Signal | NoSignal:
        params: SignalParams = self.params.signals  # type: ignore[attr-defined]
        result = scan_symbol(
            SymbolMarket(symbol=market.symbol, bid=market.bid, ask=market.ask,
                         point=market.point, bars=market.bars, news_blackout=False),
            market.now, params)
        if not result.is_candidate or result.direction is None:
            return NoSignal(result.reason)
        if result.sl_distance is None or result.tp_distance is None:
            return NoSignal(f"ERROR: {market.symbol}: a candidate without stop distances")
        return Signal(result.direction, result.sl_distance, result.tp_distance, result.reason,
                      score=float(result.score), facts=result.facts)
