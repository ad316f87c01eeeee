"""Event fan-out: topics with a replay buffer, and bounded subscriptions.

Layer: domain (stdlib, asyncio, msgspec; no starlette). Everything here runs on
the event loop thread; worker threads hand events over through the manager's
``EventBridge`` (``bridge.py``), never a blocking call.

A ``Topic`` keeps the last N events. A ``Subscription`` reads a topic through a
bounded queue: when the queue is full it stops queueing and is marked
*lagged*; once its reader has drained the queue it catches up from the topic's
replay buffer, starting after the last event it delivered. So a slow reader
never blocks a publisher, never grows memory beyond its bound, and loses
nothing still in the buffer. When events it never saw have left the buffer, it
yields one ``LostEvent`` saying so, instead of skipping silently. A lost event
is known by its class (``event.lost``); on the wire, by its name, ``LOST``,
which no property may have.
"""

from __future__ import annotations

import asyncio
import bisect
import itertools
from collections import deque
from collections.abc import Callable
from typing import Any, ClassVar, Protocol

import msgspec

from .codec import encode_json
from .models import LOST

__all__ = ("LOST", "Event", "EventHub", "EventStream", "LostEvent", "Subscription", "Topic")


class Event:
    """One event: a name, a JSON payload encoded at most once, and an ID set on publish.

    Attributes:
        id: Monotonically increasing across the hub (0 until published).
        name: What happened: ``status``, ``log``, ``progress``, a property
            name, or ``lost``.
        thing: Name of the Thing it concerns, for filtering.
        affordance: Name of the action or property it concerns, for filtering.
        invocation: ID of the invocation it concerns, or "" (a property change).
        terminal: True for the last event of an invocation.
        cache: Scratch space for encodings derived from the event (the SSE
            layer keeps its framed bytes here, so they are built once).
        cache_unnamed: The same, for the unnamed rendering.
        lost: True only for a ``LostEvent`` (a class attribute, so it costs
            no memory per event).
    """

    lost: ClassVar[bool] = False

    __slots__ = (
        "_data",
        "_payload",
        "affordance",
        "cache",
        "cache_unnamed",
        "id",
        "invocation",
        "name",
        "terminal",
        "thing",
    )

    def __init__(
        self,
        name: str,
        data: bytes | None = None,
        *,
        payload: Any = None,
        thing: str = "",
        affordance: str = "",
        invocation: str = "",
        terminal: bool = False,
    ) -> None:
        self.id = 0
        self.name = name
        self._data = data
        self._payload = payload
        self.thing = thing
        self.affordance = affordance
        self.invocation = invocation
        self.terminal = terminal
        self.cache: bytes | None = None
        self.cache_unnamed: bytes | None = None

    @classmethod
    def encode(cls, name: str, payload: Any, **tags: Any) -> Event:
        """Build an event whose data is ``payload`` encoded as JSON now.

        Use this when the payload may change later (a property's value).
        """
        return cls(name, encode_json(payload), **tags)

    @classmethod
    def lazy(cls, name: str, payload: Any, **tags: Any) -> Event:
        """Build an event that encodes ``payload`` only when first read.

        For immutable payloads: most events of most invocations are never
        read by anyone, so most are never encoded.
        """
        return cls(name, payload=payload, **tags)

    @property
    def data(self) -> bytes:
        """The payload as JSON, shared by every reader."""
        data = self._data
        if data is None:
            data = self._data = msgspec.json.encode(self._payload)
            self._payload = None
        return data

    def json(self) -> Any:
        """Decode the payload."""
        return msgspec.json.decode(self.data)

    def __repr__(self) -> str:
        return f"Event(id={self.id}, name={self.name!r}, data={self.data[:60]!r})"


class LostEvent(Event):
    """Says that events a subscription never saw have left the replay buffer.

    Its ID is that of the newest event lost; it is never stored in a topic.
    """

    __slots__ = ()

    lost: ClassVar[bool] = True

    def __init__(self, last_seen: int, evicted_through: int) -> None:
        super().__init__(
            LOST,
            msgspec.json.encode({"lastEventId": last_seen, "resumedAfter": evicted_through}),
        )
        self.id = evicted_through


EventFilter = Callable[[Event], bool]


def _event_id(event: Event) -> int:
    return event.id


