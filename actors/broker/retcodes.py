"""What a trade result means for the caller: every MT5 retcode put into one of five classes.

The terminal answers a trade request with a retcode (``TRADE_RETCODE_*``, reference
mt5_api.md §6, §7.4, §10) or, when the call itself fails, with ``None`` and ``last_error()``.
The broker must know, for each, whether the order happened and what it may do next:

``DONE``
    It happened (10008 placed, 10009 done, 10010 partially done, 10025 no changes needed).
``RETRY_PRICE``
    Nothing happened because the price moved (10004 requote, 10020 price changed, 10021 off
    quotes); resending with a fresh price is safe.
``WAIT``
    Nothing happened for a passing reason (10024 too many requests, 10028 locked, 10018 market
    closed, 10029 frozen near a stop); retry later, it is not an error strike.
``UNKNOWN``
    It may or may not have happened (10011 processing error, 10012 timeout, 10031 no
    connection, an unrecognised retcode, or ``None`` from ``order_send`` with anything but an
    argument error). The caller must reconcile with the terminal's positions, orders and deal
    history, and never resend blindly.
``REJECTED``
    Nothing happened and retrying the same request will not help (invalid volume, stops, fill
    mode, no money, algo trading disabled…), with a stable ``reason``.

The classes are policy, not MetaQuotes documentation; they follow §10's "retcode classes used
by robust bots", with the adjustments above.
"""

from __future__ import annotations

from dataclasses import dataclass

from messages.orders import Outcome

__all__ = [
    "CONNECTION_ERROR_CODES",
    "PASSING_RETCODES",
    "RETCODES",
    "Classification",
    "Outcome",
    "classify_call_failure",
    "classify_retcode",
]




@dataclass(frozen=True, slots=True)
class Classification:
    outcome: Outcome
    reason: str
    """Stable and machine-readable, e.g. ``invalid_stops``; safe to put in events and metrics."""
    retcode: int | None
    description: str


# retcode: (name, outcome, reason, description)
RETCODES: dict[int, tuple[str, Outcome, str, str]] = {
    0: ("CHECK_OK", Outcome.DONE, "check_passed", "order_check passed"),
    10004: ("TRADE_RETCODE_REQUOTE", Outcome.RETRY_PRICE, "requote", "Requote"),
    10006: ("TRADE_RETCODE_REJECT", Outcome.REJECTED, "rejected", "Request rejected"),
    10007: ("TRADE_RETCODE_CANCEL", Outcome.REJECTED, "canceled", "Request canceled by trader"),
    10008: ("TRADE_RETCODE_PLACED", Outcome.DONE, "placed", "Order placed"),
    10009: ("TRADE_RETCODE_DONE", Outcome.DONE, "done", "Request completed"),
    10010: (
        "TRADE_RETCODE_DONE_PARTIAL",
        Outcome.DONE,
        "done_partial",
        "Only part of the request was completed",
    ),
    10011: ("TRADE_RETCODE_ERROR", Outcome.UNKNOWN, "processing_error", "Request processing error"),
    10012: ("TRADE_RETCODE_TIMEOUT", Outcome.UNKNOWN, "timeout", "Request canceled by timeout"),
    10013: ("TRADE_RETCODE_INVALID", Outcome.REJECTED, "invalid_request", "Invalid request"),
    10014: ("TRADE_RETCODE_INVALID_VOLUME", Outcome.REJECTED, "invalid_volume", "Invalid volume"),
    10015: ("TRADE_RETCODE_INVALID_PRICE", Outcome.REJECTED, "invalid_price", "Invalid price"),
    10016: ("TRADE_RETCODE_INVALID_STOPS", Outcome.REJECTED, "invalid_stops", "Invalid stops"),
    10017: ("TRADE_RETCODE_TRADE_DISABLED", Outcome.REJECTED, "trade_disabled", "Trade disabled"),
    10018: ("TRADE_RETCODE_MARKET_CLOSED", Outcome.WAIT, "market_closed", "Market is closed"),
    10019: ("TRADE_RETCODE_NO_MONEY", Outcome.REJECTED, "no_money", "Not enough money"),
    10020: ("TRADE_RETCODE_PRICE_CHANGED", Outcome.RETRY_PRICE, "price_changed", "Prices changed"),
    10021: ("TRADE_RETCODE_PRICE_OFF", Outcome.RETRY_PRICE, "price_off", "No quotes"),
    10022: (
        "TRADE_RETCODE_INVALID_EXPIRATION",
        Outcome.REJECTED,
        "invalid_expiration",
        "Invalid order expiration date",
    ),
    10023: (
        "TRADE_RETCODE_ORDER_CHANGED",
        Outcome.REJECTED,
        "order_changed",
        "Order state changed",
    ),
    10024: ("TRADE_RETCODE_TOO_MANY_REQUESTS", Outcome.WAIT, "too_many_requests", "Too frequent"),
    10025: ("TRADE_RETCODE_NO_CHANGES", Outcome.DONE, "no_changes", "No changes in request"),
    10026: (
        "TRADE_RETCODE_SERVER_DISABLES_AT",
        Outcome.REJECTED,
        "algo_trading_disabled_by_server",
        "Autotrading disabled by server",
    ),
    10027: (
        "TRADE_RETCODE_CLIENT_DISABLES_AT",
        Outcome.REJECTED,
        "algo_trading_disabled",
        "Autotrading disabled by client terminal",
    ),
    10028: ("TRADE_RETCODE_LOCKED", Outcome.WAIT, "locked", "Request locked for processing"),
    10029: ("TRADE_RETCODE_FROZEN", Outcome.WAIT, "frozen", "Order or position frozen"),
    10030: ("TRADE_RETCODE_INVALID_FILL", Outcome.REJECTED, "invalid_fill", "Invalid filling type"),
    10031: ("TRADE_RETCODE_CONNECTION", Outcome.UNKNOWN, "no_connection", "No connection"),
    10032: ("TRADE_RETCODE_ONLY_REAL", Outcome.REJECTED, "only_real", "Only for live accounts"),
    10033: ("TRADE_RETCODE_LIMIT_ORDERS", Outcome.REJECTED, "limit_orders", "Pending order limit"),
    10034: ("TRADE_RETCODE_LIMIT_VOLUME", Outcome.REJECTED, "limit_volume", "Volume limit"),
    10035: ("TRADE_RETCODE_INVALID_ORDER", Outcome.REJECTED, "invalid_order", "Invalid order type"),
    10036: (
        "TRADE_RETCODE_POSITION_CLOSED",
        Outcome.REJECTED,
        "position_closed",
        "Position already closed",
    ),
    10038: (
        "TRADE_RETCODE_INVALID_CLOSE_VOLUME",
        Outcome.REJECTED,
        "invalid_close_volume",
        "Close volume exceeds the position volume",
    ),
    10039: (
        "TRADE_RETCODE_CLOSE_ORDER_EXIST",
        Outcome.REJECTED,
        "close_order_exists",
        "A close order already exists",
    ),
    10040: (
        "TRADE_RETCODE_LIMIT_POSITIONS",
        Outcome.REJECTED,
        "limit_positions",
        "Open position limit",
    ),
    10041: (
        "TRADE_RETCODE_REJECT_CANCEL",
        Outcome.REJECTED,
        "activation_rejected",
        "Pending order activation rejected, order canceled",
    ),
    10042: ("TRADE_RETCODE_LONG_ONLY", Outcome.REJECTED, "long_only", "Only long positions"),
    10043: ("TRADE_RETCODE_SHORT_ONLY", Outcome.REJECTED, "short_only", "Only short positions"),
    10044: ("TRADE_RETCODE_CLOSE_ONLY", Outcome.REJECTED, "close_only", "Only closing allowed"),
    10045: ("TRADE_RETCODE_FIFO_CLOSE", Outcome.REJECTED, "fifo_close", "FIFO closing only"),
    10046: (
        "TRADE_RETCODE_HEDGE_PROHIBITED",
        Outcome.REJECTED,
        "hedge_prohibited",
        "Opposite positions are disabled",
    ),
}
"""Every retcode the module defines (plus 10046 and ``order_check``'s 0), with its class."""

