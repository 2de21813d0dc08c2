"""A simulated MetaTrader 5 terminal: the real module's surface over a seeded market.

- ``config``: :class:`SimConfig` (and ``faults.FaultConfig``), filled from ``sim.*`` keys.
- ``module``: :func:`create_sim_module` builds a ``MetaTrader5``-shaped module for a config, a
  data directory and a clock; :func:`register_module` makes ``import MetaTrader5`` return it.
- ``terminal``: :class:`SimTerminal`, the account behind the module's functions, put together
  from ``checks`` (request rules), ``planning`` (requests into changes), ``triggers`` (SL/TP,
  pending orders, swaps, stop-out), ``pricing`` (conversion, margin, P&L), ``books`` (positions,
  orders, history) and ``views`` (records as structs); ``errors``: how calls fail.
- ``server_clock``: ``sim.server_time``, the server's UTC offset at each instant;
  :func:`server_utc_offset_at` turns it into seconds for other roles.
- ``market``: prices; ``universe``: instruments; ``store``: ``sim.db``; ``replay``: MT5 CSV
  bars; ``rpyc_server``: the terminal served over RPyC, as mt5linux expects.
"""

from __future__ import annotations

from actors.broker.sim.config import SimConfig
from actors.broker.sim.faults import FaultConfig
from actors.broker.sim.module import create_sim_module, register_module, unregister_module
from actors.broker.sim.server_clock import server_utc_offset_at
from actors.broker.sim.terminal import SimTerminal

__all__ = [
    "FaultConfig",
    "SimConfig",
    "SimTerminal",
    "create_sim_module",
    "register_module",
    "server_utc_offset_at",
    "unregister_module",
]
