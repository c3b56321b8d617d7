"""The web inspector's pages: served with a strict CSP, self-contained (no CDN), and data only ever as text."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from importlib import resources

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from hookgate.admin.web import CONTENT_SECURITY_POLICY, PAGES, add_inspector_pages

STATIC = resources.files("hookgate.admin.web").joinpath("static")
HTML = sorted(p.name for p in STATIC.iterdir() if p.name.endswith(".html"))


@pytest.fixture
async def client() -> AsyncIterator[TestClient]:
    app = web.Application()
    add_inspector_pages(app)
    async with TestClient(TestServer(app)) as c:
        yield c


@pytest.mark.parametrize(
    "path",
    [
        "/admin/ui/login",
        "/admin/ui/triggers",
        "/admin/ui/triggers/new",
        "/admin/ui/triggers/abc",
        "/admin/ui/events/e-1",
    ],
)
async def test_every_page_is_html_with_a_strict_policy(client: TestClient, path: str) -> None:
    resp = await client.get(path)
    assert resp.status == 200
    assert resp.content_type == "text/html"
    assert resp.headers["Content-Security-Policy"] == CONTENT_SECURITY_POLICY
    assert "script-src 'self'" in CONTENT_SECURITY_POLICY
    assert "unsafe-inline" not in CONTENT_SECURITY_POLICY
    assert "unsafe-eval" not in CONTENT_SECURITY_POLICY
    assert resp.headers["X-Content-Type-Options"] == "nosniff"
    assert resp.headers["X-Frame-Options"] == "DENY"
    assert resp.headers["Cache-Control"] == "no-store"
    page = (await resp.text()).split('data-page="')[1].split('"')[0]
    assert f"{page}.html" in HTML


async def test_the_pages_map_to_the_files(client: TestClient) -> None:
    assert {f for f, _, _ in PAGES.values()} | {"layout.html"} == set(HTML)
    new = await (await client.get("/admin/ui/triggers/new")).text()
    assert 'data-page="new"' in new  # not taken for a trigger whose id is "new"


@pytest.mark.parametrize("path", sorted(PAGES))
async def test_each_page_is_the_layout_around_its_own_main(client: TestClient, path: str) -> None:
    name, title, page = PAGES[path]
    text = await (await client.get("/admin/ui" + path.replace("{trigger_id}", "t").replace("{event_id}", "e"))).text()
    assert text.startswith("<!doctype html>\n")
    assert text.endswith("</body>\n</html>\n")
    assert "{{" not in text
    assert text.count("<title>") == 1
    assert f"<title>{title} · hookgate inspector</title>" in text
    assert f'<body data-page="{page}">' in text
    assert text.count("<main>") == text.count("</main>") == 1
    assert STATIC.joinpath(name).read_text(encoding="utf-8") in text


async def test_assets_have_their_types_and_nothing_else_is_served(client: TestClient) -> None:
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css"), ("favicon.svg", "image/svg+xml")):
        resp = await client.get(f"/admin/ui/static/{name}")
        assert resp.status == 200
        assert resp.content_type == kind
        assert resp.headers["X-Content-Type-Options"] == "nosniff"
    for name in ("login.html", "layout.html", "../pages.py", "%2e%2e%2fpages.py", "nope.js"):
        assert (await client.get(f"/admin/ui/static/{name}")).status == 404
    home = await client.get("/admin/ui", allow_redirects=False)
    assert home.status == 302
    assert home.headers["Location"] == "/admin/ui/triggers"


@pytest.mark.parametrize("name", HTML)
def test_pages_load_nothing_from_elsewhere_and_run_no_inline_code(name: str) -> None:
    text = STATIC.joinpath(name).read_text(encoding="utf-8")
    for ref in re.findall(r'(?:src|href)="([^"]*)"', text):
        assert ref.startswith("/admin/ui/"), ref
    assert "http://" not in text
    assert "https://" not in text
    assert re.search(r"<script(?![^>]*\bsrc=)", text) is None  # every script is a file
    assert re.search(r"\son[a-z]+=", text) is None  # no inline handlers
    assert "style=" not in text
    assert "<style" not in text


def test_the_script_writes_data_as_text_only() -> None:
    script = STATIC.joinpath("app.js").read_text(encoding="utf-8")
    code = "\n".join(line for line in script.splitlines() if not line.lstrip().startswith("//"))
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function", "srcdoc"):
        assert sink not in code, sink
    assert "http://" not in code
    assert "https://" not in code
    # Tokens stay in the tab: session storage, never local storage or cookies.
    assert "sessionStorage" in code
    assert "localStorage" not in code
    assert "document.cookie" not in code


def test_the_stylesheet_loads_nothing() -> None:
    css = STATIC.joinpath("style.css").read_text(encoding="utf-8")
    assert "url(" not in css
    assert "@import" not in css
