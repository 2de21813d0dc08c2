"""Which ``Host`` and ``Origin`` a request may carry: the defence against DNS rebinding.

A page on ``evil.example`` whose name is made to resolve to 127.0.0.1 reaches the web front
with ``Host: evil.example`` and, for a WebSocket, ``Origin: http://evil.example``. So the Host
must name one of the allowed hosts (the bind address, ``localhost``, the address the connection
arrived at, and ``web.allowed_hosts``), and a browser's Origin must be one of those hosts on
the port the connection arrived at, or one of ``web.allowed_origins``. Neither is ever derived
from the request itself. Pure functions over header values.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

__all__ = ["allowed_host_names", "host_allowed", "host_name", "origin_allowed"]

_WILDCARDS = frozenset({"", "0.0.0.0", "::", "*"})


def host_name(value: str | None) -> str | None:
    """The host part of a Host header (``name``, ``name:port``, ``[v6]:port``), lowercased,
    without a trailing dot; None when there is none or it is malformed."""
    if not value:
        return None
    value = value.strip().lower()
    if value.startswith("["):
        end = value.find("]")
        rest = value[end + 1:] if end > 0 else "?"
        if end <= 1 or (rest and not (rest.startswith(":") and rest[1:].isdigit())):
            return None
        return value[1:end]
    name, colon, port = value.partition(":")
    if colon and not port.isdigit():
        return None
    name = name.rstrip(".")
    return name or None


def allowed_host_names(bind_host: str, extra: Iterable[str]) -> frozenset[str]:
    """The configured host names: the bind address (unless it is a wildcard), ``localhost``
    and ``web.allowed_hosts``."""
    names = {"localhost", *(name.strip("[]").lower().rstrip(".") for name in extra)}
    if bind_host.strip("[]").lower() not in _WILDCARDS:
        names.add(bind_host.strip("[]").lower())
    return frozenset(names)


def host_allowed(host_header: str | None, allowed: frozenset[str],
                 local_address: str | None) -> bool:
    """Whether ``Host`` names an allowed host or the address the connection arrived at."""
    name = host_name(host_header)
    return name is not None and (name in allowed or name == (local_address or "").lower())


def origin_allowed(origin: str | None, allowed: frozenset[str], extra_origins: Iterable[str],
                   local_address: str | None, local_port: int | None) -> bool:
    """A browser's ``Origin``: one of the allowed hosts on the port the connection arrived at,
    or one of ``web.allowed_origins``. Clients that send no Origin are not browsers (and still
    need the token)."""
    if origin is None:
        return True
    if origin in set(extra_origins):
        return True
    try:
        parts = urlsplit(origin)
        port = parts.port or {"http": 80, "https": 443}.get(parts.scheme)
    except ValueError:
        return False
    if parts.scheme not in ("http", "https") or parts.path not in ("", "/") or parts.query:
        return False
    name = (parts.hostname or "").rstrip(".")
    host_ok = name in allowed or (bool(local_address) and name == (local_address or "").lower())
    return host_ok and port == local_port
