"""The SharedState actor: the only writer of ``<data-dir>/state.db``.

It answers every :class:`~messages.commands.StateRequest` with a
:class:`~messages.commands.StateReply` carrying the same request id
(:func:`~actors.shared_state.requests.answer`). A request the store refuses (a bad key, a
value that is not JSON) gets ``ok=False`` and the reason; it never crashes the actor. A
database failure does crash it, on purpose, and its supervisor starts a new one
on the same file.
"""

from __future__ import annotations

from typing import Any

from actors.runtime.base import EnsembleActor, handles
from actors.shared_state.requests import answer
from actors.shared_state.store import KeyValueStore
from messages.commands import StateRequest

__all__ = ["STATE_FILE", "SharedStateActor"]

STATE_FILE = "state.db"


class SharedStateActor(EnsembleActor):
    role = "SharedState"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.store: KeyValueStore | None = None

    def on_configure(self) -> None:
        self.store = KeyValueStore(self.settings.data_path / STATE_FILE)
        self.log.info("state store open", path=str(self.store.path))

    def on_stop(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    @handles(StateRequest)
    def _on_request(self, request: StateRequest, sender: Any) -> None:
        assert self.store is not None, "SharedState used before Configure"
        self.send(sender, answer(self.store, request))
