"""The page for people, in-process: where the panel and docs are served, and to whom.

What the page does in a browser is tested in tests/browser; here, the routes:
the panel and docs HTML under any prefix or mount, the files they load, the
Thing URL answering browsers with the panel and programs with the TD, and
``panel=False``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
from inprocess import in_process
from starlette.applications import Starlette
from starlette.routing import Mount

import labthings_async as lt
from labthings_async.http.page import ASSETS

BROWSER = "text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,*/*;q=0.8"


class Lamp(lt.Thing):
    """A lamp."""

    brightness: int = lt.property(default=0)


def base_of(html: str) -> str:
    match = re.search(r'<base href="([^"]*)">', html)
    assert match, html[:300]
    return match.group(1)


def assets_of(html: str) -> list[str]:
    """The page's own files: script sources, stylesheets and icons."""
    return re.findall(r'(?:src|href)="(static/[^"]+)"', html)


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_the_panel_is_served_at_the_root_with_relative_links_under_the_prefix(prefix: str) -> None:
    with in_process(lt.ThingServer({"lamp": Lamp()}, prefix=prefix).app) as client:
        reply = client.get(f"{prefix}/")
        assert reply.status_code == 200
        assert reply.headers["content-type"] == "text/html; charset=utf-8"
        assert "default-src 'self'" in reply.headers["content-security-policy"]
        assert base_of(reply.text) == f"{prefix}/"
        assets = assets_of(reply.text)
        assert {"static/panel.js", "static/panel.css", "static/icon.svg"} <= set(assets)
        for asset in assets:
            assert client.get(f"{prefix}/{asset}").status_code == 200, asset


def test_the_panel_knows_its_mount_point_in_a_host_app() -> None:
    server = lt.ThingServer({"lamp": Lamp()})

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with server.lifespan():
            yield

    host = Starlette(routes=[Mount("/lab", app=server.app)], lifespan=lifespan)
    with in_process(host) as client:
        assert base_of(client.get("/lab/").text) == "/lab/"
        assert base_of(client.get("/lab/docs").text) == "/lab/"
        assert base_of(client.get("/lab/lamp/", headers={"Accept": BROWSER}).text) == "/lab/"


def test_the_page_modules_import_only_files_that_exist() -> None:
    """Every ES module import and stylesheet reference resolves to a shipped file."""
    for script in ASSETS.glob("*.js"):
        for target in re.findall(r'from "\./([^"]+)"', script.read_text()):
            assert (ASSETS / target).is_file(), f"{script.name} imports missing {target}"


def test_the_docs_load_swagger_ui_from_the_package_and_link_each_td() -> None:
    with in_process(lt.ThingServer({"lamp": Lamp()}).app) as client:
        reply = client.get("/docs")
        assert reply.status_code == 200
        assert 'href="lamp/?format=json"' in reply.text
        assets = assets_of(reply.text)
        assert "static/swagger-ui/swagger-ui-bundle.js" in assets
        for asset in assets:
            assert client.get(f"/{asset}").status_code == 200, asset
        # The licence travels with the viewer.
        assert client.get("/static/swagger-ui/LICENSE").status_code == 200
        # Nothing on the page points anywhere but this server.
        assert "http://" not in reply.text and "https://" not in reply.text
        assert client.get("/docs/").status_code == 200


def test_a_browser_opening_a_thing_gets_its_panel_and_programs_get_the_td() -> None:
    with in_process(lt.ThingServer({"lamp": Lamp()}).app) as client:
        page = client.get("/lamp/", headers={"Accept": BROWSER})
        assert page.headers["content-type"] == "text/html; charset=utf-8"
        assert 'data-thing="lamp"' in page.text
        assert page.headers["vary"] == "Accept"
        for accept in ("*/*", "application/json", "application/td+json", ""):
            td = client.get("/lamp/", headers={"Accept": accept})
            assert td.headers["content-type"] == "application/json", accept
            assert td.json()["title"] == "Lamp"
            assert td.headers["vary"] == "Accept"
        # JSON preferred to HTML, and the explicit request for JSON from a browser.
        assert client.get("/lamp/", headers={"Accept": "application/json, text/html;q=0.5"}).json()
        assert (
            client.get("/lamp/?format=json", headers={"Accept": BROWSER}).json()["title"] == "Lamp"
        )


def test_unknown_page_files_are_404_problems() -> None:
    with in_process(lt.ThingServer({"lamp": Lamp()}).app) as client:
        missing = client.get("/static/nothing.js")
        assert missing.status_code == 404
        assert missing.headers["content-type"] == "application/problem+json"
        assert "/static/nothing.js" in missing.json()["detail"]
        # No way out of the assets folder.
        assert client.get("/static/%2e%2e/page.py").status_code == 404


def test_panel_false_serves_the_api_alone() -> None:
    with in_process(lt.ThingServer({"lamp": Lamp()}, panel=False).app) as client:
        for path in ("/", "/docs", "/static/panel.js"):
            reply = client.get(path, headers={"Accept": BROWSER})
            assert reply.status_code == 404, path
            assert reply.headers["content-type"] == "application/problem+json"
        td = client.get("/lamp/", headers={"Accept": BROWSER})
        assert td.headers["content-type"] == "application/json"
        assert "vary" not in td.headers
        assert client.get("/openapi.json").status_code == 200
