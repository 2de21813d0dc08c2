"""The broker gateway: one adapter for the simulated terminal, ``MetaTrader5`` and ``mt5linux``.

:class:`Gateway` wraps any object with the MetaTrader5 module's surface (reference mt5_api.md
§1.1, §11.6) and gives the broker actor plain records and classified outcomes:

- **One thread.** Every call runs on one dedicated daemon worker thread (the real module keeps
  one process-wide IPC channel and is not thread-safe), with a per-call timeout. ``last_error()``
  is read on that thread right after the failing call. A call that times out while running
  leaves the gateway *wedged* until it returns; calls queued behind it are cancelled.
- **Builtin values in, records out.** Request values are cast to ``int``/``float``/``str``
  (numpy scalars, ``Decimal`` and RPyC proxies break the real module or mt5linux's source-text
  transport); dates go out as tz-aware UTC datetimes; every returned struct becomes a frozen
  record (:mod:`actors.broker.records`) before it leaves the worker, so no netref escapes.
- **Orders through one door.** :meth:`Gateway.place_order` takes an
  :class:`~actors.broker.records.OrderIntent`, picks the filling mode from the symbol's flags
  (and on retcode 10030 re-reads them and tries the next allowed mode once), retries requotes
  with a fresh price within the intent's deviation, and returns an
  :class:`~actors.broker.records.OrderOutcome` classified by :mod:`actors.broker.retcodes`. An
  order whose fate is unknown (timeout, lost connection, ``None``) is reported as ``UNKNOWN`` and
  never resent; :meth:`Gateway.find_order_fate` then reads positions, orders and deal history
  for the client order id the intent wrote into the comment.

:func:`open_gateway` builds one for ``broker = sim | mt5 | mt5linux``. For mt5linux it uses
:class:`Mt5LinuxClient`, a small RPyC classic client that behaves like ``mt5linux``'s
``MetaTrader5`` class (calls sent as source text to a classic server that imported
``MetaTrader5``) but returns local struct copies instead of proxies. The ``mt5linux`` package's
own client (1.0.4-1.0.x) is used with ``use_mt5linux_package=True`` (``broker.mt5linux_client =
"mt5linux"``); it is not the default because each field read of its results is a round trip:
an account, positions, tick, symbol and 200-bar poll against the simulator over RPyC took a
median 132 ms with it and 8.5 ms with this client (15.5x, 2 cores, mt5linux 1.0.11:
``python -m bench.mt5linux_poll``).
A server that speaks rpyc 5 (mt5linux 0.2.x) gets :func:`rpyc_mismatch`'s advice.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import operator
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from queue import SimpleQueue
from typing import Any, TypeVar

import numpy as np

from actors.broker.fate_match import OrderShape, match_fate
from actors.broker.guards import GuardedPrices, check_modify, follow_fill, guard_market_order
from actors.broker.records import record_from_mapping
from actors.broker.retcodes import classify_call_failure, classify_retcode
from messages.books import AccountRecord, DealRecord, OrderRecord, PositionRecord, TerminalRecord
from messages.market import MarketSnapshot, Side, SymbolSpecRecord, TickRecord
from messages.orders import (
    FateStatus,
    OrderFate,
    OrderIntent,
    OrderKind,
    OrderOutcome,
    Outcome,
    RefusalCode,
)

__all__ = [
    "BROKER_KINDS",
    "RATES_FIELDS",
    "TICKS_FIELDS",
    "TIMEFRAMES",
    "BrokerUnavailable",
    "Gateway",
    "GatewayError",
    "GatewayTimeout",
    "Mt5LinuxClient",
    "allowed_fillings",
    "normalize_price",
    "open_gateway",
    "quantize_volume",
    "rpyc_mismatch",
]

BROKER_KINDS = ("sim", "mt5", "mt5linux")

TIMEFRAMES: dict[str, int] = {
    "M1": 1, "M2": 2, "M3": 3, "M4": 4, "M5": 5, "M6": 6, "M10": 10, "M12": 12, "M15": 15,
    "M20": 20, "M30": 30, "H1": 16385, "H2": 16386, "H3": 16387, "H4": 16388, "H6": 16390,
    "H8": 16392, "H12": 16396, "D1": 16408, "W1": 32769, "MN1": 49153,
}  # fmt: skip
"""``TIMEFRAME_*`` values by name (reference §6); hours are ``0x4000 | h``, not minutes."""

RATES_FIELDS = ("time", "open", "high", "low", "close", "tick_volume", "spread", "real_volume")
TICKS_FIELDS = ("time", "bid", "ask", "last", "volume", "time_msc", "flags", "volume_real")

# MT5 constants the adapter needs. They are written here rather than read from the backend: the
# real module does not export the SYMBOL_FILLING_* flags at all, and mt5linux's constants lack
# ORDER_FILLING_BOC (reference §6.1, §6.2).
_TRADE_ACTION_DEAL = 1
_TRADE_ACTION_PENDING = 5
_TRADE_ACTION_SLTP = 6
_TRADE_ACTION_REMOVE = 8
_ORDER_TYPES = {
    (OrderKind.MARKET, Side.BUY): 0,
    (OrderKind.MARKET, Side.SELL): 1,
    (OrderKind.LIMIT, Side.BUY): 2,
    (OrderKind.LIMIT, Side.SELL): 3,
    (OrderKind.STOP, Side.BUY): 4,
    (OrderKind.STOP, Side.SELL): 5,
}
_ORDER_FILLING_FOK, _ORDER_FILLING_IOC, _ORDER_FILLING_RETURN = 0, 1, 2
_ORDER_TIME_GTC = 0
_SYMBOL_FILLING_FOK, _SYMBOL_FILLING_IOC = 1, 2
_SYMBOL_TRADE_EXECUTION_REQUEST, _SYMBOL_TRADE_EXECUTION_INSTANT = 0, 1
_SYMBOL_TRADE_EXECUTION_MARKET = 2
_RETCODE_INVALID_FILL = 10030
_ORDER_STATE_FILLED = 4
_ORDER_STATE_PLACED, _ORDER_STATE_STARTED = 1, 0
_COPY_TICKS_ALL = -1
_POSITION_TYPE_BUY = 0
_TRANSPORT_ERROR = (-10000, "IPC call failed")

_REQUEST_TYPES: dict[str, type] = {
    "action": int, "magic": int, "order": int, "symbol": str, "volume": float, "price": float,
    "stoplimit": float, "sl": float, "tp": float, "deviation": int, "type": int,
    "type_filling": int, "type_time": int, "expiration": int, "comment": str, "position": int,
    "position_by": int,
}  # fmt: skip

_T = TypeVar("_T")


class GatewayError(Exception):
    """A terminal call that failed: the function, and ``last_error()``'s code and text."""

    def __init__(self, function: str, code: int, description: str) -> None:
        super().__init__(f"{function}() failed: ({code}, {description!r})")
        self.function = function
        self.code = code
        self.description = description


