"""The API token and the checks that use it.

Control endpoints and anything that reveals the account need the token: as
``Authorization: Bearer <token>``, or as ``?token=`` where a header can't be set (a WebSocket
from a browser, the first page load). The token comes from ``ENSEMBLE_API_TOKEN``, or is
generated once and kept in ``<data-dir>/api_token`` with mode 0600.
"""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from aiohttp import web

__all__ = ["TOKEN_ENV", "TOKEN_FILE", "load_or_create_token", "request_token", "token_matches"]

TOKEN_ENV = "ENSEMBLE_API_TOKEN"
TOKEN_FILE = "api_token"
MIN_TOKEN_LENGTH = 16


def load_or_create_token(data_dir: Path, environ: dict[str, str] | None = None) -> tuple[str, Path]:
    """The token and where it is kept. An environment token is written to the file too, so
    that ``run_system.py status`` and the tests find it in one place."""
    environ = dict(os.environ) if environ is None else environ
    path = data_dir / TOKEN_FILE
    token = environ.get(TOKEN_ENV, "").strip()
    if token and len(token) < MIN_TOKEN_LENGTH:
        raise ValueError(
            f"{TOKEN_ENV} is {len(token)} characters long; use at least {MIN_TOKEN_LENGTH}"
        )
    if not token and path.exists():
        token = path.read_text(encoding="utf-8").strip()
    if not token:
        token = secrets.token_urlsafe(32)
    data_dir.mkdir(parents=True, exist_ok=True)
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
        handle.write(token + "\n")
    os.chmod(path, 0o600)
    return token, path


def request_token(request: web.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    return request.query.get("token") or None


def token_matches(given: str | None, expected: str) -> bool:
    """Constant-time comparison. Header values may hold any byte (aiohttp keeps the ones that
    are not UTF-8 as surrogates), so both sides are encoded in a way that cannot fail."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"),
                               expected.encode("utf-8", "surrogatepass"))
