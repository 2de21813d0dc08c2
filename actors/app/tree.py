"""Ensemble's supervision tree (DESIGN.md §1): the root's subtrees and their child specs.

The core supervisor runs the services everything else needs: SharedState, Broadcaster and the
WebFront. It is one_for_one: each of them rebuilds its state on its own after a restart, and
peers get the new address from the directory, so one failing service need not take the others
(and every dashboard connection) down with it.

The trading supervisor runs the trading roles, rest_for_one in dependency order: when the
broker restarts, the roles after it restart too, because they hold state derived from it and
must not trade until it has reconciled. The strategies come last, under a supervisor of their
own that isolates them from each other.
"""

from __future__ import annotations

from actors.notify.config import notify_enabled
from actors.runtime.restart_policy import ChildSpec
from actors.runtime.root import RootSupervisor
from actors.runtime.supervisor import Supervisor
from actors.strategy.loader import load_strategies, strategy_child_name

__all__ = [
    "CORE_CHILDREN",
    "NOTIFIER",
    "ROOT_CLASS",
    "TRADING_CHILDREN",
    "CoreSupervisor",
    "EnsembleRoot",
    "StrategiesSupervisor",
    "TradingSupervisor",
]

ROOT_CLASS = "actors.app.tree.EnsembleRoot"

CORE_CHILDREN: tuple[ChildSpec, ...] = (
    ChildSpec("shared_state", "actors.shared_state.actor.SharedStateActor", "SharedState"),
    ChildSpec("broadcaster", "actors.broadcaster.actor.BroadcasterActor", "Broadcaster"),
    ChildSpec("web_front", "web.front.WebFrontActor", "WebFront"),
)

# Started only when a Telegram chat or a webhook is configured (``[notify]``).
NOTIFIER = ChildSpec("notify", "actors.notify.actor.NotifierActor", "Notifier")

TRADING_CHILDREN: tuple[ChildSpec, ...] = (
    ChildSpec("broker", "actors.broker.actor.MT5BrokerActor", "MT5Broker"),
    ChildSpec("risk", "actors.risk.actor.RiskManagerActor", "RiskManager"),
    ChildSpec("researcher", "actors.researcher.actor.ResearcherActor", "Researcher"),
    ChildSpec("critic", "actors.critic.actor.CriticActor", "Critic"),
    ChildSpec("strategies", "actors.app.tree.StrategiesSupervisor", "StrategiesSupervisor",
              is_supervisor=True),
)


class CoreSupervisor(Supervisor):
    role = "CoreSupervisor"
    strategy = "one_for_one"

    def child_specs(self) -> list[ChildSpec]:
        notifier = [NOTIFIER] if notify_enabled(self.settings.notify) else []
        return [*CORE_CHILDREN, *notifier]


class TradingSupervisor(Supervisor):
    role = "TradingSupervisor"
    strategy = "rest_for_one"

    def child_specs(self) -> list[ChildSpec]:
        return list(TRADING_CHILDREN)


class EnsembleRoot(RootSupervisor):
    """The root of Ensemble's tree: the core services first, then the trading roles."""

    def child_specs(self) -> list[ChildSpec]:
        return [
            ChildSpec("core", "actors.app.tree.CoreSupervisor", "CoreSupervisor",
                      is_supervisor=True),
            ChildSpec("trading", "actors.app.tree.TradingSupervisor", "TradingSupervisor",
                      is_supervisor=True),
        ]


class StrategiesSupervisor(Supervisor):
    """One Strategy actor per configured strategy. Strategies are independent of each other:
    each has its own restart intensity, and one that keeps failing is left stopped while the
    others trade on (risk is shared through the one RiskManager)."""

    role = "StrategiesSupervisor"
    strategy = "one_for_one"
    isolate_children = True

    def child_specs(self) -> list[ChildSpec]:
        loaded = load_strategies(self.settings.strategy.plugins, self.settings.strategy.params,
                                 self.settings)
        return [ChildSpec(strategy_child_name(item.name), "actors.strategy.actor.StrategyActor",
                          "Strategy") for item in loaded]