class Topic:
    """A stream of events with a bounded replay buffer and live subscribers.

    The buffer is a list trimmed in batches: per-invocation topics hold a
    handful of events each, and a list is far smaller than a deque.
    """

    __slots__ = ("_events", "_subscribers", "closed", "evicted_through", "maxlen")

    def __init__(self, maxlen: int) -> None:
        self.maxlen = maxlen
        self._events: list[Event] = []
        self._subscribers: set[Subscription] | None = None
        self.evicted_through = 0
        """ID of the newest event that has left the buffer (0: none has)."""
        self.closed = False

    def append(self, event: Event) -> None:
        """Store a published event and offer it to every subscriber."""
        events = self._events
        events.append(event)
        if len(events) > self.maxlen:
            # Trim a batch at a time, so eviction costs O(1) per event on average.
            excess = len(events) - self.maxlen + self.maxlen // 8
            self.evicted_through = events[excess - 1].id
            del events[:excess]
        if self._subscribers:
            for subscriber in tuple(self._subscribers):
                subscriber.offer(event)

    @classmethod
    def closed_with(cls, events: list[Event]) -> Topic:
        """A topic that has ended holding ``events`` (published already, oldest first)."""
        topic = cls(max(len(events), 1))
        topic._events = events
        topic.closed = True
        return topic

    def holds_only(self, name: str) -> bool:
        """True if every event it has held is named ``name`` (none has left the buffer)."""
        return self.evicted_through == 0 and all(event.name == name for event in self._events)

    def ids(self) -> list[int]:
        """The IDs of the buffered events, oldest first."""
        return [event.id for event in self._events]

    def events_after(self, event_id: int) -> list[Event]:
        """The buffered events with an ID greater than ``event_id``, oldest first."""
        start = bisect.bisect_right(self._events, event_id, key=_event_id)
        return self._events[start:]

    def __len__(self) -> int:
        return len(self._events)

    @property
    def subscriber_count(self) -> int:
        """How many subscriptions are open on this topic."""
        return len(self._subscribers) if self._subscribers else 0

    def subscribe(
        self,
        *,
        after: int | None,
        accept: EventFilter | None = None,
        maxsize: int = 1000,
        end_on_terminal: bool = False,
        on_wake: Callable[[], object] | None = None,
    ) -> Subscription:
        """Open a subscription.

        Args:
            after: Replay the buffered events after this ID first (0 replays
                the whole buffer); None means live events only.
            accept: Keep only the events for which this returns True.
            maxsize: Bound of the subscription's queue.
            end_on_terminal: End after delivering an event marked terminal.
            on_wake: Called whenever the subscription would wake its reader (an
                event queued, the topic closed), for a reader that waits on
                several subscriptions at once.
        """
        subscription = Subscription(self, after, accept, maxsize, end_on_terminal, on_wake)
        if not self.closed:
            if self._subscribers is None:
                self._subscribers = set()
            self._subscribers.add(subscription)
        return subscription

    def unsubscribe(self, subscription: Subscription) -> None:
        """Forget a subscription (idempotent)."""
        if self._subscribers:
            self._subscribers.discard(subscription)

    def close(self) -> None:
        """End the topic: every subscription ends once it has drained."""
        self.closed = True
        if self._subscribers:
            for subscriber in tuple(self._subscribers):
                subscriber.wake()
            self._subscribers = None