CONNECTION_ERROR_CODES = frozenset({-10000, -10001, -10002, -10003, -10004, -10005, -6})
"""``last_error()`` codes after which the terminal must be reconnected (reference §3)."""

PASSING_RETCODES = frozenset({10024, 10028, 10029})
"""``WAIT`` retcodes whose cause passes within seconds: too many requests, a request locked for
processing, and a position frozen because the price is within the freeze level of its stop or
target (the price moves away, or the stop is hit and the position closes). A closed market
(10018) passes only at the next session."""

_CALL_FAILURE_REASONS = {
    -1: "call_failed",
    -2: "invalid_arguments",
    -3: "no_memory",
    -4: "not_found",
    -5: "invalid_version",
    -6: "authorization_failed",
    -7: "unsupported",
    -8: "algo_trading_disabled",
    -10000: "ipc_failed",
    -10001: "ipc_send_failed",
    -10002: "ipc_receive_failed",
    -10003: "ipc_initialize_failed",
    -10004: "no_ipc_connection",
    -10005: "ipc_timeout",
}


def classify_retcode(retcode: int) -> Classification:
    """The class of a trade retcode; an unknown code is ``UNKNOWN`` (reconcile, never resend)."""
    known = RETCODES.get(int(retcode))
    if known is None:
        return Classification(Outcome.UNKNOWN, "unrecognised_retcode", int(retcode), "")
    _, outcome, reason, description = known
    return Classification(outcome, reason, int(retcode), description)


def classify_call_failure(code: int, description: str, *, sent: bool = True) -> Classification:
    """The class of ``order_send`` returning ``None`` with ``last_error() == (code, text)``.

    An argument error (-2) is refused by the module before anything leaves the process, and
    -8 by the terminal before the server; everything else after sending may have executed.
    ``sent=False`` (the failure came from a read before ``order_send``) means nothing was sent:
    connection trouble is then ``WAIT``, the rest ``REJECTED``.
    """
    reason = _CALL_FAILURE_REASONS.get(int(code), "call_failed")
    if code in (-2, -8):
        return Classification(Outcome.REJECTED, reason, None, description)
    if not sent:
        outcome = Outcome.WAIT if code in CONNECTION_ERROR_CODES or code == -1 else Outcome.REJECTED
        return Classification(outcome, reason, None, description)
    return Classification(Outcome.UNKNOWN, reason, None, description)
