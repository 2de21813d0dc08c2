"""The Critic actor: one post-mortem per closed trade.

For each :class:`~messages.trading.TradeClosed` it reads the decision's chain from the journal
(what the Researcher said and how sure it was), scores the trade, publishes CRITIC_REVIEW,
stores the review in the journal, and gives the lesson to the Researcher. A trade is reviewed
once, across restarts too: the first review claims the ticket with a compare-and-set in
SharedState, and a repeated TradeClosed loses that race.
"""

from __future__ import annotations

import uuid
from typing import Any

from actors.critic.scoring import ClosedTrade, CriticReview, lesson_to_dict, review_trade
from actors.risk.rules import Direction
from actors.runtime.base import EnsembleActor, handles
from actors.strategy.indicators import Regime
from messages.commands import JournalAppend, JournalQuery, StateCompareAndSet, StateReply
from messages.events import CriticReview as CriticReviewEvent
from messages.trading import LessonsReply, TradeClosed

__all__ = ["CriticActor"]

STATE_TIMEOUT_S = 10.0


class CriticActor(EnsembleActor):
    role = "Critic"

    @handles(TradeClosed)
    def _on_trade_closed(self, trade: TradeClosed, sender: Any) -> None:
        self.ask_peer(
            "shared_state",
            lambda request_id: StateCompareAndSet(
                request_id=request_id, key=f"critic.reviewed.{trade.ticket}", expected=None,
                new=True, op_id=uuid.uuid4().hex),
            lambda reply: self._on_claim(trade, reply),
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
                direction=Direction(trade.direction),
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
            decision_id=trade.decision_id or None)])
        record = _review_record(trade, review, research)
        self.ask_peer(
            "shared_state",
            lambda request_id: JournalAppend(request_id=request_id, op_id=f"review-{trade.ticket}",
                                             kind="review", key=trade.symbol, record=record,
                                             decision_id=trade.decision_id),
            lambda reply: None,
            timeout=STATE_TIMEOUT_S,
        )
        researcher = self.peer("researcher")
        if researcher is not None:
            self.send(researcher, LessonsReply("", trade.symbol, (record["lesson"],)))


def _research_of(chain: StateReply) -> dict[str, Any]:
    """The research step of a decision's journal chain (empty when there is none)."""
    if not chain.ok:
        return {}
    for entry in chain.value:
        record = entry["record"]
        if record.get("step") == "research":
            return record
    return {}


def _review_record(trade: TradeClosed, review: CriticReview,
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
        "lesson": lesson_to_dict(review.lesson),
        "confidence": research.get("confidence"),
        "action": research.get("action"),
    }
