"""The page for people: a live control panel at ``/``, a Thing's panel, and API docs at ``/docs``.

Layer: HTTP (starlette, the server state, ``wire``). The page is plain files
shipped in the package (``assets/``: HTML, JavaScript, CSS, and Swagger UI for
the docs): no build step, nothing fetched from the internet, since labs are
often offline. It drives the server through the same public HTTP API and event
streams as any other client. Each HTML page is filled in per request with the
path it is served under, so its relative links work behind any mount prefix.
"""

from __future__ import annotations

import html
from pathlib import Path
from string import Template

from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from ..thing import Thing
from .state import server_state
from .wire import API_ROOT, accepted

__all__ = ("ASSETS", "docs", "page_routes", "panel", "thing_panel", "wants_html")

ASSETS = Path(__file__).parent / "assets"
"""The page's files, served under ``/static/``."""

_PANEL = Template((ASSETS / "panel.html").read_text(encoding="utf-8"))
_DOCS = Template((ASSETS / "docs.html").read_text(encoding="utf-8"))

# Scripts and styles come from this server only: a value shown on the page can
# never run as code, whatever a Thing or a client put in it.
_PANEL_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; img-src 'self' data: blob:; object-src 'none'; base-uri 'self'"
    ),
    "Cache-Control": "no-cache",
    "X-Content-Type-Options": "nosniff",
}
_DOCS_HEADERS = {"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"}

_JSON_TYPES = ("application/json", "application/td+json")


def wants_html(request: Request) -> bool:
    """True when the client asks for HTML before JSON: a browser opening the URL.

    Only an explicit ``text/html`` counts, so ``*/*`` (httpx, curl, LabThings'
    client) and ``application/json`` (node-wot) still get JSON; ``?format=json``
    gets JSON in a browser too.
    """
    if request.query_params.get("format") == "json":
        return False
    qualities = accepted(request)
    html_quality = qualities.get("text/html", 0.0)
    json_quality = max(qualities.get(media_type, 0.0) for media_type in _JSON_TYPES)
    return html_quality > 0 and html_quality >= json_quality


def _root(request: Request) -> str:
    """The path of the API root (every mount point and the prefix), ending in /."""
    root: str = request.scope[API_ROOT]
    return root.rstrip("/") + "/"


def _panel(request: Request, *, thing: Thing | None) -> Response:
    page = _PANEL.substitute(
        root=html.escape(_root(request)),
        thing=html.escape(thing.name if thing is not None else ""),
        title=html.escape(thing.title if thing is not None else "Control panel"),
    )
    headers = dict(_PANEL_HEADERS)
    if thing is not None:
        headers["Vary"] = "Accept"
    return HTMLResponse(page, headers=headers)


def thing_panel(request: Request, thing: Thing) -> Response:
    """The panel of one Thing, for a browser opening the Thing's URL."""
    return _panel(request, thing=thing)


async def panel(request: Request) -> Response:
    """``GET /``: the control panel of every Thing."""
    return _panel(request, thing=None)


async def docs(request: Request) -> Response:
    """``GET /docs``: the interactive reference of ``/openapi.json``, with a link to each TD."""
    links = "\n".join(
        f'<li><a href="{html.escape(name)}/?format=json">{html.escape(thing.title)}</a> '
        f"<code>{html.escape(name)}</code></li>"
        for name, thing in server_state(request).manager.things.items()
    )
    page = _DOCS.substitute(root=html.escape(_root(request)), things=links)
    return HTMLResponse(page, headers=_DOCS_HEADERS)


def page_routes() -> list[BaseRoute]:
    """The routes of the control panel, the API docs and their files."""
    return [
        Route("/", panel),
        Route("/docs", docs),
        Route("/docs/", docs),
        Mount("/static", app=StaticFiles(directory=ASSETS), name="static"),
    ]
