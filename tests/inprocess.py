"""In-process HTTP tests: an app driven by Starlette's ``TestClient``, no sockets.

``with in_process(server.app) as http:`` runs the app's lifespan (so a
ThingServer's manager and Things) on an event loop in a thread of the
TestClient's, and ``http.get(...)`` calls the app directly. Anything that must
run on that loop (the manager's own calls, an ``asyncio.Event`` a Thing
waits on) goes through ``on_loop``. An exception that escapes the app fails
the test: the server must answer every request.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from starlette.testclient import TestClient

__all__ = ("in_process", "on_loop")


@contextmanager
def in_process(app: Any, **options: Any) -> Iterator[TestClient]:
    """A TestClient for ``app`` with its lifespan running; redirects are not followed."""
    with TestClient(app, follow_redirects=False, **options) as client:
        yield client


def on_loop(http: TestClient, func: Callable[..., Any], *args: Any) -> Any:
    """Call ``func(*args)`` on the app's event loop (awaiting it, if it is a coroutine function)."""
    portal = http.portal
    if portal is None:
        raise RuntimeError("on_loop needs the TestClient entered: `with in_process(app) as http`")
    return portal.call(func, *args)
