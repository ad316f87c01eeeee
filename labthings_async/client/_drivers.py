"""The drivers that perform the client's steps: one for asyncio, one blocking.

Layer: client (stdlib, httpx2, eventsource, client_errors, client_protocol,
client_replies). This is the only place the clients do I/O for their flows:
each driver advances a flow (a generator of ``client_protocol`` steps) and
performs its steps with an ``httpx2.AsyncClient`` or an ``httpx2.Client``,
throwing failures back into the flow as ``ClientError``s. The two drivers are
the same loop twice, once with ``await``: everything they share that is not
I/O is in ``client_protocol``.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from typing import Any

import httpx2

from ._replies import transport_error
from ._sansio import (
    ClientSettings,
    Emit,
    EndStream,
    EventBuffer,
    NextEvent,
    OpenStream,
    Protocol,
    Request,
    Sleep,
    Stepper,
    is_event_stream,
    step_url,
    stream_headers,
)
from .errors import ClientError
from .eventsource import SSEEvent

__all__ = ("DRAIN_SECONDS", "AsyncDriver", "SyncDriver")

DRAIN_SECONDS = 0.5
"""Longest wait for a stream's end, once its last event is in (see ``EndStream``)."""


class _AsyncStream:
    """The event stream a flow has open, if any."""

    def __init__(self) -> None:
        self._response: httpx2.Response | None = None
        self._chunks: AsyncIterator[bytes] | None = None
        self._buffer = EventBuffer()

    async def open(
        self, http: httpx2.AsyncClient, step: OpenStream, timeouts: httpx2.Timeout
    ) -> httpx2.Response:
        await self.close()
        request = http.build_request(
            step.method,
            step.url,
            content=step.content,
            headers=stream_headers(step),
            timeout=timeouts,
        )
        response = await http.send(request, stream=True)
        if not is_event_stream(response):
            await response.aread()
            await response.aclose()
            return response
        self._response, self._chunks, self._buffer = response, response.aiter_bytes(), EventBuffer()
        return response

    async def next_event(self) -> SSEEvent | None:
        while (event := self._buffer.pop()) is None:
            chunk = None if self._chunks is None else await anext(self._chunks, None)
            if chunk is None:
                await self.close()
                return None
            self._buffer.feed(chunk)
        return event

    async def finish(self) -> None:
        """Read the rest of the body, briefly, so the connection can be reused; then close."""
        chunks = self._chunks
        if chunks is not None:
            with contextlib.suppress(httpx2.TransportError, TimeoutError):
                async with asyncio.timeout(DRAIN_SECONDS):
                    async for _ in chunks:
                        pass
        await self.close()

    async def close(self) -> None:
        response, self._response, self._chunks = self._response, None, None
        if response is not None:
            await response.aclose()


class AsyncDriver:
    """Performs the steps of the client's flows with an ``httpx2.AsyncClient``."""

    def __init__(self, http: httpx2.AsyncClient, settings: ClientSettings) -> None:
        self.http = http
        self.settings = settings

    async def send(self, request: Request) -> httpx2.Response:
        """Send one request and read the reply.

        Raises:
            ServerUnavailableError: The server could not be reached.
            ClientTimeoutError: It did not reply in time.
        """
        try:
            return await self.http.request(
                request.method,
                request.url,
                content=request.content,
                headers=request.headers,
                timeout=self.settings.timeout + request.extra_time,
            )
        except httpx2.TransportError as error:
            raise transport_error(error, request.url) from error

    async def run(self, protocol: Protocol) -> None:
        """Run a flow to its end."""
        async for _ in self.iterate(protocol):
            pass

    async def iterate(self, protocol: Protocol) -> AsyncGenerator[Any]:
        """Run a flow, yielding the values it emits."""
        stepper = Stepper(protocol)
        stream = _AsyncStream()
        timeout = httpx2.Timeout(self.settings.timeout, read=self.settings.stream_timeout)
        try:
            while (step := stepper.next_step()) is not None:
                try:
                    if isinstance(step, Emit):
                        yield step.value
                    elif isinstance(step, Request):
                        stepper.succeed(await self.send(step))
                    elif isinstance(step, OpenStream):
                        stepper.succeed(await stream.open(self.http, step, timeout))
                    elif isinstance(step, NextEvent):
                        stepper.succeed(await stream.next_event())
                    elif isinstance(step, EndStream):
                        await stream.finish()
                    elif isinstance(step, Sleep):
                        await asyncio.sleep(step.seconds)
                except httpx2.TransportError as error:
                    await stream.close()
                    stepper.fail(transport_error(error, step_url(step)))
                except ClientError as error:
                    stepper.fail(error)
        finally:
            await stream.close()
            stepper.close()


