"""Ways a client learns that an invocation has finished, over one raw connection.

- ``wait``: one POST with ``Prefer: wait=N`` (ours; RFC 7240), which answers
  when the action is done.
- ``poll``: POST, then GET the invocation's ``self`` link again and again,
  with no pause ("tight polling"), until it is finished.
- ``client_schedule``: POST, then poll on LabThings-FastAPI ``ThingClient``'s
  schedule: 0.05 s before the first GET, 0.5 s between later ones.
- ``sse``: POST, then follow the invocation's ``events`` link (ours) until the
  terminal ``status`` event: the minimal raw SSE reader.

Each returns the finished invocation (or its terminal status event) as a dict.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, Literal

import msgspec

from .http_client import Connection, Reply, path_of

__all__ = (
    "FINISHED",
    "InvocationRequestError",
    "Mode",
    "invoke",
    "invoke_polling",
    "invoke_sse",
    "link",
    "start",
)

FINISHED = frozenset({"completed", "error", "cancelled"})
Mode = Literal["wait", "poll", "client_schedule", "sse"]
Invoker = Callable[[Connection, str, bytes], Awaitable[dict[str, Any]]]


class InvocationRequestError(RuntimeError):
    """The server refused an invocation or a poll."""

    def __init__(self, reply: Reply, what: str) -> None:
        super().__init__(f"{what} answered {reply.status}: {reply.body[:200]!r}")
        self.reply = reply


def link(invocation: dict[str, Any], rel: str) -> str:
    """The path of the invocation's link with relation ``rel``."""
    for item in invocation.get("links", ()):
        if item.get("rel") == rel:
            return path_of(item["href"])
    raise KeyError(f"the invocation has no {rel!r} link")


async def start(
    connection: Connection, path: str, body: bytes = b"{}", headers: dict[str, str] | None = None
) -> dict[str, Any]:
    """POST an invocation; the created invocation.

    Raises:
        InvocationRequestError: The answer was not 201.
    """
    reply = await connection.request("POST", path, body, headers)
    if reply.status != 201:
        raise InvocationRequestError(reply, f"POST {path}")
    invocation: dict[str, Any] = reply.json()
    return invocation


async def _poll(
    connection: Connection, invocation: dict[str, Any], pauses: Callable[[int], float]
) -> dict[str, Any]:
    target = link(invocation, "self")
    count = 0
    while invocation["status"] not in FINISHED:
        pause = pauses(count)
        if pause:
            await asyncio.sleep(pause)
        reply = await connection.request("GET", target)
        if reply.status != 200:
            raise InvocationRequestError(reply, f"GET {target}")
        invocation = reply.json()
        count += 1
    return invocation


async def invoke_wait(connection: Connection, path: str, body: bytes = b"{}") -> dict[str, Any]:
    """POST with ``Prefer: wait=60``; poll tightly if it came back unfinished."""
    invocation = await start(connection, path, body, {"Prefer": "wait=60"})
    return await _poll(connection, invocation, lambda count: 0.0)


async def invoke_poll(connection: Connection, path: str, body: bytes = b"{}") -> dict[str, Any]:
    """POST, then GET the ``self`` link with no pause until finished."""
    return await _poll(connection, await start(connection, path, body), lambda count: 0.0)


async def invoke_polling(
    connection: Connection, path: str, body: bytes = b"{}", interval: float = 0.01
) -> dict[str, Any]:
    """POST, then GET the ``self`` link every ``interval`` seconds until finished."""
    return await _poll(connection, await start(connection, path, body), lambda count: interval)


async def invoke_client_schedule(
    connection: Connection, path: str, body: bytes = b"{}"
) -> dict[str, Any]:
    """POST, then poll as LabThings-FastAPI's ThingClient does (0.05 s, then 0.5 s)."""
    invocation = await start(connection, path, body)
    return await _poll(connection, invocation, lambda count: 0.05 if count == 0 else 0.5)


async def invoke_sse(connection: Connection, path: str, body: bytes = b"{}") -> dict[str, Any]:
    """POST, then read the invocation's event stream until its terminal status event."""
    invocation = await start(connection, path, body)
    if invocation["status"] in FINISHED:
        return invocation
    buffer = b""
    final: dict[str, Any] | None = None
    try:
        async for chunk in connection.stream(link(invocation, "events")):
            buffer += chunk
            *frames, buffer = buffer.split(b"\n\n")
            for frame in frames:
                event, data = _parse_frame(frame)
                if event == "status" and data:
                    status = msgspec.json.decode(data)
                    if status.get("status") in FINISHED:
                        final = status
    except BaseException:
        await connection.close()  # The stream was left half read.
        raise
    if final is None:
        raise RuntimeError("the event stream ended without a terminal status event")
    return final


def _parse_frame(frame: bytes) -> tuple[str, bytes]:
    event = "message"
    data: list[bytes] = []
    for line in frame.split(b"\n"):
        if line.startswith(b"event:"):
            event = line[6:].strip().decode()
        elif line.startswith(b"data:"):
            data.append(line[5:].lstrip(b" "))
    return event, b"\n".join(data)


_INVOKERS: dict[Mode, Invoker] = {
    "wait": invoke_wait,
    "poll": invoke_poll,
    "client_schedule": invoke_client_schedule,
    "sse": invoke_sse,
}


async def invoke(
    connection: Connection, mode: Mode, path: str, body: bytes = b"{}"
) -> dict[str, Any]:
    """Invoke the action at ``path`` and return once it has finished, the ``mode`` way."""
    return await _INVOKERS[mode](connection, path, body)
