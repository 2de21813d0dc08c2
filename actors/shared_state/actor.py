"""The SharedState actor: the only writer of ``<data-dir>/state.db``.

It answers every :class:`~messages.commands.StateRequest` with a
:class:`~messages.commands.StateReply` carrying the same request id
(:func:`~actors.shared_state.requests.answer`). A request the store refuses (a bad key, a
value that is not JSON) gets ``ok=False`` and the reason; it never crashes the actor. A
database failure does crash it, on purpose, and its supervisor starts a new one on the same
file. In a backtest (a driven simulated terminal) the store does not wait for the disk on
commits (``KeyValueStore(durable=False)``). Every ``state.prune_interval_s`` (the first pass
5 s after start, or sooner with a shorter interval) it prunes what is older than
``state.retention_days`` of market time and no longer needed
(``actors/shared_state/retention.py``); market time is the broker's clock as its
:class:`~messages.trading.BrokerReady` tells it, and nothing is pruned before that. A
backtest's store is not pruned: its report reads the whole run from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from actors.runtime.base import EnsembleActor, handles
from actors.shared_state.keys import OPERATOR_PREFIX
from actors.shared_state.requests import answer
from actors.shared_state.store import KeyValueStore, Quota
from messages.commands import StateRequest
from messages.trading import BrokerProfile, BrokerReady

__all__ = ["STATE_FILE", "SharedStateActor"]

STATE_FILE = "state.db"
FIRST_PRUNE_AFTER_S = 5.0
SECONDS_PER_DAY = 86_400.0


@dataclass(frozen=True, slots=True)
class _Prune:
    pass


class SharedStateActor(EnsembleActor):
    role = "SharedState"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.store: KeyValueStore | None = None
        self.profile: BrokerProfile | None = None

    def on_configure(self) -> None:
        web = self.settings.web
        # A driven simulated terminal is a backtest's: its data directory is made afresh by
        # every run, so its writes need not wait for the disk (about 2 ms a commit).
        backtest = self.settings.broker.kind == "sim" and self.settings.sim.driven
        self.store = KeyValueStore(
            self.settings.data_path / STATE_FILE,
            quotas=[Quota(OPERATOR_PREFIX, web.ops_max_keys, web.ops_max_value_bytes)],
            durable=not backtest,
        )
        self.log.info("state store open", path=str(self.store.path), durable=not backtest)
        if not backtest:
            # A backtest's store is read whole for its report; pruning on the wall clock would
            # drop the old decisions of a long run, more of them the slower it ran.
            self.after(min(FIRST_PRUNE_AFTER_S, self.settings.state.prune_interval_s), _Prune())

    def on_stop(self) -> None:
        if self.store is not None:
            self.store.close()
            self.store = None

    @handles(_Prune)
    def _on_prune(self, message: _Prune, sender: Any) -> None:
        assert self.store is not None, "SharedState used before Configure"
        state = self.settings.state
        self.after(state.prune_interval_s, _Prune())
        if self.profile is None:
            return  # the broker has not said what time it is on its market: prune nothing
        market_now = self.profile.market_time(self.clock.now())
        pruned = self.store.prune(market_now, state.retention_days * SECONDS_PER_DAY)
        if any(pruned.values()):
            self.log.info("old records pruned", **pruned)

    @handles(BrokerReady)
    def _on_broker_ready(self, message: BrokerReady, sender: Any) -> None:
        if message.profile is not None:
            self.profile = message.profile

    @handles(StateRequest)
    def _on_request(self, request: StateRequest, sender: Any) -> None:
        assert self.store is not None, "SharedState used before Configure"
        self.send(sender, answer(self.store, request))
