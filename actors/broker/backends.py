"""The broker's kinds behind one interface: the simulated terminal, ``MetaTrader5`` and
``mt5linux``.

The MT5Broker actor never asks which kind it runs: :func:`make_backend` builds a
:class:`BrokerBackend` from the settings once, and everything that differs between kinds is
answered by it — how to open the gateway and log in, which account to expect, which symbols
make the universe, the market clock (the simulator's runs ``sim.speed`` times faster and
survives restarts), whether a failed connection keeps its terminal (the simulated one keeps its
books and fault switches), how long an order may still be in flight after a timeout, and the
fault switches. :meth:`BrokerBackend.profile` is what the other roles learn of the broker
(:class:`~messages.trading.BrokerProfile`), so none of them branches on the kind either.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any

from actors.broker.gateway import Gateway, open_gateway
from actors.broker.reconcile import trade_mode_name
from actors.broker.sim_clock import MARKET_TIME_FILE, MarketTimeFile, resume_sim_clock
from actors.runtime.clock import Clock, SimClock, WallClock
from messages.books import AccountRecord
from messages.server_time import ServerTime, parse_server_time
from messages.trading import BrokerProfile

__all__ = ["BrokerBackend", "Credentials", "SimBackend", "TerminalBackend", "make_backend"]


@dataclass(frozen=True, slots=True)
class Credentials:
    """What ``initialize()`` is called with (None: not given)."""

    path: str | None = None
    login: int | None = None
    password: str | None = None
    server: str | None = None


class BrokerBackend:
    """What differs between broker kinds. Subclasses: :class:`SimBackend`,
    :class:`TerminalBackend`."""

    kind: str = ""
    keeps_terminal_on_failure = False
    """After a failed connection, keep the gateway and retry ``connect`` on it."""

    def __init__(self, settings: Any) -> None:
        self.settings = settings
        self.market_clock: Clock = WallClock()

    # --- connecting ----------------------------------------------------------------------

    def open_gateway(self) -> Gateway:
        raise NotImplementedError

    def credentials(self) -> Credentials:
        """The password comes from ``broker.password_env`` (the simulated terminal checks it
        when ``sim.password_env`` is set, and accepts any otherwise)."""
        return Credentials(password=os.environ.get(self.settings.broker.password_env) or None)

    @property
    def expected_login(self) -> int | None:
        return None

    @property
    def expected_server(self) -> str | None:
        return None

    def universe(self, gateway: Gateway) -> tuple[str, ...]:
        """The symbols the broker serves when a request names none."""
        configured = tuple(self.settings.strategy.symbols)
        for symbol in configured:
            gateway.select_symbol(symbol)
        return configured or tuple(spec.name for spec in gateway.symbols() if spec.visible)

    # --- orders and time -----------------------------------------------------------------

    @property
    def in_flight_s(self) -> float:
        """How long after it was begun an order of unknown outcome may still execute."""
        return float(self.settings.broker.order_timeout_s)

    def server_offset_hint(self, gateway: Gateway | None) -> int | None:
        """The server's UTC offset when the backend knows it without ticks (None: it does not)."""
        return None

    def server_clock_rule(self) -> ServerTime | None:
        """The server's declared clock rule, for the switches before the first measured offset
        (``broker.server_time``; None: none declared)."""
        setting = self.settings.broker.server_time
        return parse_server_time(setting, "broker.server_time") if setting else None

    def save_market_time(self, force: bool = False) -> None:
        """Remember the market time across restarts (a no-op on live time)."""

    # --- fault switches ------------------------------------------------------------------

    def fault_terminal(self, gateway: Gateway | None) -> Any:
        """The terminal whose fault switches may be set (None: it has none, or is not open)."""
        return None

    @property
    def has_fault_switches(self) -> bool:
        return False

    # --- what others learn ---------------------------------------------------------------

    @property
    def speed(self) -> float:
        return 1.0

    @property
    def market_epoch(self) -> tuple[float, float] | None:
        """Where the market clock stands against the wall clock (None: it is the wall clock)."""
        return None

    @property
    def commission_per_lot(self) -> float | None:
        """Round-turn commission per lot as configured; None (unknown) otherwise: a real
        terminal does not say, and the cost rule must not assume zero."""
        configured = self.settings.broker.commission_per_lot
        return float(configured) if configured is not None else None

    def profile(self, *, connected: bool, account: AccountRecord | None,
                server_utc_offset_s: int,
                server_offset_history: tuple[tuple[float, float, int], ...] = ()
                ) -> BrokerProfile:
        return BrokerProfile(
            kind=self.kind, connected=connected,
            server=account.server if account else "",
            company=account.company if account else "",
            account=account.login if account else 0,
            currency=account.currency if account else "",
            trade_mode=trade_mode_name(account.trade_mode) if account else "",
            server_utc_offset_s=int(server_utc_offset_s),
            server_offset_history=tuple(server_offset_history), speed=self.speed,
            market_epoch=self.market_epoch,
            commission_per_lot=self.commission_per_lot,
            fault_switches=self.has_fault_switches,
        )  # fmt: skip

    def common_gateway_options(self) -> dict[str, Any]:
        broker = self.settings.broker
        return {
            "call_timeout": broker.call_timeout_s,
            "order_timeout": broker.order_timeout_s,
            "clock": self.market_clock,
            "max_slippage_points": broker.max_slippage_points,
            # Opened without connecting, so the gateway (and the simulated terminal with its
            # fault switches) stays when initialize fails; connect() is retried on it.
            "connect": False,
        }


