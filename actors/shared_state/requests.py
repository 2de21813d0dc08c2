"""SharedState's requests answered against a store: one pure function, so that the actor only
receives and replies, and anything else that holds a store (the web front's unit tests) gets
the same answers.

A request the store refuses (a bad key, a value that is not JSON) is answered ``ok=False`` with
the reason; a database failure is raised, for the caller to crash on.
"""

from __future__ import annotations

from actors.shared_state.store import KeyValueStore, OpIdReused, StoredValue, StoreError
from messages.commands import (
    JournalAppend,
    JournalQuery,
    StateCompareAndSet,
    StateDelete,
    StateGet,
    StateGetAll,
    StateGetLastUpdate,
    StateGetLive,
    StateIncrement,
    StateReply,
    StateRequest,
    StateSet,
)

__all__ = ["answer"]


def answer(store: KeyValueStore, request: StateRequest) -> StateReply:
    """The reply to ``request``, with the request's id."""
    try:
        return _answer(store, request)
    except StoreError as error:
        return StateReply(request.request_id, ok=False, error=str(error),
                          extra={"conflict": True} if isinstance(error, OpIdReused) else {})


def _answer(store: KeyValueStore, request: StateRequest) -> StateReply:
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
        case StateGetAll(prefix=prefix, after=after, limit=limit):
            return _items(request_id, store.get_all(prefix, after, limit))
        case StateGetLive(keys=keys, recent_s=recent_s):
            return _items(request_id, store.get_live(keys, recent_s))
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
                          limit=limit, closed_since=since, closed_until=until, op_ids=op_ids):
            entries = store.journal_query(kind, key, decision_id, after_id, limit, since, until,
                                          tuple(op_ids))
            return StateReply(request_id, ok=True, value=entries)
        case StateCompareAndSet(key=key, expected=expected, new=new, op_id=op_id):
            swapped, current = store.compare_and_set(key, expected, new, op_id)
            return StateReply(request_id, ok=swapped, value=current)
    raise StoreError(f"unknown request {type(request).__name__}")


def _items(request_id: str, items: dict[str, StoredValue]) -> StateReply:
    return StateReply(
        request_id,
        ok=True,
        value={key: item.value for key, item in items.items()},
        extra={"updated_at": {key: item.updated_at for key, item in items.items()}},
    )
