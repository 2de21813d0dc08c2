"""The dashboard: its page at ``/`` and its files under ``/static/`` (no token needed; the
page asks for one before it requests any data)."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web

from web.api_spec import Answer, Operation, Param
from web.core import ClientError

__all__ = ["API", "STATIC_DIR", "routes"]

STATIC_DIR = Path(__file__).parent / "static"
STATIC_ROOT = STATIC_DIR.resolve()

routes = web.RouteTableDef()


@routes.get("/")
async def index(request: web.Request) -> web.StreamResponse:
    return web.FileResponse(STATIC_DIR / "index.html", headers={"Cache-Control": "no-store"})


@routes.get("/static/{filename:.+}")
async def static(request: web.Request) -> web.StreamResponse:
    """A file under ``web/static/`` (aiohttp's FileResponse: content type, ETag, ranges); a
    missing one, a directory or a path out of the folder is a JSON 404."""
    filename = request.match_info["filename"]
    try:
        path = (STATIC_DIR / filename).resolve()
    except (OSError, ValueError):
        path = None
    if path is None or not path.is_relative_to(STATIC_ROOT) or not path.is_file():
        raise ClientError(404, "not_found", f"no file {filename!r} under /static/")
    return web.FileResponse(path)

API = (
    Operation("GET", "/", "The dashboard's page", public=True, tag="dashboard",
              ok={200: Answer("the page", content_type="text/html")}),
    Operation("GET", "/static/{filename}", "The dashboard's files (scripts, styles, the chart "
              "library)", public=True, tag="dashboard", errors=(404,),
              params=(Param("filename", "a file under web/static/",
                            {"type": "string", "examples": ["js/main.js"]}, where="path"),),
              ok={200: Answer("the file", content_type="*/*")}),
)