class GatewayTimeout(GatewayError):
    """A call that did not answer in time. ``started`` says whether it had begun running
    (then it may still complete on the terminal) or was cancelled while queued."""

    def __init__(self, function: str, timeout: float, *, started: bool) -> None:
        super().__init__(function, -10005, f"gateway timeout after {timeout:g} s")
        self.started = started
        self.timeout = timeout


class BrokerUnavailable(RuntimeError):
    """The chosen broker backend cannot be loaded or reached (the message says how to fix it)."""


# ---- value conversion -------------------------------------------------------------------------


def _cast_request(request: Mapping[str, Any]) -> dict[str, Any]:
    """Every request value as the exact builtin type the module checks for (§7.3)."""
    typed: dict[str, Any] = {}
    for key, value in request.items():
        if value is None:
            continue
        kind = _REQUEST_TYPES.get(key)
        if kind is None:
            raise ValueError(f"unknown trade request key {key!r}")
        if kind is float:
            number = float(value)
            if not math.isfinite(number):
                raise ValueError(f"request {key}={value!r} is not a finite number")
            typed[key] = number
        elif kind is int:
            typed[key] = int(operator.index(value))
        else:
            typed[key] = str(value)
    return typed


def _utc(value: datetime | float | int) -> datetime:
    """A tz-aware UTC datetime: the real module calls ``.timestamp()`` (a naive datetime would
    be read in the process's local zone) and mt5linux sends ``repr(date.astimezone())``."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            raise ValueError("naive datetime: pass a tz-aware datetime (UTC)")
        return value.astimezone(UTC)
    return datetime.fromtimestamp(float(value), tz=UTC)


_SCALARS = frozenset({int, float, str, bool, type(None)})


def _plain(value: Any) -> Any:
    if type(value) in _SCALARS:  # most fields: no attribute to look up
        return value
    if hasattr(value, "_asdict"):
        return _struct_dict(value)
    return value


def _struct_dict(struct: Any) -> dict[str, Any]:
    """A struct (local, or an RPyC proxy of one) as a local dict of plain values."""
    as_dict = getattr(struct, "_asdict", None)
    if as_dict is None:
        raise GatewayError("convert", -1, f"unexpected result type {type(struct).__name__}")
    return {str(key): _plain(value) for key, value in list(as_dict().items())}


def _local_array(value: Any, fields: tuple[str, ...]) -> np.ndarray:
    """A local numpy copy of a ``copy_*`` result, checked against the documented dtype."""
    if type(value).__module__.startswith("rpyc"):
        import rpyc

        value = rpyc.classic.obtain(value)
    array = np.array(value, copy=True)
    if array.dtype.names != fields:
        raise GatewayError("convert", -1, f"unexpected array fields {array.dtype.names}")
    return array


# ---- trading arithmetic -----------------------------------------------------------------------


def quantize_volume(volume: float, spec: SymbolSpecRecord) -> float:
    """Round a volume *down* to the symbol's step and clamp it to its maximum (reference §7.5);
    0.0 when it falls below the minimum. Never rounds up: an order never grows."""
    step = spec.volume_step
    if not volume > 0 or step <= 0:
        return 0.0
    steps = math.floor(volume / step + 1e-9)
    quantized = round(min(steps * step, spec.volume_max), 8)
    if spec.volume_max > 0 and quantized > spec.volume_max:
        quantized = spec.volume_max
    # Recompute from whole steps after clamping, so the result is always on the grid.
    quantized = round(math.floor(quantized / step + 1e-9) * step, 8)
    return quantized if quantized >= spec.volume_min - 1e-12 else 0.0


def normalize_price(price: float, spec: SymbolSpecRecord) -> float:
    """A price on the symbol's tick grid, rounded to its digits."""
    tick = spec.trade_tick_size or spec.point
    if tick <= 0:
        return round(price, spec.digits)
    return round(round(price / tick) * tick, spec.digits)


def allowed_fillings(spec: SymbolSpecRecord, *, pending: bool = False) -> list[int]:
    """Filling modes the symbol accepts, best first (reference §7.4).

    Pending orders use RETURN. Market orders: FOK and IOC when the symbol's ``filling_mode``
    flags allow them (always under Instant/Request execution), then RETURN unless the symbol
    uses Market execution.
    """
    if pending:
        return [_ORDER_FILLING_RETURN]
    instant = spec.trade_exemode in (
        _SYMBOL_TRADE_EXECUTION_INSTANT,
        _SYMBOL_TRADE_EXECUTION_REQUEST,
    )
    modes: list[int] = []
    if instant or spec.filling_mode & _SYMBOL_FILLING_FOK:
        modes.append(_ORDER_FILLING_FOK)
    if instant or spec.filling_mode & _SYMBOL_FILLING_IOC:
        modes.append(_ORDER_FILLING_IOC)
    if spec.trade_exemode != _SYMBOL_TRADE_EXECUTION_MARKET:
        modes.append(_ORDER_FILLING_RETURN)
    return modes


# ---- the worker thread ------------------------------------------------------------------------


class _Worker:
    """One daemon thread that runs submitted callables in order."""

    def __init__(self, name: str) -> None:
        self._jobs: SimpleQueue[tuple[Future[Any], Callable[[], Any]] | None] = SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while True:
            job = self._jobs.get()
            if job is None:
                return
            future, function = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                future.set_result(function())
            except BaseException as error:  # the caller re-raises it from the future
                future.set_exception(error)

    def submit(self, function: Callable[[], _T]) -> Future[_T]:
        future: Future[_T] = Future()
        self._jobs.put((future, function))
        return future

    def stop(self) -> None:
        self._jobs.put(None)

    @property
    def thread(self) -> threading.Thread:
        return self._thread


