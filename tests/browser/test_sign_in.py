"""The panel on a server with tokens, in a real Chromium: the person signs in, and it works.

Guards issue 14, point 12 for the page: a server with tokens answers the
page's requests with 401 and its event streams, which a browser cannot send
a header to, likewise. The page asks for a token, sends it with every
request, and opens its streams with a read-only stream token in the URL.
"""

from __future__ import annotations

from typing import Any

import pytest
from browsing import Serve, open_panel
from playwright.sync_api import expect

import labthings_async as lt
from labthings_async.examples.microscope import Microscope

pytestmark = pytest.mark.browser

expect.set_options(timeout=20_000)

OPERATOR = "panel-operator-4c1d"
OBSERVER = "panel-observer-9e2b"


def secured(serve: Serve) -> str:
    tokens = {"operate": [OPERATOR], "observe": [OBSERVER]}
    return serve(lt.ThingServer({"microscope": Microscope()}, tokens=tokens))


def sign_in(page: Any, token: str) -> None:
    dialog = page.get_by_role("dialog", name="This server needs a token")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Token").fill(token)
    dialog.get_by_role("button", name="Sign in").click()


def test_the_panel_asks_for_a_token_then_shows_live_values_and_invokes(
    page: Any, serve: Serve
) -> None:
    url = secured(serve)
    # Every request the page sends, as the browser sends it (an EventSource's
    # among them, which the resource-timing list only holds once it ends).
    requested: list[str] = []
    page.on("request", lambda request: requested.append(request.url))
    page.goto(f"{url}/")
    sign_in(page, "not-a-token")
    # A refused token: asked again, saying so.
    expect(page.get_by_role("dialog")).to_contain_text("not accepted")
    sign_in(page, OPERATOR)
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    speed = page.locator("#thing-microscope .property[data-property=speed] output")
    expect(speed).to_have_text("500")
    expect(page.locator("#connection")).to_have_text("Live")  # The stream token works.
    card = page.locator(".action[data-action=move_to]")
    card.get_by_label("x").fill("5")
    card.get_by_label("y").fill("5")
    card.get_by_role("button", name="Invoke").click()
    expect(card.locator(".invocation-view .status")).to_have_text("completed")
    # The token is never in a URL the page opened; only the stream token is.
    assert not any(OPERATOR in entry for entry in requested)
    assert any("access_token=st1." in entry for entry in requested)


def test_an_observer_watches_but_the_server_refuses_its_invocation(page: Any, serve: Serve) -> None:
    url = secured(serve)
    page.goto(f"{url}/")
    sign_in(page, OBSERVER)
    expect(page.locator("body")).to_have_attribute("data-state", "ready")
    expect(page.locator("#connection")).to_have_text("Live")
    card = page.locator(".action[data-action=move_to]")
    card.get_by_label("x").fill("5")
    card.get_by_label("y").fill("5")
    card.get_by_role("button", name="Invoke").click()
    expect(card).to_contain_text("operate token")


def test_a_server_without_tokens_asks_for_none(page: Any, serve: Serve) -> None:
    url = serve(lt.ThingServer({"microscope": Microscope()}))
    open_panel(page, f"{url}/")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.locator("#connection")).to_have_text("Live")