class SimBackend(BrokerBackend):
    """The simulated terminal, in the broker's own process, on ``<data-dir>/sim.db``."""

    kind = "sim"
    keeps_terminal_on_failure = True

    def __init__(self, settings: Any) -> None:
        super().__init__(settings)
        self.market_time_file = MarketTimeFile(settings.data_path / MARKET_TIME_FILE)
        self.market_clock = resume_sim_clock(settings.sim, self.market_time_file)

    def open_gateway(self) -> Gateway:
        return open_gateway("sim", sim_config=self.settings.sim,
                            data_dir=self.settings.data_path, **self.common_gateway_options())

    def universe(self, gateway: Gateway) -> tuple[str, ...]:
        return tuple(self.settings.sim.symbols)

    @property
    def in_flight_s(self) -> float:
        # The simulated terminal runs in this process: nothing sent before our own restart can
        # still execute, and a fate is read only after the send has returned (one thread).
        return 0.0

    def server_clock_rule(self) -> ServerTime | None:
        return parse_server_time(self.settings.sim.server_time)  # the simulated server's own

    def server_offset_hint(self, gateway: Gateway | None) -> int | None:
        terminal = self.fault_terminal(gateway)
        if terminal is None:
            return None
        # The simulated server's own clock against the market clock (UTC): exact, DST included.
        return round((terminal.now_ms() / 1000.0 - self.market_clock.now()) / 60.0) * 60

    def save_market_time(self, force: bool = False) -> None:
        self.market_time_file.save(self.market_clock.now(), force=force)

    def fault_terminal(self, gateway: Gateway | None) -> Any:
        return getattr(getattr(gateway, "backend", None), "_sim", None)

    @property
    def has_fault_switches(self) -> bool:
        return True

    @property
    def speed(self) -> float:
        return float(self.settings.sim.speed)

    @property
    def market_epoch(self) -> tuple[float, float] | None:
        # A driven clock (a backtest) is set on every role by the driver: nothing to tell.
        clock = self.market_clock
        return clock.epoch if isinstance(clock, SimClock) else None

    @property
    def commission_per_lot(self) -> float | None:
        configured = self.settings.broker.commission_per_lot
        if configured is not None:
            return float(configured)
        return 2.0 * float(self.settings.sim.commission_per_lot)  # charged on entry and exit


class TerminalBackend(BrokerBackend):
    """A real terminal: the ``MetaTrader5`` module (``mt5``) or one under Wine over RPyC
    (``mt5linux``). Its link is rebuilt from scratch after a failure."""

    def __init__(self, settings: Any, kind: str) -> None:
        super().__init__(settings)
        self.kind = kind

    def open_gateway(self) -> Gateway:
        broker = self.settings.broker
        if self.kind == "mt5":
            return open_gateway("mt5", **self.common_gateway_options())
        return open_gateway("mt5linux", host=broker.mt5linux_host, port=broker.mt5linux_port,
                            use_mt5linux_package=broker.mt5linux_client == "mt5linux",
                            **self.common_gateway_options())

    def credentials(self) -> Credentials:
        broker = self.settings.broker
        return Credentials(
            path=broker.terminal_path if self.kind == "mt5" else None,
            login=broker.login,
            password=os.environ.get(broker.password_env) or None,
            server=broker.server,
        )

    @property
    def expected_login(self) -> int | None:
        return self.settings.broker.login

    @property
    def expected_server(self) -> str | None:
        return self.settings.broker.server


def make_backend(settings: Any) -> BrokerBackend:
    """The backend of ``broker.kind``."""
    kind = settings.broker.kind
    if kind == "sim":
        return SimBackend(settings)
    if kind in ("mt5", "mt5linux"):
        return TerminalBackend(settings, kind)
    raise ValueError(f"broker.kind must be sim, mt5 or mt5linux, got {kind!r}")

