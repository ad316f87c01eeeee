"""Read Server-Sent Events in tests exactly as a browser's EventSource would.

The parser follows the WHATWG HTML "event stream interpretation" algorithm
(https://html.spec.whatwg.org/multipage/server-sent-events.html#event-stream-interpretation),
so tests see the events a browser would. Imports only the standard library
and httpx2; nothing from labthings_async, so it can test any server.
"""

from __future__ import annotations

import asyncio
import codecs
import contextlib
import json
import re
from collections.abc import AsyncGenerator, Callable, Generator, Mapping
from dataclasses import dataclass
from typing import Any

import httpx2

__all__ = (
    "EventStreamParser",
    "SSEEvent",
    "aiter_events",
    "iter_events",
    "read_events",
)

_LINE_END = re.compile(r"\r\n|\r|\n")
_BOM = "\ufeff"
_EVENT_STREAM = "text/event-stream"
_BODY_PREVIEW_BYTES = 200
_BODY_PREVIEW_SECONDS = 0.2


@dataclass(frozen=True)
class SSEEvent:
    """One dispatched event, as a browser's ``MessageEvent`` would see it.

    Attributes:
        type: The ``event`` field, or ``"message"`` when the block had none.
        data: The ``data`` lines joined by ``"\\n"``.
        last_event_id: The stream's last event ID when the event was dispatched;
            it persists from earlier events that set ``id``.
    """

    type: str
    data: str
    last_event_id: str

    def json(self) -> Any:
        """Decode ``data`` as JSON.

        Returns:
            The decoded value.

        Raises:
            json.JSONDecodeError: If ``data`` is not JSON.
        """
        return json.loads(self.data)


class EventStreamParser:
    """Incremental parser for a ``text/event-stream`` body.

    Feed it the body's bytes in chunks of any size; a chunk may end inside a
    multi-byte UTF-8 character or between the CR and LF of a line end.

    Attributes:
        comments: The text of every comment line (``:`` lines) in arrival order,
            with the colon and one following space removed. The standard
            ignores comments; they are kept so tests can see keep-alives.
        retry: The last valid ``retry`` field (the reconnection time in
            milliseconds), or ``None`` if the server never sent one.
        last_event_id: The event source's last event ID string: the ID a
            reconnecting client would send as ``Last-Event-ID``. Like the
            standard's, it is updated at each blank line, not at the ``id`` line.
    """

    def __init__(self) -> None:
        self.comments: list[str] = []
        self.retry: int | None = None
        self.last_event_id = ""
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._seen_first_character = False
        self._after_cr = False
        self._partial_line = ""
        self._data: list[str] = []
        self._event_type = ""
        self._last_event_id_buffer = ""

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Parse the next piece of the stream.

        Args:
            chunk: The next bytes of the body, split anywhere.

        Returns:
            The events completed by this chunk, in order; often empty.
        """
        text = self._decoder.decode(chunk)
        if not text:
            # The decoder is holding back part of a multi-byte character.
            return []
        if not self._seen_first_character:
            self._seen_first_character = True
            text = text.removeprefix(_BOM)
        if self._after_cr and text.startswith("\n"):
            # The LF of a CRLF whose CR ended the previous chunk.
            text = text[1:]
        self._after_cr = text.endswith("\r")
        lines = _LINE_END.split(text)
        lines[0] = self._partial_line + lines[0]
        # The text after the last line end is an unfinished line; at the end
        # of the stream the standard discards it, so it simply stays here.
        self._partial_line = lines.pop()
        events: list[SSEEvent] = []
        for line in lines:
            event = self._process_line(line)
            if event is not None:
                events.append(event)
        return events

    def _process_line(self, line: str) -> SSEEvent | None:
        if not line:
            return self._dispatch()
        if line.startswith(":"):
            self.comments.append(line[1:].removeprefix(" "))
            return None
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        # Field names are compared literally, with no case folding. Other
        # fields, and id and retry fields with invalid values, are ignored.
        if field == "event":
            self._event_type = value
        elif field == "data":
            self._data.append(value)
        elif field == "id" and "\0" not in value:
            self._last_event_id_buffer = value
        elif field == "retry" and value.isascii() and value.isdigit():
            # isascii() because isdigit() alone accepts digits such as "²".
            self.retry = int(value)
        return None

    def _dispatch(self) -> SSEEvent | None:
        self.last_event_id = self._last_event_id_buffer
        data, event_type = self._data, self._event_type
        self._data, self._event_type = [], ""
        if not data:
            return None
        # Joining the lines is the standard's "append LF after each value, then
        # remove one trailing LF".
        return SSEEvent(
            type=event_type or "message",
            data="\n".join(data),
            last_event_id=self.last_event_id,
        )


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
