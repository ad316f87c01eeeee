"""Fixtures for the browser tests: Debian's Chromium driven by Playwright, real servers.

The tests are synchronous (Playwright's sync API); each server runs on its own
event loop in a thread, on a loopback socket bound before it starts. Run them
with ``make test-browser``; they need ``chromium`` on PATH and the ``browser``
extra. Screenshots land in ``tests/browser/artifacts/``.

A plugin loaded by the root conftest rather than a conftest of its own: the
tests import helpers ``from conftest``, which must stay the root one.
"""

from __future__ import annotations

import asyncio
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, cast

import httpx2
import hypercorn.asyncio
import pytest
from hypercorn.typing import ASGIFramework
from serving import bound_socket, quiet_config

from labthings_async.server import ThingServer

ARTIFACTS = Path(__file__).parent / "browser" / "artifacts"

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # performance.memory in whole bytes, for the memory measurement.
    "--enable-precise-memory-info",
]

WIDE = {"width": 1600, "height": 1000}
PHONE = {"width": 390, "height": 844}

Serve = Callable[..., str]
"""``serve(ThingServer)``, or ``serve(app=ASGI app, before_stop=callable)``: start
it, return its root URL. ``before_stop`` runs on the server's loop when the
test ends, before hypercorn waits for open connections."""


@pytest.fixture(scope="session")
def browser() -> Iterator[Any]:
    """One Chromium for the session (each test gets its own context)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        pytest.fail("the browser tests need the browser extra: make test-browser")
    executable = shutil.which("chromium")
    if executable is None:
        pytest.fail("the browser tests need Chromium on PATH (Debian: apt-get install chromium)")
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@pytest.fixture
def context(browser: Any) -> Iterator[Any]:
    """A fresh browser profile; page errors fail the test."""
    browser_context = browser.new_context(viewport=WIDE)
    errors: list[str] = []
    browser_context.on("weberror", lambda error: errors.append(str(error.error)))
    try:
        yield browser_context
    finally:
        browser_context.close()
    assert not errors, f"the page raised: {errors}"


@pytest.fixture
def page(context: Any) -> Any:
    """A tab of its own."""
    return context.new_page()


def screenshot(
    page: Any, name: str, *, full_page: bool = False, height: float | None = None
) -> Path:
    """Save a screenshot as a test artefact; returns its path.

    ``height``: the page's top that tall (CSS pixels), however tall the window.
    """
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    if height is None:
        page.screenshot(path=str(path), full_page=full_page)
    else:
        width = page.viewport_size["width"]
        clip = {"x": 0, "y": 0, "width": width, "height": height}
        page.screenshot(path=str(path), full_page=True, clip=clip)
    return path


def open_panel(page: Any, url: str) -> None:
    """Open a panel and wait until it says it is usable."""
    page.goto(url)
    page.wait_for_selector("body[data-state=ready]", timeout=20_000)


class _Running:
    """A server on its own event loop in a thread, stopped on request."""

    def __init__(self, start: Callable[[str, asyncio.Event], Any]) -> None:
        bind, port = bound_socket()
        self.url = f"http://127.0.0.1:{port}"
        self._ready = threading.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stop: asyncio.Event | None = None
        self._error: BaseException | None = None

        async def run() -> None:
            self._loop = asyncio.get_running_loop()
            self._stop = asyncio.Event()
            self._ready.set()
            await start(bind, self._stop)

        def main() -> None:
            try:
                asyncio.run(run())
            except BaseException as error:  # Reported by wait_until_up or stop.
                self._error = error
                self._ready.set()

        self._thread = threading.Thread(target=main, daemon=True)
        self._thread.start()
        self._wait_until_up()

    def _wait_until_up(self) -> None:
        assert self._ready.wait(20)
        deadline = time.monotonic() + 20
        while True:
            if self._error is not None:
                raise self._error
            try:
                httpx2.get(f"{self.url}/things/", timeout=5)
                return
            except httpx2.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def stop(self) -> None:
        if self._loop is not None and self._stop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(20)
        assert not self._thread.is_alive(), "the server did not stop"


@pytest.fixture
def serve() -> Iterator[Serve]:
    """Start servers for the test; all are stopped when it ends."""
    running: list[_Running] = []

    def start(
        server: ThingServer | None = None,
        *,
        app: Any = None,
        before_stop: Callable[[], None] | None = None,
    ) -> str:
        if server is not None:

            async def run(bind: str, stop: asyncio.Event) -> None:
                await server.serve(bind, shutdown_trigger=stop.wait, config=quiet_config())

        else:

            async def run(bind: str, stop: asyncio.Event) -> None:
                async def trigger() -> None:
                    await stop.wait()
                    if before_stop is not None:
                        before_stop()

                config = quiet_config()
                config.bind = [bind]
                await hypercorn.asyncio.serve(
                    cast(ASGIFramework, app), config, shutdown_trigger=trigger
                )

        instance = _Running(run)
        running.append(instance)
        return instance.url

    try:
        yield start
    finally:
        for instance in reversed(running):
            instance.stop()
