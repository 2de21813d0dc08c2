"""The dashboard: its page at ``/`` and its files under ``/static/`` (no token needed; the
page asks for one before it requests any data)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

__all__ = ["STATIC_DIR", "routes"]

STATIC_DIR = Path(__file__).parent / "static"

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})


routes.static("/static/", STATIC_DIR, show_index=False)
