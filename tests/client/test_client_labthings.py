"""Our clients against a real LabThings-FastAPI 0.3.0 server: the migration path.

LabThings 0.3.0 offers no event streams, so invocations are followed by
polling ``links[rel=self]``. The server runs in a subprocess (uvicorn) on a
socket this test binds, so the port is known before it starts.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx2
import pytest
from script_server import serve_script

from labthings_async import (
    ActionCancelledError,
    ActionFailedError,
    AsyncThingClient,
    InvalidArgumentsError,
    InvocationStatus,
    NotFoundError,
    PropertyNotWritableError,
    ThingClient,
)

SERVER = Path(__file__).parents[1] / "labthings_server.py"
TIMEOUT = 20.0  # The first request waits for FastAPI to import.


@pytest.fixture(scope="module")
def demo_url() -> Iterator[str]:
    """The URL of Thing ``demo`` on a LabThings 0.3.0 server in a subprocess."""
    with serve_script(SERVER, "/demo/") as url:
        yield url


def record(requests: list[str]) -> dict[str, list[Any]]:
    def note(request: httpx2.Request) -> None:
        requests.append(f"{request.method} {request.url.path}")

    return {"request": [note]}


def test_properties(demo_url: str) -> None:
    with ThingClient.from_url(demo_url.rstrip("/"), timeout=TIMEOUT) as demo:
        demo.counter = 5  # LabThings answers 201, not 204.
        assert demo.counter == 5
        assert demo.read_property("label") == "hi"
        with pytest.raises(PropertyNotWritableError):
            demo.label = "other"
        with pytest.raises(InvalidArgumentsError, match="Expected `int`, got `str`"):
            demo.counter = "six"


def test_actions_are_followed_by_polling(demo_url: str) -> None:
    requests: list[str] = []
    with (
        httpx2.Client(timeout=TIMEOUT, event_hooks=record(requests)) as http,
        ThingClient.from_url(demo_url, http=http) as demo,
    ):
        assert demo.add(a=2, b=3) == 5
        assert demo.zero() == 0
        handle = demo.start_action("slow", t=0.1)
        assert handle.result(timeout=TIMEOUT) == "done"
    assert not any(line.endswith("/events") for line in requests)
    assert any(line.startswith("GET /action_invocations/") for line in requests)
    assert [event.data for event in handle.events() if event.name == "status"][-1] == "completed"


def test_a_failure_raises_action_failed_error(demo_url: str) -> None:
    with (
        ThingClient.from_url(demo_url, timeout=TIMEOUT) as demo,
        pytest.raises(ActionFailedError) as failed,
    ):
        demo.fail(msg="kaboom")
    error = failed.value
    assert error.problem is not None
    assert (error.problem.title, error.problem.detail) == ("ValueError", "kaboom")
    assert error.invocation["status"] == "error"
    assert any("ValueError: kaboom" in note for note in error.__notes__)


def test_arguments_are_checked_against_a_labthings_td(demo_url: str) -> None:
    requests: list[str] = []
    with (
        httpx2.Client(timeout=TIMEOUT, event_hooks=record(requests)) as http,
        ThingClient.from_url(demo_url, http=http) as demo,
    ):
        requests.clear()
        with pytest.raises(InvalidArgumentsError, match=r"at `\$\.a`"):
            demo.add(a="two")
        with pytest.raises(InvalidArgumentsError, match="unknown field `c`"):
            demo.add(a=1, c=2)
        with pytest.raises(NotFoundError, match="has no action 'subtract'"):
            demo.invoke_action("subtract")
    assert requests == []


def test_fastapi_validation_errors_become_invalid_arguments(demo_url: str) -> None:
    with httpx2.Client(timeout=TIMEOUT) as http:
        description = http.get(demo_url).json()
        del description["actions"]["add"]["input"]["properties"]["a"]["type"]
        with (
            ThingClient(demo_url, description, http=http) as demo,
            pytest.raises(InvalidArgumentsError) as invalid,
        ):
            demo.add(a="two")  # Nothing to check locally: the server finds it.
    assert invalid.value.path == "$.a"
    assert invalid.value.problem is not None
    assert invalid.value.problem.status == 422


async def test_async_client_follows_and_cancels_by_polling(demo_url: str) -> None:
    async with await AsyncThingClient.from_url(demo_url, timeout=TIMEOUT) as demo:
        assert await demo.add(a=40, b=2) == 42
        handle = await demo.start_action("slow", t=30)
        async with asyncio.timeout(TIMEOUT):
            async for event in handle:
                if event.data == InvocationStatus.RUNNING:
                    break
        await handle.cancel()
        with pytest.raises(ActionCancelledError):
            await handle.result(timeout=TIMEOUT)
