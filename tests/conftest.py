"""Fixtures for end-to-end tests: a real hypercorn on an OS-assigned loopback port.

Each server listens on a socket bound to ``127.0.0.1:0`` before it starts, so a
client may connect at once (the kernel queues the connection until hypercorn
accepts it) and no test ever races another for a port.
"""

from __future__ import annotations

import asyncio
import importlib.util
import signal
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, AsyncExitStack, asynccontextmanager
from typing import Any, cast

import httpx2
import hypercorn.asyncio
import pytest
from hypercorn.typing import ASGIFramework
from serving import bound_socket, quiet_config

from labthings_async.server import ThingServer

pytest_plugins = ("browsing",)

# tests/browser imports Playwright and Pillow, which only the browser extra
# installs (`make test-browser` does). Without it those tests cannot be
# collected; the default run deselects them anyway (`-m "not browser"`).
collect_ignore = [] if importlib.util.find_spec("playwright") else ["browser"]

# Ctrl-C as on a terminal for the commands and scripts the tests interrupt. A
# test run started in the background of a script (`cmd &`, nohup, some CI
# runners) inherits SIGINT ignored, and so would every process it starts: a
# Python started that way never raises KeyboardInterrupt. A handler here is
# reset to the default in each child, which then installs Python's own.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

ServeThings = Callable[[ThingServer], Awaitable[str]]
"""Start a ThingServer on hypercorn; returns its root URL (no prefix, no trailing slash)."""

ServeApp = Callable[[Any], Awaitable[str]]
"""Start any ASGI app on hypercorn; returns its root URL (no trailing slash)."""

STOP_TIMEOUT = 10.0


async def _started(task: asyncio.Task[None], url: str) -> None:
    """Return once the server answers a request (any status), or raise why it died."""

    async def answer() -> None:
        async with httpx2.AsyncClient(timeout=STOP_TIMEOUT) as http:
            await http.get(f"{url}/.ready")

    request = asyncio.create_task(answer())
    await asyncio.wait({request, task}, return_when=asyncio.FIRST_COMPLETED)
    if not request.done():
        request.cancel()
        task.result()  # Raises what stopped the server before it served.
        raise RuntimeError("the server stopped before it answered")
    request.result()


async def _stop(task: asyncio.Task[None], stop: asyncio.Event) -> None:
    stop.set()
    await asyncio.wait_for(task, STOP_TIMEOUT)


@asynccontextmanager
async def running_thing_server(server: ThingServer) -> AsyncIterator[str]:
    """Serve ``server`` with ``ThingServer.serve``; yield its root URL (before any prefix)."""
    bind, port = bound_socket()
    stop = asyncio.Event()
    task = asyncio.create_task(
        server.serve(bind, shutdown_trigger=stop.wait, config=quiet_config())
    )
    url = f"http://127.0.0.1:{port}"
    await _started(task, url)
    try:
        yield url
    finally:
        await _stop(task, stop)


@asynccontextmanager
async def running_app(app: Any) -> AsyncIterator[str]:
    """Serve any ASGI app (a host app, say) with ``hypercorn.asyncio.serve``."""
    bind, port = bound_socket()
    config = quiet_config()
    config.bind = [bind]
    stop = asyncio.Event()
    # Starlette types the ASGI interface with plain mappings, hypercorn with
    # TypedDicts; they describe the same protocol.
    task = asyncio.create_task(
        hypercorn.asyncio.serve(cast(ASGIFramework, app), config, shutdown_trigger=stop.wait)
    )
    url = f"http://127.0.0.1:{port}"
    await _started(task, url)
    try:
        yield url
    finally:
        await _stop(task, stop)


def _starter(
    stack: AsyncExitStack, factory: Callable[..., AbstractAsyncContextManager[str]]
) -> Callable[..., Awaitable[str]]:
    async def start(*args: Any, **kwargs: Any) -> str:
        return await stack.enter_async_context(factory(*args, **kwargs))

    return start


@pytest.fixture
async def serve_things() -> AsyncIterator[ServeThings]:
    """``await serve_things(server)`` runs it until the test ends; returns the URL."""
    async with AsyncExitStack() as stack:
        yield _starter(stack, running_thing_server)


@pytest.fixture
async def serve_app() -> AsyncIterator[ServeApp]:
    """``await serve_app(app)`` runs an ASGI app until the test ends; returns the URL."""
    async with AsyncExitStack() as stack:
        yield _starter(stack, running_app)


@pytest.fixture
async def client() -> AsyncIterator[httpx2.AsyncClient]:
    """An HTTP client with a timeout short enough to fail a hung test quickly."""
    async with httpx2.AsyncClient(timeout=10.0) as http:
        yield http
