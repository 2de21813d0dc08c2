"""The SharedState actor: the only writer of ``<data-dir>/state.db``.

It answers every :class:`~messages.commands.StateRequest` with a
:class:`~messages.commands.StateReply` carrying the same request id. A request the store
refuses (a bad key, a value that is not JSON) gets ``ok=False`` and the reason; it never crashes
the actor. A database failure does crash it, on purpose, and its supervisor starts a new one
on the same file.
"""

from __future__ import annotations

from typing import Any

from actors.runtime.base import EnsembleActor, handles
from actors.shared_state.store import KeyValueStore, StoreError
from messages.commands import (
    JournalAppend,
    JournalQuery,
    StateCompareAndSet,
    StateDelete,
    StateGet,
    StateGetAll,
    StateGetLastUpdate,
    StateIncrement,
    StateReply,
    StateRequest,
    StateSet,
)

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
        try:
            reply = self._answer(request)
        except StoreError as error:
            reply = StateReply(request.request_id, ok=False, error=str(error))
        self.send(sender, reply)

    def _answer(self, request: StateRequest) -> StateReply:
        store = self.store
        assert store is not None, "SharedState used before Configure"
        request_id = request.request_id
        match request:
            case StateSet(key=key, value=value):
                updated_at = store.set(key, value)
                return StateReply(request_id, ok=True, value=value, updated_at=updated_at)
            case StateGet(key=key) | StateGetLastUpdate(key=key):
                stored = store.get(key)
                if stored is None:
                    return StateReply(request_id, ok=True, found=False)
                value = None if isinstance(request, StateGetLastUpdate) else stored.value
                return StateReply(request_id, ok=True, value=value, updated_at=stored.updated_at)
            case StateGetAll(prefix=prefix):
                items = store.get_all(prefix)
                return StateReply(
                    request_id,
                    ok=True,
                    value={key: item.value for key, item in items.items()},
                    extra={"updated_at": {key: item.updated_at for key, item in items.items()}},
                )
            case StateDelete(key=key):
                return StateReply(request_id, ok=True, found=store.delete(key))
            case StateIncrement(key=key, delta=delta, op_id=op_id):
                stored = store.increment(key, delta, op_id)
                return StateReply(request_id, ok=True, value=stored.value,
                                  updated_at=stored.updated_at)
            case JournalAppend(op_id=op_id, kind=kind, key=key, record=record,
                               decision_id=decision_id):
                entry_id = store.journal_append(op_id, kind, key, record, decision_id)
                return StateReply(request_id, ok=True, value=entry_id)
            case JournalQuery(kind=kind, key=key, decision_id=decision_id, after_id=after_id,
                              limit=limit):
                entries = store.journal_query(kind, key, decision_id, after_id, limit)
                return StateReply(request_id, ok=True, value=entries)
            case StateCompareAndSet(key=key, expected=expected, new=new, op_id=op_id):
                swapped, current = store.compare_and_set(key, expected, new, op_id)
                return StateReply(request_id, ok=swapped, value=current)
        raise StoreError(f"unknown request {type(request).__name__}")
