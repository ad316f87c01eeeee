"""The one way an event gets from a worker thread to the event loop.

Layer: domain (stdlib, asyncio, the events). Topics may only be touched on the
loop thread, but threaded actions log, report progress and set properties
from worker threads. Each manager has one ``EventBridge``: a thread puts the
event in an outbox, and the first event into an empty outbox schedules one
``loop.call_soon_threadsafe`` callback, which publishes everything queued by
then, in the order it was queued. A burst of events costs one wake-up of the
loop, not one each.

Progress reports are coalesced in place: a newer report for a topic replaces
the one still queued, but only if nothing else for that topic was queued after
it, so a report never jumps ahead of a log record that came before it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from typing import Any

from .events import Event, EventHub, Topic

__all__ = ("EventBridge",)

_Parcel = list[Any]
"""``[event, topic]``: a list, so a coalesced report can replace its event in place."""


class EventBridge:
    """Hands events from any thread to the loop, in order, one callback per batch.

    Args:
        hub: Publishes the events (gives them their IDs) on the loop thread.
    """

    __slots__ = ("_coalescible", "_hub", "_lock", "_loop", "_loop_thread_id", "_outbox")

    def __init__(self, hub: EventHub) -> None:
        self._hub = hub
        self._lock = threading.Lock()
        self._outbox: deque[_Parcel] = deque()
        # The queued parcel a newer progress report of the same topic may replace.
        self._coalescible: dict[Topic, _Parcel] = {}
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread_id = 0

    def open(self, loop: asyncio.AbstractEventLoop) -> None:
        """Start carrying events to ``loop`` (call on the loop's thread)."""
        with self._lock:
            self._loop = loop
            self._loop_thread_id = threading.get_ident()

    def close(self) -> None:
        """Publish what is queued, then drop whatever comes later (loop thread).

        After the manager has stopped, an abandoned thread may still log; its
        events have nowhere to go, and the loop may be closed already.
        """
        self.flush()
        with self._lock:
            self._loop = None
            self._loop_thread_id = 0
            self._outbox.clear()
            self._coalescible.clear()

    def on_loop_thread(self) -> bool:
        """True when called on the thread of the loop the bridge carries events to."""
        return threading.get_ident() == self._loop_thread_id

    def send(self, event: Event, topic: Topic, *, coalesce: bool = False) -> None:
        """Publish ``event`` to ``topic`` on the loop, after everything sent before it.

        Args:
            event: The event to publish.
            topic: Where it goes. An event for a topic that has closed by the
                time it is published (a finished invocation's) is dropped.
            coalesce: The event may replace the previous one for ``topic``
                while that one is still queued and is the topic's latest.
        """
        if threading.get_ident() == self._loop_thread_id:
            if self._outbox:
                self.flush()  # What threads queued earlier goes first.
            if not topic.closed:
                self._hub.publish(event, topic)
            return
        with self._lock:
            loop = self._loop
            if loop is None:
                return  # Stopped: nobody is left to receive it.
            coalescible = self._coalescible
            if coalesce:
                queued = coalescible.get(topic)
                if queued is not None:
                    queued[0] = event
                    return
            elif coalescible:
                coalescible.pop(topic, None)  # A later report must not overtake this event.
            parcel: _Parcel = [event, topic]
            if coalesce:
                coalescible[topic] = parcel
            first = not self._outbox
            self._outbox.append(parcel)
        if first:
            try:
                loop.call_soon_threadsafe(self.flush)
            except RuntimeError:  # The loop has closed under a thread the server abandoned.
                with self._lock:
                    self._outbox.clear()
                    self._coalescible.clear()

    def flush(self) -> None:
        """Publish every queued event now, oldest first (loop thread only)."""
        with self._lock:
            if not self._outbox:
                return
            batch = self._outbox
            self._outbox = deque()
            if self._coalescible:
                self._coalescible = {}
        publish = self._hub.publish
        for event, topic in batch:
            if not topic.closed:
                publish(event, topic)