class Subscription:
    """An async iterator over a topic's events, bounded and resumable.

    Use it as ``async with`` (or call ``close()``) so it is forgotten promptly
    when the reader stops early; it also forgets itself when it ends.
    """

    __slots__ = (
        "_accept",
        "_end_on_terminal",
        "_finished",
        "_lagged",
        "_on_wake",
        "_queue",
        "_topic",
        "_waiter",
        "last_id",
        "maxsize",
    )

    def __init__(
        self,
        topic: Topic,
        after: int | None,
        accept: EventFilter | None,
        maxsize: int,
        end_on_terminal: bool,
        on_wake: Callable[[], object] | None = None,
    ) -> None:
        self._topic = topic
        self._on_wake = on_wake
        self._accept = accept
        self.maxsize = maxsize
        self._end_on_terminal = end_on_terminal
        self._queue: deque[Event] = deque()
        self._waiter: asyncio.Future[None] | None = None
        self._finished = False
        # A replay is a catch-up from the buffer, exactly like recovering from lag.
        self._lagged = after is not None
        self.last_id = after if after is not None else 0
        """ID of the last event delivered (or the resume point)."""

    @property
    def lagged(self) -> bool:
        """True while the subscription reads from the replay buffer, not live."""
        return self._lagged

    def offer(self, event: Event) -> None:
        """Queue a live event, or mark the subscription lagged if it is full."""
        if self._lagged or self._finished:
            return
        if self._accept is not None and not self._accept(event):
            return
        if len(self._queue) >= self.maxsize:
            self._lagged = True
        else:
            self._queue.append(event)
        self.wake()

    def wake(self) -> None:
        """Wake the reader, if it is waiting."""
        if self._on_wake is not None:
            self._on_wake()
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def close(self) -> None:
        """Stop the subscription and forget it."""
        self._finished = True
        self._queue.clear()
        self._topic.unsubscribe(self)
        self.wake()

    def __aiter__(self) -> Subscription:
        return self

    async def __anext__(self) -> Event:
        while True:
            event = self.next_nowait()
            if event is not None:
                return event
            if not await self.ready():
                raise StopAsyncIteration

    async def ready(self) -> bool:
        """Wait until ``next_nowait`` may have an event, or ``wake`` is called; False once ended.

        For a reader that waits without a timer of its own: whatever else it
        waits for (a keep-alive, a deadline) calls ``wake``.
        """
        if self._queue or (self._lagged and not self._finished):
            return True
        if self._finished or self._topic.closed:
            self.close()
            return False
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        return True

    def next_nowait(self) -> Event | None:
        """The next event if one is ready without waiting, else None."""
        if not self._queue and self._lagged and not self._finished:
            self._catch_up()
        if not self._queue:
            return None
        event = self._queue.popleft()
        if not event.lost:
            self.last_id = event.id
        if event.terminal and self._end_on_terminal:
            self.close()
        return event

    def _catch_up(self) -> None:
        """Refill the drained queue from the topic's buffer after ``last_id``."""
        topic = self._topic
        if topic.evicted_through > self.last_id:
            self._queue.append(LostEvent(self.last_id, topic.evicted_through))
            self.last_id = topic.evicted_through
        backlog = topic.events_after(self.last_id)
        if self._accept is not None:
            backlog = [event for event in backlog if self._accept(event)]
        self._queue.extend(backlog[: self.maxsize])
        if len(backlog) <= self.maxsize:
            # Everything newer than the buffer's end will now arrive live.
            self._lagged = False

    async def __aenter__(self) -> Subscription:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


class EventStream(Protocol):
    """What an event stream's reader needs: a ``Subscription``, or several merged."""

    def next_nowait(self) -> Event | None:
        """The next event if one is ready without waiting, else None."""

    async def ready(self) -> bool:
        """Wait until ``next_nowait`` may have an event, or ``wake`` is called; False once ended."""

    def wake(self) -> None:
        """Wake the reader waiting in ``ready`` or ``__anext__``."""

    def __aiter__(self) -> EventStream: ...

    async def __anext__(self) -> Event: ...

    def close(self) -> None:
        """Stop and forget the stream."""

    async def __aenter__(self) -> EventStream: ...

    async def __aexit__(self, *exc_info: object) -> None: ...


class EventHub:
    """Assigns event IDs and owns the manager-wide topics.

    Attributes:
        invocations: Status changes of every invocation (the firehose).
        progress: Progress reports of every invocation.
        properties: Property changes of every Thing.
    """

    def __init__(self, *, buffer_len: int = 10_000) -> None:
        self._next_id = itertools.count(1).__next__
        self.invocations = Topic(buffer_len)
        self.progress = Topic(buffer_len)
        self.properties = Topic(buffer_len)

    def publish(self, event: Event, *topics: Topic) -> None:
        """Give ``event`` the next ID and append it to each topic (loop thread only)."""
        event.id = self._next_id()
        for topic in topics:
            topic.append(event)

    def publish_pair(self, detailed: Event, summary: Event, own: Topic, shared: Topic) -> None:
        """Publish one change as two renderings that share an ID.

        The invocation's own topic gets ``detailed`` (with output or error), the
        shared firehose gets the smaller ``summary``.
        """
        detailed.id = summary.id = self._next_id()
        own.append(detailed)
        shared.append(summary)

    def close(self) -> None:
        """End the manager-wide topics."""
        self.invocations.close()
        self.progress.close()
        self.properties.close()

    def reopen(self) -> None:
        """Start fresh manager-wide topics after ``close()``; IDs keep increasing."""
        self.invocations = Topic(self.invocations.maxlen)
        self.progress = Topic(self.progress.maxlen)
        self.properties = Topic(self.properties.maxlen)
