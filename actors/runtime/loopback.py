"""Make Thespian listen on one address instead of every interface.

Thespian's TCP transport binds every admin, logger and actor socket to ``''`` (all interfaces),
whatever address it advertises, and unpickles whatever arrives: on a shared network that is
remote code execution (DESIGN.md §4, §10). :func:`restrict_thespian_to` wraps the address
class that every TCP endpoint is built from, so that the bind address is the advertised one.

It must run in the daemon before the ActorSystem starts: Thespian forks the admin, the logger
and every actor from there, and a forked process keeps the patch.
"""

from __future__ import annotations

import os
from typing import Any

from thespian.system.transport import IPBase

__all__ = ["restrict_thespian_to", "thespian_bind_host"]

_original_init = IPBase.IPActorAddress.__init__
_bind_host: str | None = None


def _init_bound_to_host(self: Any, *args: Any, **kwargs: Any) -> None:
    _original_init(self, *args, **kwargs)
    if _bind_host is not None and self.bindname[0] in ("", "0.0.0.0"):
        self.bindname = (_bind_host, self.bindname[1])


def restrict_thespian_to(host: str = "127.0.0.1") -> None:
    """Bind and advertise every Thespian socket of this process (and its forks) on ``host``."""
    global _bind_host
    _bind_host = host
    # The advertised address; without it Thespian guesses one by routing towards 8.8.8.8.
    os.environ["THESPIAN_BASE_IPADDR"] = host
    IPBase.IPActorAddress.__init__ = _init_bound_to_host  # type: ignore[method-assign]


def thespian_bind_host() -> str | None:
    return _bind_host
