"""The API docs at /docs in a real Chromium: read the reference, try a request."""

from __future__ import annotations

from typing import Any

import pytest
from browsing import Serve, screenshot
from playwright.sync_api import expect

import labthings_async as lt
from labthings_async.examples.microscope import Microscope

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)


@pytest.mark.parametrize("prefix", ["", "/api"])
def test_the_docs_run_a_request_and_link_each_thing_description(
    page: Any, serve: Serve, prefix: str
) -> None:
    url = serve(lt.ThingServer({"microscope": Microscope()}, prefix=prefix))
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{url}{prefix}/docs")
    operation = page.locator(".opblock-summary", has_text="/things/").first
    expect(operation).to_be_visible()
    screenshot(page, f"docs{prefix.replace('/', '-')}")
    operation.click()
    block = page.locator(".opblock.is-open").first
    # Opened ready to try (tryItOutEnabled): one press runs the request.
    block.get_by_role("button", name="Execute").click()
    response = block.locator(".live-responses-table tbody tr.response")
    expect(response.locator(".response-col_status")).to_have_text("200")
    expect(response.locator(".response-col_description")).to_contain_text(
        f'"microscope": "{url}{prefix}/microscope/"'
    )
    # Everything the page loaded came from this server: it works offline.
    assert requested and all(address.startswith(url) for address in requested), requested
    link = page.get_by_role("link", name="Microscope", exact=True)
    assert link.get_attribute("href") == "microscope/?format=json"
    link.click()
    expect(page.locator("body")).to_contain_text('"title":"Microscope"')