@dataclass(slots=True)
class _SendGuard:
    """Decides, under a lock, between "sent" and "abandoned": once the caller has given up on a
    queued order job, the job must not send it (the caller was told nothing was sent)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    sent: bool = False
    abandoned: bool = False

    def claim_send(self) -> bool:
        with self.lock:
            if self.abandoned:
                return False
            self.sent = True
            return True

    def reset(self) -> None:
        """The last send certainly did not execute (requote, refused filling): the next one
        starts from "nothing sent"."""
        with self.lock:
            self.sent = False

    def abandon(self) -> bool:
        """Give up; True if nothing had been sent."""
        with self.lock:
            self.abandoned = True
            return not self.sent


# ---- the gateway ------------------------------------------------------------------------------


class Gateway:
    """The MT5 adapter over one backend object (module, mt5linux client or simulator module).

    Query methods return records or raise :class:`GatewayError`; trade methods never raise for
    trade-level failures and return an :class:`OrderOutcome`.
    """

    def __init__(
        self,
        backend: Any,
        *,
        kind: str = "mt5",
        call_timeout: float = 30.0,
        order_timeout: float = 60.0,
        price_retries: int = 2,
        on_close: Callable[[], None] | None = None,
        clock: Any = None,
        max_slippage_points: float | None = None,
        inline: bool = False,
    ) -> None:
        """``max_slippage_points``: a market order with a reference price (``OrderIntent.price``)
        is guarded (:mod:`actors.broker.guards`); None keeps the older rule, a requote beyond
        ``deviation_points``. ``inline``: every call runs on the caller's thread, with no
        timeout (a backtest's driven simulated terminal, which never waits for the wall clock:
        the hand-off to the worker and back was most of a cheap call's cost)."""
        from actors.runtime.clock import WallClock

        self.backend = backend
        self.clock = clock if clock is not None else WallClock()
        self.kind = kind
        self.call_timeout = float(call_timeout)
        self.order_timeout = float(order_timeout)
        self.price_retries = int(price_retries)
        self.max_slippage_points = max_slippage_points
        self._on_close = on_close
        self.inline = bool(inline)
        self._worker = _Worker(f"mt5-gateway-{kind}")
        self._busy_lock = threading.Lock()
        self._wedged_calls = 0
        self._closed = False

    # ---- running calls on the worker ------------------------------------------------------

    @property
    def wedged(self) -> bool:
        """True while a call that timed out is still running on the worker thread."""
        with self._busy_lock:
            return self._wedged_calls > 0

    @property
    def worker_thread(self) -> threading.Thread:
        return self._worker.thread

    def _run(self, name: str, job: Callable[[], _T], timeout: float | None = None) -> _T:
        if self._closed:
            raise GatewayError(name, -10004, "gateway closed")
        if self.inline:
            return job()
        limit = self.call_timeout if timeout is None else timeout

        def tracked() -> _T:
            try:
                return job()
            finally:
                if future_state["timed_out"]:
                    with self._busy_lock:
                        self._wedged_calls -= 1

        future_state = {"timed_out": False}
        future = self._worker.submit(tracked)
        try:
            return future.result(limit)
        except FutureTimeout:
            started = not future.cancel()
            if started:
                with self._busy_lock:
                    future_state["timed_out"] = True
                    self._wedged_calls += 1
            raise GatewayTimeout(name, limit, started=started) from None

    def _invoke(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """On the worker: call the backend; ``None``/``False`` → :class:`GatewayError` with
        ``last_error()``; a transport exception (RPyC) → :class:`GatewayError` too."""
        try:
            result = getattr(self.backend, name)(*args, **kwargs)
        except (OSError, EOFError, TimeoutError) as error:
            raise GatewayError(name, _TRANSPORT_ERROR[0], f"transport: {error!r}") from error
        if result is None or result is False:
            code, description = self._last_error()
            raise GatewayError(name, code, description)
        return result

    def _last_error(self) -> tuple[int, str]:
        try:
            code, description = self.backend.last_error()
            return int(code), str(description)
        except (OSError, EOFError, TimeoutError) as error:
            return _TRANSPORT_ERROR[0], f"transport: {error!r}"

    def call(self, name: str, *args: Any, **kwargs: Any) -> Any:
        """Any module function by name, on the worker (results are not converted)."""
        return self._run(name, lambda: self._invoke(name, *args, **kwargs))

    # ---- connection -----------------------------------------------------------------------

    def connect(
        self,
        *,
        path: str | None = None,
        login: int | None = None,
        password: str | None = None,
        server: str | None = None,
        timeout_ms: int = 60_000,
    ) -> AccountRecord:
        """``initialize()`` and check that the terminal is logged into the expected account
        (a terminal found without ``path`` may be another one, reference §10)."""
        kwargs = {"login": login, "password": password, "server": server, "timeout": timeout_ms}
        kwargs = {k: v for k, v in kwargs.items() if v is not None}
        if login is not None:
            kwargs["login"] = int(operator.index(login))
        args = (str(path),) if path else ()

        def job() -> AccountRecord:
            self._invoke("initialize", *args, **kwargs)
            account = record_from_mapping(AccountRecord, _struct_dict(self._invoke("account_info")))
            if login is not None and account.login != login:
                self.backend.shutdown()
                raise GatewayError(
                    "initialize", -6, f"connected to account {account.login}, expected {login}"
                )
            return account

        return self._run("initialize", job, max(self.call_timeout, timeout_ms / 1000 + 10))

    def close(self) -> None:
        """``shutdown()`` the terminal connection and stop the worker (idempotent)."""
        if self._closed:
            return
        try:
            if not self.wedged:  # a stuck worker would only make this wait its timeout too
                self._run("shutdown", lambda: self.backend.shutdown(), self.call_timeout)
        except GatewayError:
            pass
        finally:
            self._closed = True
            self._worker.stop()
            if self._on_close is not None:
                self._on_close()

    def last_error(self) -> tuple[int, str]:
        return self._run("last_error", self._last_error)

    # ---- account, terminal, symbols -------------------------------------------------------

    def account(self) -> AccountRecord:
        return self._run(
            "account_info",
            lambda: record_from_mapping(AccountRecord, _struct_dict(self._invoke("account_info"))),
        )

    def terminal(self) -> TerminalRecord:
        return self._run(
            "terminal_info",
            lambda: record_from_mapping(
                TerminalRecord, _struct_dict(self._invoke("terminal_info"))
            ),
        )

    def version(self) -> tuple[int, int, str]:
        def job() -> tuple[int, int, str]:
            major, build, date = tuple(self._invoke("version"))
            return int(major), int(build), str(date)

        return self._run("version", job)

    def _read_symbol(self, symbol: str) -> SymbolSpecRecord:
        return record_from_mapping(
            SymbolSpecRecord, _struct_dict(self._invoke("symbol_info", str(symbol)))
        )

    def symbol(self, symbol: str) -> SymbolSpecRecord:
        return self._run("symbol_info", lambda: self._read_symbol(symbol))

    def symbols(self, group: str | None = None) -> tuple[SymbolSpecRecord, ...]:
        def job() -> tuple[SymbolSpecRecord, ...]:
            found = (
                self._invoke("symbols_get", str(group)) if group else self._invoke("symbols_get")
            )
            return tuple(record_from_mapping(SymbolSpecRecord, _struct_dict(s)) for s in found)

        return self._run("symbols_get", job)

    def select_symbol(self, symbol: str, enable: bool = True) -> None:
        self._run("symbol_select", lambda: self._invoke("symbol_select", str(symbol), bool(enable)))

    def _read_tick(self, symbol: str) -> TickRecord:
        return record_from_mapping(
            TickRecord, _struct_dict(self._invoke("symbol_info_tick", str(symbol)))
        )

    def tick(self, symbol: str) -> TickRecord:
        return self._run("symbol_info_tick", lambda: self._read_tick(symbol))

    def ticks(self, symbols: Iterable[str]) -> dict[str, TickRecord]:
        """The latest tick of each symbol, in one trip to the worker; a symbol whose tick
        cannot be read is left out (the other reads of a poll tell a lost connection)."""
        return self.ticks_within(symbols, None)[0]

    def ticks_within(self, symbols: Iterable[str],
                     budget_s: float | None) -> tuple[dict[str, TickRecord], int]:
        """Like :meth:`ticks`, but no further symbol is begun once ``budget_s`` of wall time is
        spent (the first always is): the ticks found and how many symbols were read."""
        names = [str(symbol) for symbol in symbols]

        def job() -> tuple[dict[str, TickRecord], int]:
            found: dict[str, TickRecord] = {}
            started, read = time.monotonic(), 0
            for name in names:
                if read and budget_s is not None and time.monotonic() - started >= budget_s:
                    break
                read += 1
                with contextlib.suppress(GatewayError):
                    found[name] = self._read_tick(name)
            return found, read

        return self._run("symbol_info_tick", job)

    # ---- bars and ticks -------------------------------------------------------------------

    def rates_from_pos(self, symbol: str, timeframe: int, start: int, count: int) -> np.ndarray:
        """Bars ending ``start`` bars back (0 = the unfinished current bar), oldest first."""
        args = (str(symbol), int(operator.index(timeframe)), int(start), int(count))
        return self._run(
            "copy_rates_from_pos",
            lambda: _local_array(self._invoke("copy_rates_from_pos", *args), RATES_FIELDS),
        )

    def rates_from(
        self, symbol: str, timeframe: int, date_from: datetime | float, count: int
    ) -> np.ndarray:
        args = (str(symbol), int(operator.index(timeframe)), _utc(date_from), int(count))
        return self._run(
            "copy_rates_from",
            lambda: _local_array(self._invoke("copy_rates_from", *args), RATES_FIELDS),
        )

    def rates_range(
        self,
        symbol: str,
        timeframe: int,
        date_from: datetime | float,
        date_to: datetime | float,
    ) -> np.ndarray:
        args = (str(symbol), int(operator.index(timeframe)), _utc(date_from), _utc(date_to))
        return self._run(
            "copy_rates_range",
            lambda: _local_array(self._invoke("copy_rates_range", *args), RATES_FIELDS),
        )

    def ticks_from(
        self, symbol: str, date_from: datetime | float, count: int, flags: int = _COPY_TICKS_ALL
    ) -> np.ndarray:
        args = (str(symbol), _utc(date_from), int(count), int(flags))
        return self._run(
            "copy_ticks_from",
            lambda: _local_array(self._invoke("copy_ticks_from", *args), TICKS_FIELDS),
        )

    def ticks_range(
        self,
        symbol: str,
        date_from: datetime | float,
        date_to: datetime | float,
        flags: int = _COPY_TICKS_ALL,
    ) -> np.ndarray:
        args = (str(symbol), _utc(date_from), _utc(date_to), int(flags))
        return self._run(
            "copy_ticks_range",
            lambda: _local_array(self._invoke("copy_ticks_range", *args), TICKS_FIELDS),
        )

    def market_snapshot(
        self, symbols: Iterable[str], timeframe: int, count: int, *, start: int = 1,
        timeout: float | None = None,
    ) -> dict[str, MarketSnapshot]:
        """Tick and ``count`` bars (from ``start``: 1 = closed bars only) of many symbols in one
        trip to the worker, within ``timeout`` (default: the call timeout, longer for many
        symbols). A symbol that fails carries its ``last_error()``."""
        names = [str(s) for s in symbols]
        tf = int(operator.index(timeframe))

        def job() -> dict[str, MarketSnapshot]:
            out: dict[str, MarketSnapshot] = {}
            for name in names:
                tick: TickRecord | None = None
                rates: np.ndarray | None = None
                error: tuple[int, str] | None = None
                try:
                    tick = self._read_tick(name)
                    rates = _local_array(
                        self._invoke("copy_rates_from_pos", name, tf, int(start), int(count)),
                        RATES_FIELDS,
                    )
                except GatewayError as failure:
                    error = (failure.code, failure.description)
                out[name] = MarketSnapshot(name, tick, rates, error)
            return out

        limit = self.call_timeout * max(1, len(names) // 10 + 1)
        return self._run("market_snapshot", job, limit if timeout is None else min(limit, timeout))

    # ---- positions, orders, history --------------------------------------------------------

    @staticmethod
    def _filters(**kwargs: Any) -> dict[str, Any]:
        typed: dict[str, Any] = {}
        for key, value in kwargs.items():
            if value is not None:
                typed[key] = (
                    int(operator.index(value)) if key in ("ticket", "position") else str(value)
                )
        return typed

    def _records(self, function: str, record_type: type[_T], *args: Any, **kwargs: Any) -> Any:
        try:
            result = getattr(self.backend, function)(*args, **kwargs)
        except (OSError, EOFError, TimeoutError) as error:
            raise GatewayError(function, _TRANSPORT_ERROR[0], f"transport: {error!r}") from error
        if result is None:
            code, description = self._last_error()
            if code == 1:  # "None with Success": some builds answer an empty match this way
                return ()
            raise GatewayError(function, code, description)
        return tuple(record_from_mapping(record_type, _struct_dict(item)) for item in result)

    def positions(
        self, *, symbol: str | None = None, ticket: int | None = None, group: str | None = None
    ) -> tuple[PositionRecord, ...]:
        filters = self._filters(symbol=symbol, ticket=ticket, group=group)
        return self._run(
            "positions_get", lambda: self._records("positions_get", PositionRecord, **filters)
        )

    def orders(
        self, *, symbol: str | None = None, ticket: int | None = None, group: str | None = None
    ) -> tuple[OrderRecord, ...]:
        filters = self._filters(symbol=symbol, ticket=ticket, group=group)
        return self._run("orders_get", lambda: self._records("orders_get", OrderRecord, **filters))

    def history_deals(
        self, date_from: datetime | float, date_to: datetime | float, *, group: str | None = None
    ) -> tuple[DealRecord, ...]:
        args = (_utc(date_from), _utc(date_to))
        filters = self._filters(group=group)
        return self._run(
            "history_deals_get",
            lambda: self._records("history_deals_get", DealRecord, *args, **filters),
        )

    def deals_of_position(self, position_id: int) -> tuple[DealRecord, ...]:
        filters = self._filters(position=position_id)
        return self._run(
            "history_deals_get", lambda: self._records("history_deals_get", DealRecord, **filters)
        )

    def deals_of_order(self, order_ticket: int) -> tuple[DealRecord, ...]:
        filters = self._filters(ticket=order_ticket)
        return self._run(
            "history_deals_get", lambda: self._records("history_deals_get", DealRecord, **filters)
        )

    def history_orders(
        self, date_from: datetime | float, date_to: datetime | float, *, group: str | None = None
    ) -> tuple[OrderRecord, ...]:
        args = (_utc(date_from), _utc(date_to))
        filters = self._filters(group=group)
        return self._run(
            "history_orders_get",
            lambda: self._records("history_orders_get", OrderRecord, *args, **filters),
        )

    def history_orders_of_position(self, position_id: int) -> tuple[OrderRecord, ...]:
        filters = self._filters(position=position_id)
        return self._run(
            "history_orders_get",
            lambda: self._records("history_orders_get", OrderRecord, **filters),
        )

    # ---- margin and profit ----------------------------------------------------------------

    def calc_margin(self, order_type: int, symbol: str, volume: float, price: float) -> float:
        args = (int(operator.index(order_type)), str(symbol), float(volume), float(price))
        return self._run(
            "order_calc_margin", lambda: float(self._invoke("order_calc_margin", *args))
        )

    def calc_profit(
        self, order_type: int, symbol: str, volume: float, price_open: float, price_close: float
    ) -> float:
        args = (
            int(operator.index(order_type)),
            str(symbol),
            float(volume),
            float(price_open),
            float(price_close),
        )
        return self._run(
            "order_calc_profit", lambda: float(self._invoke("order_calc_profit", *args))
        )

    def check_request(self, request: Mapping[str, Any]) -> dict[str, Any]:
        """``order_check`` of a raw request; the result as a plain dict (retcode 0 = passes)."""
        typed = _cast_request(request)
        return self._run("order_check", lambda: _struct_dict(self._invoke("order_check", typed)))

    # ---- trading --------------------------------------------------------------------------

    def place_order(self, intent: OrderIntent) -> OrderOutcome:
        """Place (or, with ``position_ticket``, close through) one order; see the module doc."""
        return self._run_order(intent.client_order_id, lambda guard: self._place(intent, guard))

    def close_position(
        self,
        ticket: int,
        *,
        client_order_id: str,
        magic: int,
        volume: float | None = None,
        deviation_points: int = 20,
    ) -> OrderOutcome:
        """Close ``volume`` lots (all when ``None``) of a position by a market order."""

        def job(guard: _SendGuard) -> OrderOutcome:
            try:
                found = self._records("positions_get", PositionRecord, ticket=int(ticket))
            except GatewayError as error:
                return self._not_sent(client_order_id, error)
            if not found:
                return OrderOutcome(
                    Outcome.REJECTED, "position_not_found", client_order_id, sent=False,
                    description=f"no open position {ticket}",
                )  # fmt: skip
            position = found[0]
            side = Side.SELL if position.type == _POSITION_TYPE_BUY else Side.BUY
            intent = OrderIntent(
                symbol=position.symbol,
                side=side,
                volume=position.volume if volume is None else volume,
                client_order_id=client_order_id,
                magic=magic,
                deviation_points=deviation_points,
                position_ticket=position.ticket,
            )
            return self._place(intent, guard)

        return self._run_order(client_order_id, job)

    def modify_position(
        self, ticket: int, *, sl: float | None, tp: float | None, client_order_id: str = ""
    ) -> OrderOutcome:
        """Set a position's stop loss and take profit (``None`` = none)."""

        def job(guard: _SendGuard) -> OrderOutcome:
            try:
                found = self._records("positions_get", PositionRecord, ticket=int(ticket))
                if not found:
                    return OrderOutcome(
                        Outcome.REJECTED, "position_not_found", client_order_id, sent=False
                    )
                spec = self._read_symbol(found[0].symbol)
                tick = self._read_tick(found[0].symbol)
            except GatewayError as error:
                return self._not_sent(client_order_id, error)
            position = found[0]
            side = Side.BUY if position.type == _POSITION_TYPE_BUY else Side.SELL
            why = check_modify(side, position.sl, position.tp,
                               normalize_price(sl, spec) if sl else 0.0,
                               normalize_price(tp, spec) if tp else 0.0, tick, spec)
            if why:
                return OrderOutcome(Outcome.REJECTED, str(RefusalCode.STOPS_TOO_CLOSE),
                                    client_order_id, sent=False, description=why,
                                    bid=tick.bid, ask=tick.ask)
            request = {
                "action": _TRADE_ACTION_SLTP,
                "symbol": found[0].symbol,
                "position": int(ticket),
                "sl": normalize_price(sl, spec) if sl else 0.0,
                "tp": normalize_price(tp, spec) if tp else 0.0,
            }
            return self._send(request, client_order_id, guard, attempts=1)

        return self._run_order(client_order_id, job)

    def cancel_order(self, ticket: int, *, client_order_id: str = "") -> OrderOutcome:
        """Delete a pending order."""
        request = {"action": _TRADE_ACTION_REMOVE, "order": int(ticket)}
        return self._run_order(
            client_order_id, lambda guard: self._send(request, client_order_id, guard, attempts=1)
        )

    def send_request(
        self, request: Mapping[str, Any], *, client_order_id: str = ""
    ) -> OrderOutcome:
        """Send a raw trade request (cast to builtin types) and classify the result."""
        return self._run_order(
            client_order_id, lambda guard: self._send(request, client_order_id, guard, attempts=1)
        )

    def _run_order(
        self, client_order_id: str, job: Callable[[_SendGuard], OrderOutcome]
    ) -> OrderOutcome:
        guard = _SendGuard()
        try:
            return self._run("order_send", lambda: job(guard), self.order_timeout)
        except GatewayTimeout as timeout:
            if guard.abandon():
                return OrderOutcome(
                    Outcome.WAIT, "gateway_busy", client_order_id, sent=False,
                    description=timeout.description,
                )  # fmt: skip
            return OrderOutcome(
                Outcome.UNKNOWN, "gateway_timeout", client_order_id, sent=True,
                description=timeout.description, error=(timeout.code, timeout.description),
            )  # fmt: skip
        except GatewayError as error:
            return OrderOutcome(
                Outcome.WAIT, "gateway_closed", client_order_id, sent=False,
                description=error.description,
            )  # fmt: skip

    @staticmethod
    def _not_sent(client_order_id: str, error: GatewayError) -> OrderOutcome:
        verdict = classify_call_failure(error.code, error.description, sent=False)
        return OrderOutcome(
            verdict.outcome, verdict.reason, client_order_id, sent=False,
            description=f"{error.function}: {error.description}",
            error=(error.code, error.description),
        )  # fmt: skip

    def _send(
        self,
        request: Mapping[str, Any],
        client_order_id: str,
        guard: _SendGuard,
        *,
        attempts: int,
    ) -> OrderOutcome:
        """On the worker: one ``order_send`` and its classification."""
        typed = _cast_request(request)
        if not guard.claim_send():
            return OrderOutcome(Outcome.WAIT, "gateway_busy", client_order_id, sent=False)
        try:
            result = self.backend.order_send(typed)
        except (OSError, EOFError, TimeoutError) as error:
            return OrderOutcome(
                Outcome.UNKNOWN, "transport_error", client_order_id, sent=True,
                description=repr(error), error=_TRANSPORT_ERROR, attempts=attempts,
            )  # fmt: skip
        if result is None:
            code, description = self._last_error()
            verdict = classify_call_failure(code, description, sent=True)
            return OrderOutcome(
                verdict.outcome, verdict.reason, client_order_id, sent=True,
                description=description, error=(code, description), attempts=attempts,
                type_filling=typed.get("type_filling"),
            )  # fmt: skip
        data = _struct_dict(result)
        verdict = classify_retcode(int(data["retcode"]))
        return OrderOutcome(
            verdict.outcome,
            verdict.reason,
            client_order_id,
            sent=True,
            retcode=int(data["retcode"]),
            description=verdict.description,
            order=int(data.get("order", 0)),
            deal=int(data.get("deal", 0)),
            volume=float(data.get("volume", 0.0)),
            price=float(data.get("price", 0.0)),
            bid=float(data.get("bid", 0.0)),
            ask=float(data.get("ask", 0.0)),
            comment=str(data.get("comment", "")),
            request_id=int(data.get("request_id", 0)),
            attempts=attempts,
            type_filling=typed.get("type_filling"),
        )

    def _place(self, intent: OrderIntent, guard: _SendGuard) -> OrderOutcome:
        """On the worker: read the symbol, size and price the order, send it, and handle
        invalid-fill (one retry with the next mode) and requotes (fresh price)."""
        coid = intent.client_order_id
        try:
            spec = self._read_symbol(intent.symbol)
        except GatewayError as error:
            return self._not_sent(coid, error)
        volume = quantize_volume(intent.volume, spec)
        if volume <= 0:
            return OrderOutcome(
                Outcome.REJECTED, "volume_below_minimum", coid, sent=False,
                description=f"{intent.volume} lots is below {spec.volume_min}",
            )  # fmt: skip
        pending = intent.kind is not OrderKind.MARKET
        fillings = allowed_fillings(spec, pending=pending)
        if not fillings:
            return OrderOutcome(Outcome.REJECTED, "no_valid_filling", coid, sent=False)
        filling = fillings[0]
        refilled = False
        price_tries = 0
        attempts = 0
        while True:
            request: dict[str, Any] = {
                "action": _TRADE_ACTION_PENDING if pending else _TRADE_ACTION_DEAL,
                "symbol": spec.name,
                "volume": volume,
                "type": _ORDER_TYPES[(intent.kind, intent.side)],
                "type_filling": filling,
                "type_time": _ORDER_TIME_GTC,
                "magic": intent.magic,
                "comment": coid,
                "deviation": intent.deviation_points,
                "sl": normalize_price(intent.sl, spec) if intent.sl else 0.0,
                "tp": normalize_price(intent.tp, spec) if intent.tp else 0.0,
            }
            if intent.position_ticket is not None:
                request["position"] = intent.position_ticket
                request["sl"] = request["tp"] = 0.0
            if pending:
                request["price"] = normalize_price(float(intent.price or 0.0), spec)
            else:
                try:
                    tick = self._read_tick(spec.name)
                except GatewayError as error:
                    return self._not_sent(coid, error)
                market = tick.ask if intent.side is Side.BUY else tick.bid
                guarded = self._guard(intent, tick, spec)
                if guarded is not None:
                    if guarded.refusal is not None:
                        return OrderOutcome(
                            Outcome.REJECTED, str(guarded.refusal), coid, sent=False,
                            description=guarded.detail, bid=tick.bid, ask=tick.ask,
                            attempts=attempts,
                        )  # fmt: skip
                    request["sl"] = normalize_price(guarded.sl, spec) if guarded.sl else 0.0
                    request["tp"] = normalize_price(guarded.tp, spec) if guarded.tp else 0.0
                elif intent.price is not None:
                    moved = abs(market - intent.price)
                    if moved > intent.deviation_points * spec.point + spec.point * 1e-6:
                        return OrderOutcome(
                            Outcome.RETRY_PRICE, "price_moved", coid, sent=False,
                            description=f"market {market} is {moved:g} from {intent.price}",
                            bid=tick.bid, ask=tick.ask, attempts=attempts,
                        )  # fmt: skip
                request["price"] = market
            attempts += 1
            outcome = self._send(request, coid, guard, attempts=attempts)
            if outcome.ok and self._guarded(intent):
                return self._follow_fill(outcome, request, spec)
            if outcome.retcode == _RETCODE_INVALID_FILL and not refilled:
                refilled = True
                try:
                    spec = self._read_symbol(intent.symbol)
                except GatewayError:
                    return outcome
                later = [
                    mode for mode in allowed_fillings(spec, pending=pending) if mode != filling
                ]
                if later:
                    filling = later[0]
                    guard.reset()
                    continue
                return outcome
            retry_price = outcome.status is Outcome.RETRY_PRICE and not pending
            if retry_price and price_tries < self.price_retries:
                price_tries += 1
                # A requoted or off-quotes order did not execute: sending again is safe.
                guard.reset()
                continue
            return outcome

    def _guarded(self, intent: OrderIntent) -> bool:
        """Whether the execution guards apply: an opening market order with a reference
        price, on a gateway with a slippage limit."""
        return (self.max_slippage_points is not None and intent.price is not None
                and intent.kind is OrderKind.MARKET and intent.position_ticket is None)

    def _guard(self, intent: OrderIntent, tick: TickRecord,
               spec: SymbolSpecRecord) -> GuardedPrices | None:
        """The guarded prices of the order (None: no guard applies)."""
        if not self._guarded(intent):
            return None
        assert intent.price is not None and self.max_slippage_points is not None
        return guard_market_order(intent.side, intent.price, intent.sl or 0.0,
                                  intent.tp or 0.0, tick, spec, self.max_slippage_points)

    def _follow_fill(self, outcome: OrderOutcome, request: Mapping[str, Any],
                     spec: SymbolSpecRecord) -> OrderOutcome:
        """On the worker, after a fill: SL and TP keep their distances from the fill price (an
        SLTP request on the new position when the fill slipped)."""
        moved = follow_fill(float(request["sl"]), float(request["tp"]), float(request["price"]),
                            outcome.price, spec)
        if moved is None or not outcome.order:
            return outcome
        sl, tp = moved
        modify = {"action": _TRADE_ACTION_SLTP, "symbol": spec.name,
                  "position": outcome.order, "sl": sl, "tp": tp}
        followed = self._send(modify, outcome.client_order_id, _SendGuard(), attempts=1)
        note = (f"stops moved with the fill to SL {sl:g} TP {tp:g}" if followed.ok else
                f"moving the stops with the fill failed ({followed.reason}); they stay at "
                f"SL {request['sl']:g} TP {request['tp']:g}")
        return dataclasses.replace(outcome, description="; ".join(
            part for part in (outcome.description, note) if part))

    # ---- resolving unknown outcomes -------------------------------------------------------

    def find_order_fate(
        self, client_order_id: str, magic: int, *, since: datetime | float | None = None,
        shape: OrderShape | None = None,
    ) -> OrderFate:
        """What the terminal's books say about an order: open position, pending order, filled
        or cancelled history order, or a deal, matched on ``magic`` and the client order id in
        the comment; when no comment matches (brokers rewrite them) and ``shape`` is given, by
        what the order was (:func:`~actors.broker.fate_match.match_fate`). Raises
        :class:`GatewayError` if any read fails: ``NOT_FOUND`` is only returned after every
        book was read."""
        coid, magic = str(client_order_id), int(magic)
        now = _utc(self.clock.now())
        start = _utc(since) if since is not None else now - timedelta(days=7)
        # History filters use the server clock, which may run hours ahead of UTC (§8.3).
        window = (start - timedelta(days=2), now + timedelta(days=2))

        def mine(record: Any) -> bool:
            return int(record.magic) == magic and str(record.comment) == coid

        def job() -> OrderFate:
            positions = self._records("positions_get", PositionRecord)
            for p in positions:
                if mine(p):
                    deals = self._records("history_deals_get", DealRecord, position=p.identifier)
                    return OrderFate(
                        coid, magic, FateStatus.FILLED, order=p.identifier, position=p.ticket,
                        deals=tuple(d.ticket for d in deals if d.order == p.identifier),
                        volume=p.volume, price=p.price_open, order_state=_ORDER_STATE_FILLED,
                    )  # fmt: skip
            for o in self._records("orders_get", OrderRecord):
                if mine(o):
                    return OrderFate(
                        coid, magic, FateStatus.PENDING, order=o.ticket,
                        volume=o.volume_current, price=o.price_open, order_state=o.state,
                    )  # fmt: skip
            all_history = self._records("history_orders_get", OrderRecord, *window)
            all_deals = self._records("history_deals_get", DealRecord, *window)
            history = [o for o in all_history if mine(o)]
            deals = [d for d in all_deals if mine(d)]
            for o in history:
                own_deals = [d for d in deals if d.order == o.ticket]
                if not own_deals and o.state == _ORDER_STATE_FILLED:
                    own_deals = list(
                        self._records("history_deals_get", DealRecord, ticket=o.ticket)
                    )
                if own_deals:
                    volume = sum(d.volume for d in own_deals)
                    price = sum(d.price * d.volume for d in own_deals) / volume if volume else 0.0
                    return OrderFate(
                        coid, magic, FateStatus.FILLED, order=o.ticket,
                        position=own_deals[0].position_id,
                        deals=tuple(d.ticket for d in own_deals), volume=round(volume, 8),
                        price=price, order_state=o.state,
                    )  # fmt: skip
                if o.state not in (_ORDER_STATE_PLACED, _ORDER_STATE_STARTED):
                    return OrderFate(
                        coid, magic, FateStatus.CANCELLED, order=o.ticket, order_state=o.state
                    )
            if deals:
                d = deals[0]
                return OrderFate(
                    coid, magic, FateStatus.FILLED, order=d.order, position=d.position_id,
                    deals=tuple(x.ticket for x in deals), volume=d.volume, price=d.price,
                )  # fmt: skip
            if shape is not None:
                matched = match_fate(coid, magic, shape, positions, all_history, all_deals)
                if matched is not None:
                    return matched
            return OrderFate(coid, magic, FateStatus.NOT_FOUND)

        return self._run("find_order_fate", job)


# ---- mt5linux ---------------------------------------------------------------------------------

_SERVER_PRELUDE = """
import datetime
import MetaTrader5 as mt5

def _ensemble_plain(value):
    if isinstance(value, tuple) and hasattr(value, "_asdict"):
        return ("__mt5_struct__", type(value).__name__, tuple(_ensemble_plain(v) for v in value))
    if isinstance(value, tuple):
        return tuple(_ensemble_plain(v) for v in value)
    return value
"""

_MT5_FUNCTIONS = (
    "initialize", "login", "shutdown", "version", "last_error", "account_info", "terminal_info",
    "symbols_total", "symbols_get", "symbol_info", "symbol_info_tick", "symbol_select",
    "market_book_add", "market_book_get", "market_book_release", "copy_rates_from",
    "copy_rates_from_pos", "copy_rates_range", "copy_ticks_from", "copy_ticks_range",
    "orders_total", "orders_get", "positions_total", "positions_get", "history_orders_total",
    "history_orders_get", "history_deals_total", "history_deals_get", "order_calc_margin",
    "order_calc_profit", "order_check", "order_send",
)  # fmt: skip


def _rebuild(value: Any) -> Any:
    if isinstance(value, tuple) and len(value) == 3 and value[0] == "__mt5_struct__":
        from actors.broker.sim.structs import STRUCT_TYPES

        struct = STRUCT_TYPES.get(value[1])
        if struct is None:
            raise GatewayError("convert", -1, f"unknown struct type {value[1]!r}")
        return struct(_rebuild(v) for v in value[2])
    if isinstance(value, tuple):
        return tuple(_rebuild(v) for v in value)
    return value


class Mt5LinuxClient:
    """An RPyC classic client with the MetaTrader5 module's surface, as ``mt5linux`` offers.

    Like ``mt5linux.MetaTrader5`` (0.2.x) it connects to a classic server (``python -m
    mt5linux`` under Wine, or :mod:`actors.broker.sim.rpyc_server`), imports ``MetaTrader5`` there
    and sends each call as source text built from the arguments' ``repr`` (so arguments must be
    builtin values). Unlike it, a small helper on the server flattens struct results into tuples,
    and they come back as local copies of the real struct types in one round trip, instead of
    proxies that cost a round trip per attribute and die with the connection. Constants are read
    from the server's module once. Not thread-safe: the gateway calls it from one thread.
    """

    def __init__(
        self, host: str = "127.0.0.1", port: int = 18812, *, timeout: float = 300.0
    ) -> None:
        try:
            import rpyc
        except ImportError as error:
            raise BrokerUnavailable(
                "broker=mt5linux needs rpyc: pip install 'ensemble[mt5linux]'"
            ) from error
        self._rpyc = rpyc
        self.host, self.port = host, int(port)
        self._conn = rpyc.classic.connect(host, self.port)
        # Above MT5's own 60 s IPC timeout, so its error arrives instead of an RPyC one (§9.3).
        self._conn._config["sync_request_timeout"] = float(timeout)
        self._conn.execute(_SERVER_PRELUDE)
        constants = rpyc.classic.obtain(
            self._conn.eval(
                "{k: v for k, v in vars(mt5).items() if k.isupper() and type(v) is int}"
            )
        )
        for name, value in constants.items():
            setattr(self, name, value)

    def _call(self, function: str, *args: Any, **kwargs: Any) -> Any:
        code = f"_ensemble_plain(mt5.{function}(*{args!r}, **{kwargs!r}))"
        return _rebuild(self._rpyc.classic.obtain(self._conn.eval(code)))

    def eval(self, code: str) -> Any:
        """Evaluate an expression on the server (mt5linux has the same escape hatch)."""
        return self._conn.eval(code)

    def execute(self, code: str) -> None:
        self._conn.execute(code)

    def close(self) -> None:
        with contextlib.suppress(OSError, EOFError):
            self._conn.close()


def _make_remote_function(function: str) -> Callable[..., Any]:
    def remote(self: Mt5LinuxClient, *args: Any, **kwargs: Any) -> Any:
        return self._call(function, *args, **kwargs)

    remote.__name__ = remote.__qualname__ = function
    return remote


for _name in _MT5_FUNCTIONS:
    setattr(Mt5LinuxClient, _name, _make_remote_function(_name))


def rpyc_mismatch(host: str, port: int) -> str:
    """What to do when the server at ``host:port`` speaks another RPyC protocol: rpyc 6 (this
    client) cannot talk to rpyc 5 or older, which mt5linux 0.2.x and 1.0.2–1.0.3 install and
    most guides set up under Wine ("invalid message type: 18")."""
    import rpyc

    return (f"broker=mt5linux: the RPyC server at {host}:{port} speaks an older protocol than "
            f"this client's rpyc {rpyc.__version__}: it is rpyc 5.x or older (mt5linux 0.2.x "
            "and 1.0.2-1.0.3 install rpyc 5.2.3), and rpyc 6 cannot talk to it. In the Wine "
            "Python that runs the server, install pip install \"mt5linux>=1.0.4,<1.1\" (rpyc "
            "6) and restart `python -m mt5linux`; or run the whole client side with rpyc 5")


# ---- the factory ------------------------------------------------------------------------------


def open_gateway(
    broker: str,
    *,
    sim_config: Any = None,
    data_dir: str | Path | None = None,
    clock: Any = None,
    host: str = "127.0.0.1",
    port: int = 18812,
    terminal_path: str | None = None,
    login: int | None = None,
    password: str | None = None,
    server: str | None = None,
    call_timeout: float = 30.0,
    order_timeout: float = 60.0,
    connect: bool = True,
    use_mt5linux_package: bool = False,
    max_slippage_points: float | None = None,
) -> Gateway:
    """Open a gateway on ``broker``: ``sim`` (the simulated terminal of ``sim_config`` in
    ``data_dir``, driven by ``clock``), ``mt5`` (the ``MetaTrader5`` package, Windows) or
    ``mt5linux`` (an RPyC classic server at ``host:port``). With ``connect`` (default) it is
    initialised and the account read (and checked against ``login`` when given). ``clock``
    (default: wall time) dates the history searches of :meth:`Gateway.find_order_fate`."""
    if broker == "sim":
        from actors.broker.sim.config import SimConfig
        from actors.broker.sim.module import create_sim_module
        from actors.runtime.clock import SimClock

        config = sim_config if sim_config is not None else SimConfig()
        clock = clock if clock is not None else SimClock(config.speed, config.start)
        module = create_sim_module(
            config, Path(data_dir) if data_dir is not None else Path("var"), clock
        )
        gateway = Gateway(
            module,
            kind="sim",
            call_timeout=call_timeout,
            order_timeout=order_timeout,
            on_close=module._sim.close,
            clock=clock,
            max_slippage_points=max_slippage_points,
            # A backtest's terminal (driven) answers at once unless a call delay is injected.
            inline=config.driven and not config.faults.call_delay_s,
        )
    elif broker == "mt5":
        try:
            import MetaTrader5
        except ImportError as error:
            raise BrokerUnavailable(
                "broker=mt5 needs the MetaTrader5 package, which exists only for Windows: "
                "install it with pip install 'ensemble[mt5]' on Windows next to a running MT5 "
                "terminal, or use broker=mt5linux (terminal under Wine) or broker=sim"
            ) from error
        gateway = Gateway(
            MetaTrader5,
            kind="mt5",
            call_timeout=call_timeout,
            order_timeout=order_timeout,
            clock=clock,
            max_slippage_points=max_slippage_points,
        )
    elif broker == "mt5linux":
        try:
            if use_mt5linux_package:
                from mt5linux import MetaTrader5 as PackageClient

                client: Any = PackageClient(host=host, port=port)
            else:
                client = Mt5LinuxClient(host, port)
        except ImportError as error:
            raise BrokerUnavailable(
                "broker=mt5linux with use_mt5linux_package needs mt5linux: "
                "pip install 'ensemble[mt5linux]'"
            ) from error
        except (OSError, EOFError) as error:
            raise BrokerUnavailable(
                f"broker=mt5linux: no RPyC server answers at {host}:{port} ({error}); start "
                "`python -m mt5linux` under Wine, or the simulator's "
                "`python -m actors.broker.sim.rpyc_server`"
            ) from error
        except ValueError as error:
            if not str(error).startswith("invalid message type"):
                raise
            raise BrokerUnavailable(rpyc_mismatch(host, port)) from error
        close = getattr(client, "close", None)
        gateway = Gateway(
            client,
            kind="mt5linux",
            call_timeout=call_timeout,
            order_timeout=order_timeout,
            on_close=close,
            clock=clock,
            max_slippage_points=max_slippage_points,
        )
    else:
        raise ValueError(f"broker must be one of {', '.join(BROKER_KINDS)}, got {broker!r}")
    if connect:
        try:
            gateway.connect(path=terminal_path, login=login, password=password, server=server)
        except BaseException:
            gateway.close()
            raise
    return gateway
