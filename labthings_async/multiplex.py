"""One ordered event stream over several topics: what a whole-server view follows.

Layer: events (stdlib, asyncio, msgspec, the events module; no starlette).
Event IDs come from one counter per hub and each topic receives its events in
ID order, so merging the topics' subscriptions by ID gives exactly the order
the events were published in, and one ``Last-Event-ID`` resumes every topic.
A web page can then follow every invocation and every property of a server on
one connection, where a browser allows only six per server.

Progress is coalesced: when a newer report of the same invocation is already
waiting, the older one is skipped, so a reader that falls behind gets each
invocation's latest progress rather than every step.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import msgspec

from .events import Event, EventFilter, EventHub, Subscription, Topic
from .models import Progress

__all__ = ("Multiplex", "Source", "open_server_events", "progress_of", "property_change")

View = Callable[[Event], Event]
"""Turns a topic's event into the event a multiplexed stream carries (same ID)."""


@dataclass
class Source:
    """One topic of a multiplex, and how its events are shown.

    Attributes:
        topic: The topic to follow.
        accept: Keep only the events for which this returns True.
        view: Rewrites each event for the merged stream; None keeps it as is.
        coalesce: Events with the same key, other than None, replace one
            another while they wait: only the newest is delivered.
    """

    topic: Topic
    accept: EventFilter | None = None
    view: View | None = None
    coalesce: Callable[[Event], str | None] | None = None


@dataclass
class _Reader:
    source: Source
    subscription: Subscription
    ready: deque[Event] = field(default_factory=deque)
    newest: dict[str, Event] = field(default_factory=dict)

    def fill(self, limit: int) -> None:
        """Take what the subscription has ready, up to ``limit`` waiting here."""
        coalesce = self.source.coalesce
        while len(self.ready) < limit:
            event = self.subscription.next_nowait()
            if event is None:
                return
            self.ready.append(event)
            if coalesce is not None and not event.lost:
                key = coalesce(event)
                if key is not None:
                    self.newest[key] = event

    def superseded(self, event: Event) -> bool:
        """True if a newer event with the same coalescing key is waiting (forget this one)."""
        coalesce = self.source.coalesce
        if coalesce is None or event.lost:
            return False
        key = coalesce(event)
        if key is None:
            return False
        if self.newest.get(key) is not event:
            return True
        del self.newest[key]
        return False


class Multiplex:
    """Several topics read as one stream, in event-ID order; bounded and resumable.

    Each topic is read through its own bounded subscription (see
    ``Subscription``), so a slow reader never blocks a publisher and gets a
    ``lost`` event, not a silent gap, when events it missed have left a
    topic's buffer. Use it as ``async with`` or call ``close()``.

    Args:
        sources: The topics to merge.
        after: Replay each topic's buffered events after this ID first; None
            means live events only.
        maxsize: Bound of each topic's subscription queue, and of the events
            held here per topic.
    """

    def __init__(self, sources: Sequence[Source], *, after: int | None, maxsize: int) -> None:
        self._waiter: asyncio.Future[None] | None = None
        self._finished = False
        self._maxsize = maxsize
        self._readers = [
            _Reader(
                source,
                source.topic.subscribe(
                    after=after, accept=source.accept, maxsize=maxsize, on_wake=self.wake
                ),
            )
            for source in sources
        ]
        self.last_id = after if after is not None else 0
        """ID of the last event delivered (or the resume point)."""

    def wake(self) -> None:
        """Wake the reader waiting in ``ready`` or ``__anext__``."""
        waiter = self._waiter
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    def next_nowait(self) -> Event | None:
        """The next event, in ID order across the topics, if one is ready now."""
        while not self._finished:
            first: _Reader | None = None
            for reader in self._readers:
                # Every topic's next event is looked at before one is chosen,
                # so an event never overtakes an older one from another topic.
                reader.fill(self._maxsize)
                if reader.ready and (first is None or reader.ready[0].id < first.ready[0].id):
                    first = reader
            if first is None:
                return None
            event = first.ready.popleft()
            if first.superseded(event):
                continue
            self.last_id = event.id
            view = first.source.view
            return event if view is None or event.lost else view(event)
        return None

    def _ended(self) -> bool:
        # The hub closes its topics together, at shutdown: one closed is the end.
        return self._finished or any(
            reader.source.topic.closed and not reader.subscription.lagged
            for reader in self._readers
        )

    def __aiter__(self) -> Multiplex:
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

        Call it once ``next_nowait`` has answered None: that read every
        topic's queue, and any event after it wakes this wait.
        """
        if self._ended():
            self.close()
            return False
        self._waiter = asyncio.get_running_loop().create_future()
        try:
            await self._waiter
        finally:
            self._waiter = None
        return True

    def close(self) -> None:
        """Stop reading every topic and forget the subscriptions (idempotent)."""
        self._finished = True
        for reader in self._readers:
            reader.subscription.close()
            reader.ready.clear()
            reader.newest.clear()
        self.wake()

    async def __aenter__(self) -> Multiplex:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        self.close()


class _PropertyChange(msgspec.Struct):
    thing: str
    name: str
    value: msgspec.Raw


class _ProgressReport(msgspec.Struct, omit_defaults=True):
    id: str
    percent: float | None = None
    message: str | None = None


def property_change(event: Event) -> Event:
    """A property event as a ``property`` event saying which Thing and property it is.

    On a stream that carries every Thing's properties, the event's name alone
    (the property's name) could be any Thing's, or be taken for ``status``.
    The data is ``{"thing", "name", "value"}``.
    """
    data = msgspec.json.encode(
        _PropertyChange(event.thing, event.affordance or event.name, msgspec.Raw(event.data))
    )
    change = Event("property", data, thing=event.thing, affordance=event.affordance)
    change.id = event.id
    return change


def progress_of(event: Event) -> Event:
    """A ``progress`` event with its invocation's ID: ``{"id", "percent", "message"}``."""
    progress = msgspec.json.decode(event.data, type=Progress)
    data = msgspec.json.encode(
        _ProgressReport(event.invocation, progress.percent, progress.message)
    )
    report = Event(
        "progress",
        data,
        thing=event.thing,
        affordance=event.affordance,
        invocation=event.invocation,
    )
    report.id = event.id
    return report


def _invocation_key(event: Event) -> str | None:
    return event.invocation or None


def open_server_events(
    hub: EventHub, *, after: int | None, maxsize: int, thing: str | None = None
) -> Multiplex:
    """Everything a view of the whole server (or of one Thing) follows, on one stream.

    Every invocation's ``status`` changes (as the firehose has them), every
    invocation's ``progress`` (coalesced, with the invocation's ID) and every
    Thing's property changes (as ``property`` events), in publication order.

    Args:
        hub: The manager's event hub.
        after: Resume after this event ID; None for live events only.
        maxsize: Bound of each topic's queue.
        thing: Only the events of the Thing with this name; None for all.
    """
    accept: EventFilter | None = None
    if thing is not None:

        def accept(event: Event) -> bool:
            return event.thing == thing

    return Multiplex(
        [
            Source(hub.invocations, accept),
            Source(hub.progress, accept, view=progress_of, coalesce=_invocation_key),
            Source(hub.properties, accept, view=property_change),
        ],
        after=after,
        maxsize=maxsize,
    )
