"""The Critic actor: one post-mortem per closed trade.

For each :class:`~messages.trading.TradeClosed` it reads the decision's chain from the journal
(what the Researcher said and how sure it was), scores the trade, publishes CRITIC_REVIEW,
stores the review in the journal, and gives the lesson to the Researcher. A trade is reviewed
once, across restarts too: the first review claims the ticket with a compare-and-set in
SharedState, and a repeated TradeClosed loses that race. A claim names the Critic incarnation
that made it, so a successor can take over a claim whose review was never written.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from actors.critic.scoring import ClosedTrade, Review, review_trade
from actors.runtime.base import EnsembleActor, handles
from actors.shared_state.keys import review_op_id
from messages.commands import JournalAppend, JournalQuery, StateCompareAndSet, StateReply
from messages.events import CriticReview as CriticReviewEvent
from messages.market import Side
from messages.research import Regime
from messages.trading import LessonsReply, TradeClosed

__all__ = ["CriticActor"]

STATE_TIMEOUT_S = 10.0
CATCH_UP_INTERVAL_S = 10.0
CATCH_UP_WINDOW = 200


@dataclass(frozen=True, slots=True)
class _CatchUp:
    pass


class CriticActor(EnsembleActor):
    """Also catches up: a TradeClosed sent while the Critic was restarting is lost, so every
    few seconds it reviews the journalled trades that have no review yet (the claim makes a
    second review of the same trade impossible)."""

    role = "Critic"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.instance = uuid.uuid4().hex  # whose claim a claim is

    def on_configure(self) -> None:
        if not self.market_driven:  # a backtest restarts no actor: no TradeClosed is lost
            self.after(1.0, _CatchUp())

    @handles(_CatchUp)
    def _on_catch_up(self, message: _CatchUp, sender: Any) -> None:
        self.after(CATCH_UP_INTERVAL_S, _CatchUp())
        self.ask_peer(
            "shared_state",
            lambda rid: JournalQuery(request_id=rid, kind="trade", limit=CATCH_UP_WINDOW),
            self._on_recent_trades, timeout=STATE_TIMEOUT_S)

    def _on_recent_trades(self, trades: StateReply) -> None:
        if not trades.ok or not trades.value:
            return
        self.ask_peer(
            "shared_state",
            lambda rid: JournalQuery(request_id=rid, kind="review", limit=CATCH_UP_WINDOW * 2),
            lambda reviews: self._review_missing(trades.value, reviews), timeout=STATE_TIMEOUT_S)

    def _review_missing(self, trades: list[dict[str, Any]], reviews: StateReply) -> None:
        if not reviews.ok:
            return
        reviewed = {entry["record"].get("ticket") for entry in reviews.value}
        for entry in trades:
            record = entry["record"]
            if record.get("ticket") in reviewed:
                continue
            try:
                trade = TradeClosed(**record)
            except TypeError as error:
                self.log.warning("unreadable trade in the journal", reason=str(error))
                continue
            self._claim(trade, expected=None, take_over=True)

    @handles(TradeClosed)
    def _on_trade_closed(self, trade: TradeClosed, sender: Any) -> None:
        self._claim(trade, expected=None, take_over=False)

    def _claim(self, trade: TradeClosed, expected: Any, take_over: bool) -> None:
        """Claim the trade for this incarnation. With ``take_over``, a claim left by an earlier
        incarnation (which died before writing its review) is taken over."""
        mine = {"by": self.instance}

        def claimed(reply: StateReply) -> None:
            current = reply.value
            if (not reply.ok and reply.error is None and take_over and expected is None
                    and isinstance(current, dict) and current.get("by") != self.instance):
                self._claim(trade, expected=current, take_over=False)
                return
            self._on_claim(trade, reply)

        self.ask_peer(
            "shared_state",
            lambda request_id: StateCompareAndSet(
                request_id=request_id, key=f"critic.reviewed.{trade.ticket}", expected=expected,
                new=mine, op_id=uuid.uuid4().hex),
            claimed,
            timeout=STATE_TIMEOUT_S,
            on_timeout=lambda: self._retry_later(trade),
        )

    def _retry_later(self, trade: TradeClosed) -> None:
        self.log.warning("SharedState did not answer; review postponed", ticket=trade.ticket)
        self.after(STATE_TIMEOUT_S, trade)

    def _on_claim(self, trade: TradeClosed, reply: StateReply) -> None:
        if not reply.ok:
            return  # reviewed already (or claimed by an earlier incarnation)
        if not trade.decision_id:
            self._review(trade, {})
            return
        self.ask_peer(
            "shared_state",
            lambda request_id: JournalQuery(request_id=request_id,
                                            decision_id=trade.decision_id, limit=50),
            lambda chain: self._review(trade, _research_of(chain)),
            timeout=STATE_TIMEOUT_S,
            on_timeout=lambda: self._review(trade, {}),
        )

    def _review(self, trade: TradeClosed, research: dict[str, Any]) -> None:
        regime = research.get("regime")
        review = review_trade(
            ClosedTrade(
                ticket=trade.ticket,
                symbol=trade.symbol,
                direction=Side(trade.direction),
                entry_price=trade.entry_price,
                exit_price=trade.exit_price,
                stop_loss=trade.sl or None,
                take_profit=trade.tp or None,
                volume=trade.volume,
                profit=trade.profit + trade.commission + trade.swap,
                mae_price=trade.max_adverse_price,
                mfe_price=trade.max_favourable_price,
                research_confidence=research.get("confidence"),
                research_action=research.get("action"),
                regime=Regime(regime) if regime else None,
                opened_at=trade.opened_at,
                closed_at=trade.closed_at,
            ),
            self.settings.critic.scoring,
            now=trade.closed_at,
        )
        self.publish([CriticReviewEvent(
            timestamp=self.now_iso(), symbol=trade.symbol, score=review.score,
            lesson=review.lesson.advice, analysis=review.analysis, ticket=trade.ticket,
            decision_id=trade.decision_id or None, strategy=str(research.get("strategy") or ""))])
        record = _review_record(trade, review, research)
        self.ask_peer(
            "shared_state",
            lambda request_id: JournalAppend(
                request_id=request_id, op_id=review_op_id(trade.ticket), kind="review",
                key=trade.symbol, record=record, decision_id=trade.decision_id),
            lambda reply: None,
            timeout=STATE_TIMEOUT_S,
        )
        researcher = self.peer("researcher")
        if researcher is not None:
            self.send(researcher, LessonsReply("", trade.symbol, (review.lesson,)))


def _research_of(chain: StateReply) -> dict[str, Any]:
    """The research step of a decision's journal chain (empty when there is none)."""
    if not chain.ok:
        return {}
    for entry in chain.value:
        record = entry["record"]
        if record.get("step") == "research":
            return record
    return {}


def _review_record(trade: TradeClosed, review: Review,
                   research: dict[str, Any]) -> dict[str, Any]:
    return {
        "ticket": trade.ticket,
        "symbol": trade.symbol,
        "direction": trade.direction,
        "entry_price": trade.entry_price,
        "exit_price": trade.exit_price,
        "profit": trade.profit + trade.commission + trade.swap,
        "volume": trade.volume,
        "opened_at": trade.opened_at,
        "closed_at": trade.closed_at,
        "exit_reason": trade.exit_reason,
        "score": review.score,
        "outcome": review.outcome.value,
        "r_multiple": review.r_multiple,
        "analysis": review.analysis,
        "lesson": review.lesson.to_record(),
        "confidence": research.get("confidence"),
        "action": research.get("action"),
        "strategy": research.get("strategy") or "",
    }
