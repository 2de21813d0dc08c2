"""The Researcher actor: answers each research request with BUY, SELL or HOLD, a confidence
and a reason, from the market facts and the Critic's lessons for that symbol.

The deterministic analyst is the default; with ``researcher.llm`` set, an OpenAI-compatible
model decides and the analyst is its fallback. Lessons are loaded from the journal at start and
pushed by the Critic after every review, so a restarted Researcher forgets nothing.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from actors.researcher.analyst import analyse
from actors.researcher.llm import LLMAnalyst
from actors.runtime.base import EnsembleActor, handles
from messages.commands import JournalQuery, StateReply
from messages.research import Lesson
from messages.trading import LessonsReply, ResearchReply, ResearchRequest

__all__ = ["ResearcherActor"]

LESSONS_KEPT = 500
LESSON_LOAD_TIMEOUT_S = 5.0


class ResearcherActor(EnsembleActor):
    role = "Researcher"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lessons: dict[int, Lesson] = {}
        self.model: LLMAnalyst | None = None
        self._lessons_loaded = False

    def on_configure(self) -> None:
        llm = self.settings.researcher.llm
        if llm is not None:
            self.model = LLMAnalyst(llm, analyst_params=self.settings.researcher.analyst)
        self._load_lessons()

    def on_peers(self) -> None:
        if not self._lessons_loaded:
            self._load_lessons()

    def _load_lessons(self) -> None:
        self.ask_peer(
            "shared_state",
            lambda request_id: JournalQuery(request_id=request_id, kind="review",
                                            limit=LESSONS_KEPT),
            self._on_reviews,
            timeout=LESSON_LOAD_TIMEOUT_S,
        )

    def _on_reviews(self, reply: StateReply) -> None:
        if not reply.ok:
            return
        self._keep(lesson for entry in reply.value
                   if (lesson := self._read_lesson(entry["record"].get("lesson"))) is not None)
        self._lessons_loaded = True

    def _read_lesson(self, data: Any) -> Lesson | None:
        """A lesson from the journal; None (logged) for a missing or broken one."""
        if not data:
            return None
        try:
            return Lesson.from_record(data)
        except (KeyError, ValueError, TypeError) as error:
            self.log.warning("ignoring a malformed lesson", reason=str(error))
            return None

    def _keep(self, lessons: Iterable[Lesson]) -> None:
        for lesson in lessons:
            self.lessons[lesson.ticket] = lesson
        if len(self.lessons) > LESSONS_KEPT:
            for ticket in sorted(self.lessons)[: len(self.lessons) - LESSONS_KEPT]:
                del self.lessons[ticket]

    @handles(LessonsReply)
    def _on_lessons(self, message: LessonsReply, sender: Any) -> None:
        self._keep(message.lessons)

    @handles(ResearchRequest)
    def _on_research(self, message: ResearchRequest, sender: Any) -> None:
        lessons = list(self.lessons.values())
        if self.model is not None:
            result = self.model.decide(message.facts, lessons, message.now, message.proposed)
        else:
            result = analyse(message.facts, lessons, message.now, message.proposed,
                             self.settings.researcher.analyst)
        self.send(
            sender,
            ResearchReply(
                request_id=message.request_id,
                decision_id=message.decision_id,
                symbol=message.symbol,
                action=result.action,
                confidence=float(result.confidence),
                reason=result.reason,
                source=result.source,
                tokens=result.prompt_tokens + result.completion_tokens,
                latency_ms=result.latency_ms,
                regime=result.regime,
                fallback=result.fallback,
                cost=result.cost,
            ),
        )
