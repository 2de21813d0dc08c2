"""Fault switches of the simulated terminal: the failures a real MT5 set-up throws at a bot.

:class:`FaultConfig` is a frozen dataclass the configuration system fills from ``sim.faults.*``
keys; every switch defaults to "off". A running terminal holds a :class:`FaultInjector`, whose
switches can be flipped at run time (``SimTerminal.set_faults``), and whose random draws (requote
and off-quote rates) come from a seeded generator, so a run with faults is reproducible too.

What each switch does (codes from reference mt5_api.md §3 and §7.4):

- ``disconnect``: every call fails, ``None``/``False`` with ``(-10004, 'No IPC connection')``.
- ``ipc_timeout``: every call fails with ``(-10005, 'IPC timeout')``.
- ``call_delay_s``: every call first sleeps this long on the wall clock (a slow or hung
  terminal; lets the gateway's per-call timeout fire), 0..600 seconds. Lowering it releases the
  calls already held.
- ``requote_rate`` / ``price_off_rate``: that share (0..1) of market orders gets retcode 10004
  (with fresh bid/ask) / 10021.

Values out of range (or of the wrong type) raise a ValueError naming the switch, the value and
what is allowed, whether they come from the configuration or from ``set``.
- ``algo_trading_off``: the terminal's Algo Trading button is off: ``terminal_info().
  trade_allowed`` is False and every trade request gets 10027.
- ``no_money``: every order that would open a position gets 10019.
- ``trade_server_down``: ``terminal_info().connected`` is False, trade requests get 10031.
- ``timeout_after_execution``: trade requests execute (the position exists) but the caller
  gets ``None`` and ``(-10005, 'IPC timeout')`` — the ambiguous outcome a broker adapter must
  resolve by reading the terminal, never by resending.
- ``frozen_position_requests``: the next that many closes or stop changes of a position get
  10029, as a real server answers while the price is within the freeze level of the
  position's stop or target, until the price moves away or the stop is hit; counting down to
  0 (0..1000).
- ``position_history_timeouts``: the next that many history reads of one position
  (``history_deals_get(position=…)``, ``history_orders_get(position=…)``) fail with
  ``(-10005, 'IPC timeout')``, counting down to 0 (0..1000): one call failing in the middle of a
  poll that otherwise succeeds.
"""

from __future__ import annotations

import dataclasses
import threading
import time
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["FAULT_RANGES", "MAX_CALL_DELAY_S", "FaultConfig", "FaultInjector"]

MAX_CALL_DELAY_S = 600.0
"""The longest injected call delay: ten minutes is a hung terminal; more would only overflow."""
FAULT_RANGES: dict[str, tuple[float, float, str]] = {  # switch: (low, high, unit)
    "call_delay_s": (0.0, MAX_CALL_DELAY_S, " seconds"),
    "requote_rate": (0.0, 1.0, ""),
    "price_off_rate": (0.0, 1.0, ""),
    "position_history_timeouts": (0, 1000, " calls"),
    "frozen_position_requests": (0, 1000, " requests"),
}


@dataclass(frozen=True, slots=True)
class FaultConfig:
    """Which failures to inject; all off by default."""

    disconnect: bool = False
    ipc_timeout: bool = False
    call_delay_s: float = 0.0
    requote_rate: float = 0.0
    price_off_rate: float = 0.0
    algo_trading_off: bool = False
    no_money: bool = False
    trade_server_down: bool = False
    timeout_after_execution: bool = False
    position_history_timeouts: int = 0
    frozen_position_requests: int = 0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if field.name in FAULT_RANGES:
                low, high, unit = FAULT_RANGES[field.name]
                kinds = (int,) if isinstance(field.default, int) else (int, float)
                number = isinstance(value, kinds) and not isinstance(value, bool)
                if not (number and low <= value <= high):  # NaN fails both comparisons
                    raise ValueError(
                        f"sim.faults.{field.name} must be within {low:g}..{high:g}{unit}, "
                        f"got {value!r}"
                    )
            elif not isinstance(value, bool):
                raise ValueError(f"sim.faults.{field.name} must be true or false, got {value!r}")


class FaultInjector:
    """The live fault switches of one terminal, with a seeded source for the random ones."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self._config = config
        self._rng = np.random.default_rng([int(seed), 0xFA017])
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)

    @property
    def config(self) -> FaultConfig:
        return self._config

    def set(self, config: FaultConfig | None = None, **changes: Any) -> FaultConfig:
        """Replace the switches with ``config``, or change some of them by name."""
        with self._lock:
            base = config if config is not None else self._config
            self._config = dataclasses.replace(base, **changes) if changes else base
            self._changed.notify_all()
            return self._config

    def delay_call(self) -> None:
        """Hold a call for ``call_delay_s`` of wall time, as a slow or hung terminal does; a
        call already held is released as soon as the switch is lowered (the terminal
        recovers), so lowering it to 0 lets every waiting call through."""
        started = time.monotonic()
        with self._changed:
            while (remaining := self._config.call_delay_s - (time.monotonic() - started)) > 0:
                self._changed.wait(remaining)

    def take(self, counter: str) -> bool:
        """Whether the count-down switch ``counter`` fires for this call (it then counts one
        down)."""
        with self._lock:
            left = getattr(self._config, counter)
            if left <= 0:
                return False
            self._config = dataclasses.replace(self._config, **{counter: left - 1})
            return True

    def clear(self) -> FaultConfig:
        return self.set(FaultConfig())

    def roll(self, rate: float) -> bool:
        """True with probability ``rate`` (never draws when the rate is 0 or 1)."""
        if rate <= 0.0:
            return False
        if rate >= 1.0:
            return True
        with self._lock:
            return bool(self._rng.random() < rate)
