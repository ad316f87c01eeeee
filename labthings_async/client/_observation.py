"""An observation: the values an event stream carries, as an iterator you can close.

Layer: client (stdlib only). ``observe_property`` and ``observe_invocations``
return one: iterate over it for each new value, and close it (or use it as a
context manager) to close the stream. ``Observation`` wraps a blocking
generator, ``AsyncObservation`` an async one.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator
from types import TracebackType
from typing import Generic, TypeVar

__all__ = ("AsyncObservation", "Observation")

T = TypeVar("T")


class _Observed:
    """What both kinds of observation show: what is observed, where, and whether it is open."""

    def __init__(self, what: str, url: str) -> None:
        self._what = what
        self._url = url
        self._closed = False

    @property
    def closed(self) -> bool:
        """True once it has been closed or its stream has ended."""
        return self._closed

    def __repr__(self) -> str:
        state = "closed" if self._closed else "open"
        return f"<{type(self).__name__} of {self._what} at {self._url} ({state})>"


class Observation(_Observed, Generic[T]):
    """Values as they arrive on an event stream, for blocking code.

    ::

        with client.observe_property("speed") as speeds:
            for speed in speeds:
                print(speed)

    Args:
        values: The generator that reads the stream.
        what: What is observed, for ``repr``: ``property 'speed'``.
        url: The event stream's URL.
    """

    def __init__(self, values: Generator[T], what: str, url: str) -> None:
        super().__init__(what, url)
        self._values = values

    def __iter__(self) -> Iterator[T]:
        return self

    def __next__(self) -> T:
        if self._closed:
            raise StopIteration
        try:
            return next(self._values)
        except BaseException:
            self._closed = True
            raise

    def close(self) -> None:
        """Stop observing and close the stream (nothing happens if it is closed)."""
        self._closed = True
        self._values.close()

    def __enter__(self) -> Observation[T]:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


class AsyncObservation(_Observed, Generic[T]):
    """Values as they arrive on an event stream, for asyncio code.

    ::

        async with client.observe_property("speed") as speeds:
            async for speed in speeds:
                print(speed)

    Args:
        values: The async generator that reads the stream.
        what: What is observed, for ``repr``: ``property 'speed'``.
        url: The event stream's URL.
    """

    def __init__(self, values: AsyncGenerator[T], what: str, url: str) -> None:
        super().__init__(what, url)
        self._values = values

    def __aiter__(self) -> AsyncIterator[T]:
        return self

    async def __anext__(self) -> T:
        if self._closed:
            raise StopAsyncIteration
        try:
            return await anext(self._values)
        except BaseException:
            self._closed = True
            raise

    async def aclose(self) -> None:
        """Stop observing and close the stream (nothing happens if it is closed)."""
        self._closed = True
        await self._values.aclose()

    async def __aenter__(self) -> AsyncObservation[T]:
        return self

    async def __aexit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.aclose()
