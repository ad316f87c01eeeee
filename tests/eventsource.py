"""Read Server-Sent Events in tests exactly as a browser's EventSource would.

The parser itself is ``labthings_async.client.eventsource`` (the WHATWG algorithm, no
I/O); this module adds the helpers tests use to read a streamed httpx2
response with it. Nothing here depends on the server, so it can test any.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable, Generator, Mapping

import httpx2

from labthings_async.client.eventsource import EventStreamParser, SSEEvent

__all__ = (
    "EventStreamParser",
    "SSEEvent",
    "aiter_events",
    "iter_events",
    "read_events",
)

_EVENT_STREAM = "text/event-stream"
_BODY_PREVIEW_BYTES = 200
_BODY_PREVIEW_SECONDS = 0.2


async def aiter_events(
    response: httpx2.Response, parser: EventStreamParser | None = None
) -> AsyncGenerator[SSEEvent]:
    """Yield the events of a streamed response as they arrive.

    Args:
        response: A response opened with ``AsyncClient.stream``; its body must
            not have been read yet.
        parser: The parser to feed, so the caller can inspect its comments,
            ``retry`` and ``last_event_id`` afterwards; a new one by default.

    Yields:
        Each event once its terminating blank line has arrived. An unfinished
        event at the end of the body is discarded.
    """
    parser = EventStreamParser() if parser is None else parser
    # aiter_bytes rather than aiter_raw: it undoes any Content-Encoding, as a
    # browser would, and otherwise passes each received chunk straight on.
    async with contextlib.aclosing(response.aiter_bytes()) as chunks:
        async for chunk in chunks:
            for event in parser.feed(chunk):
                yield event


def iter_events(
    response: httpx2.Response, parser: EventStreamParser | None = None
) -> Generator[SSEEvent]:
    """Yield the events of a streamed response; the synchronous `aiter_events`.

    Args:
        response: A response opened with ``Client.stream``; its body must not
            have been read yet.
        parser: The parser to feed; a new one by default.

    Yields:
        Each event once its terminating blank line has arrived.
    """
    parser = EventStreamParser() if parser is None else parser
    for chunk in response.iter_bytes():
        yield from parser.feed(chunk)


async def read_events(
    client: httpx2.AsyncClient,
    url: str,
    *,
    headers: Mapping[str, str] | None = None,
    until: Callable[[SSEEvent], bool] | None = None,
    limit: int | None = None,
    # A deadline per call keeps each test's waiting in one visible place.
    timeout: float = 10,  # noqa: ASYNC109
) -> tuple[list[SSEEvent], EventStreamParser]:
    """GET an event stream and collect its events.

    Reading stops after the first event for which ``until`` returns true, after
    ``limit`` events, or when the server ends the body, whichever is first.
    The connection is closed on return.

    Args:
        client: The client to send the request with.
        url: The event stream's URL.
        headers: Extra request headers; ``Accept: text/event-stream`` is sent
            unless overridden here.
        until: Called with each event; true stops reading.
        limit: The most events to read.
        timeout: Seconds allowed for the whole exchange.

    Returns:
        The events read, and the parser, whose ``comments``, ``retry`` and
        ``last_event_id`` describe the stream up to the point reading stopped.

    Raises:
        AssertionError: If the response is not a 200 ``text/event-stream``.
        TimeoutError: If reading has not stopped within ``timeout`` seconds.
        ValueError: If ``limit`` is less than 1.
    """
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1 or None, got {limit}")
    request_headers = httpx2.Headers({"Accept": _EVENT_STREAM})
    request_headers.update(headers)
    parser = EventStreamParser()
    events: list[SSEEvent] = []
    try:
        async with asyncio.timeout(timeout):
            # One deadline governs the exchange, so httpx2's own timeouts
            # (5 s per read by default) are switched off for this request.
            async with client.stream("GET", url, headers=request_headers, timeout=None) as response:
                await _check_event_stream(response)
                async with contextlib.aclosing(aiter_events(response, parser)) as stream:
                    async for event in stream:
                        events.append(event)
                        if until is not None and until(event):
                            break
                        if limit is not None and len(events) >= limit:
                            break
    except TimeoutError as error:
        awaited = "the event `until` accepts" if until is not None else "the stream to end"
        if limit is not None:
            awaited = f"{limit} events or {awaited}"
        raise TimeoutError(
            f"GET {url}: waited {timeout} s for {awaited}, got {len(events)} events: {events!r}; "
            f"comments {parser.comments!r}"
        ) from error
    return events, parser


async def _check_event_stream(response: httpx2.Response) -> None:
    content_type = response.headers.get("content-type", "")
    essence = content_type.partition(";")[0].strip().lower()
    if response.status_code == 200 and essence == _EVENT_STREAM:
        return
    # Read only the start of the body, briefly: a wrong route may stream forever too.
    body = b""
    with contextlib.suppress(TimeoutError):
        async with (
            asyncio.timeout(_BODY_PREVIEW_SECONDS),
            contextlib.aclosing(response.aiter_bytes()) as chunks,
        ):
            async for chunk in chunks:
                body += chunk
                if len(body) >= _BODY_PREVIEW_BYTES:
                    break
    raise AssertionError(
        f"GET {response.request.url} answered {response.status_code} with content-type "
        f"{content_type!r}; an event stream needs 200 and {_EVENT_STREAM!r}. "
        f"Body starts: {body[:_BODY_PREVIEW_BYTES]!r}"
    )
