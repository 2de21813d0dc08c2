"""The broker layer: one gateway adapter for the simulated terminal, MetaTrader5 and mt5linux.

``gateway`` holds the adapter and its factory, ``records`` the plain records it returns,
``retcodes`` the classification of trade results, and ``sim`` the simulated MT5 terminal. The
MT5Broker actor (written on top of these) is the only caller of the gateway.
"""

from __future__ import annotations

__all__: list[str] = []
