"""A test client for an app: Starlette's ``TestClient``, for ``ThingServer.test_client()``.

Layer: HTTP (starlette). Imported when asked for: Starlette's TestClient needs
``httpx``, which serving does not.
"""

from __future__ import annotations

from typing import Any

from starlette.testclient import TestClient

__all__ = ("TestClient", "open_test_client")


def open_test_client(app: Any) -> TestClient:
    """A TestClient for ``app``; use it with ``with`` to run the app's lifespan."""
    return TestClient(app)