class _SyncStream:
    """The event stream a flow has open, if any."""

    def __init__(self) -> None:
        self._response: httpx2.Response | None = None
        self._chunks: Iterator[bytes] | None = None
        self._buffer = EventBuffer()

    def open(
        self, http: httpx2.Client, step: OpenStream, timeouts: httpx2.Timeout
    ) -> httpx2.Response:
        self.close()
        request = http.build_request(
            step.method,
            step.url,
            content=step.content,
            headers=stream_headers(step),
            timeout=timeouts,
        )
        response = http.send(request, stream=True)
        if not is_event_stream(response):
            response.read()
            response.close()
            return response
        self._response, self._chunks, self._buffer = response, response.iter_bytes(), EventBuffer()
        return response

    def next_event(self) -> SSEEvent | None:
        while (event := self._buffer.pop()) is None:
            chunk = None if self._chunks is None else next(self._chunks, None)
            if chunk is None:
                self.close()
                return None
            self._buffer.feed(chunk)
        return event

    def close(self) -> None:
        response, self._response, self._chunks = self._response, None, None
        if response is not None:
            response.close()


class SyncDriver:
    """Performs the steps of the client's flows with an ``httpx2.Client``."""

    def __init__(self, http: httpx2.Client, settings: ClientSettings) -> None:
        self.http = http
        self.settings = settings

    def send(self, request: Request) -> httpx2.Response:
        """Send one request and read the reply.

        Raises:
            ServerUnavailableError: The server could not be reached.
            ClientTimeoutError: It did not reply in time.
        """
        try:
            return self.http.request(
                request.method,
                request.url,
                content=request.content,
                headers=request.headers,
                timeout=self.settings.timeout + request.extra_time,
            )
        except httpx2.TransportError as error:
            raise transport_error(error, request.url) from error

    def run(self, protocol: Protocol) -> None:
        """Run a flow to its end."""
        for _ in self.iterate(protocol):
            pass

    def iterate(self, protocol: Protocol) -> Generator[Any]:
        """Run a flow, yielding the values it emits."""
        stepper = Stepper(protocol)
        stream = _SyncStream()
        timeouts = httpx2.Timeout(self.settings.timeout, read=self.settings.stream_timeout)
        try:
            while (step := stepper.next_step()) is not None:
                try:
                    if isinstance(step, Emit):
                        yield step.value
                    elif isinstance(step, Request):
                        stepper.succeed(self.send(step))
                    elif isinstance(step, OpenStream):
                        stepper.succeed(stream.open(self.http, step, timeouts))
                    elif isinstance(step, NextEvent):
                        stepper.succeed(stream.next_event())
                    elif isinstance(step, EndStream):
                        # A blocking read cannot be bounded short of the
                        # stream's own read timeout, so the connection is
                        # closed rather than drained: one more connect later.
                        stream.close()
                    elif isinstance(step, Sleep):
                        time.sleep(step.seconds)
                except httpx2.TransportError as error:
                    stream.close()
                    stepper.fail(transport_error(error, step_url(step)))
                except ClientError as error:
                    stepper.fail(error)
        finally:
            stream.close()
            stepper.close()
