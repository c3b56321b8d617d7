"""The inspector's routes: one static HTML page per view, plus its script, stylesheet and icon."""

from __future__ import annotations

from importlib import resources
from typing import Final

from aiohttp import web

UI_PREFIX: Final = "/admin/ui"

CONTENT_SECURITY_POLICY: Final = "; ".join(
    (
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "form-action 'self'",
        "base-uri 'none'",
        "frame-ancestors 'none'",
    )
)
"""No inline script or style, nothing from another origin; the API is fetched from this origin only."""

_SECURITY_HEADERS: Final = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cache-Control": "no-store",
}

# path under UI_PREFIX -> (the page's <main> in static/, its title, its data-page name for app.js);
# {id} parts are read by the page's script from its own URL
PAGES: Final = {
    "/login": ("login.html", "Log in", "login"),
    "/triggers": ("triggers.html", "Triggers", "triggers"),
    "/triggers/new": ("new.html", "New trigger", "new"),
    "/triggers/{trigger_id}": ("trigger.html", "Trigger", "trigger"),
    "/events/{event_id}": ("event.html", "Event", "event"),
}

_ASSETS: Final = {
    "app.js": "text/javascript",
    "style.css": "text/css",
    "favicon.svg": "image/svg+xml",
}


def _read(name: str) -> bytes:
    return resources.files("hookgate.admin.web").joinpath("static", name).read_bytes()


def compose(layout: str, main: str, title: str, page: str) -> bytes:
    """A whole page: ``layout`` (``static/layout.html``: head, header, toast; the same for every page) around
    ``main``."""
    return layout.replace("{{title}}", title).replace("{{page}}", page).replace("{{main}}", main).encode("utf-8")


def _page(body: bytes) -> web.Response:
    return web.Response(body=body, content_type="text/html", charset="utf-8", headers=_SECURITY_HEADERS)


def add_inspector_pages(app: web.Application, prefix: str = UI_PREFIX) -> None:
    """Add the inspector's pages to ``app`` under ``prefix`` (``/admin/ui``: the script calls ``/admin/...``).

    The files are read once, here, so a broken install fails at start-up rather than on a page view.
    """
    layout = _read("layout.html").decode("utf-8")
    pages = {
        path: compose(layout, _read(name).decode("utf-8"), title, page) for path, (name, title, page) in PAGES.items()
    }
    assets = {name: (_read(name), kind) for name, kind in _ASSETS.items()}

    def serve(body: bytes) -> web.Response:
        return _page(body)

    for path, body in pages.items():

        async def handle(_request: web.Request, body: bytes = body) -> web.Response:
            return serve(body)

        app.router.add_get(prefix + path, handle, allow_head=True)

    async def asset(request: web.Request) -> web.Response:
        found = assets.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound(
                text='{"error": "not_found", "message": "No such file."}', content_type="application/json"
            )
        body, kind = found
        headers = {**_SECURITY_HEADERS, "Cache-Control": "no-cache"}
        return web.Response(body=body, content_type=kind, charset="utf-8", headers=headers)

    async def home(_request: web.Request) -> web.Response:
        raise web.HTTPFound(prefix + "/triggers")

    app.router.add_get(prefix + "/static/{name}", asset, allow_head=True)
    app.router.add_get(prefix, home, allow_head=True)
    app.router.add_get(prefix + "/", home, allow_head=True)
