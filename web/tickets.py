"""Single-use, short-lived tickets that stand for the API token when a browser opens ``/ws``.

A browser cannot set a header on a WebSocket, and a token in the URL ends up in logs and
history. So the dashboard asks ``POST /api/ws-ticket`` (with its bearer header) for a ticket and
opens ``/ws?ticket=…``; the ticket is good once, for a few seconds. Lives on the web loop.
"""

from __future__ import annotations

import secrets
import time
from collections import OrderedDict
from collections.abc import Callable

__all__ = ["TICKET_TTL_S", "TicketBook"]

TICKET_TTL_S = 30.0
MAX_LIVE_TICKETS = 1000


class TicketBook:
    def __init__(self, ttl_s: float = TICKET_TTL_S, max_live: int = MAX_LIVE_TICKETS,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.ttl_s = ttl_s
        self.max_live = max_live
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()  # oldest first

    def issue(self) -> str:
        now = self._clock()
        while self._expiry and (next(iter(self._expiry.values())) <= now
                                or len(self._expiry) >= self.max_live):
            self._expiry.popitem(last=False)
        ticket = secrets.token_urlsafe(24)
        self._expiry[ticket] = now + self.ttl_s
        return ticket

    def redeem(self, ticket: str | None) -> bool:
        """True once for a ticket that was issued and has not expired."""
        if not ticket:
            return False
        expiry = self._expiry.pop(ticket, None)
        return expiry is not None and self._clock() < expiry
