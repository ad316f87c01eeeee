"""The one way an event gets from a worker thread to the event loop.

Layer: domain (stdlib, asyncio, the events). Topics may only be touched on the
loop thread, but threaded actions log, report progress and set properties
from worker threads. Each manager has one ``EventBridge``: a thread puts the
event in an outbox, and the first event into an empty outbox schedules one
``loop.call_soon_threadsafe`` callback, which publishes everything queued by
then, in the order it was queued. A burst of events costs one wake-up of the
loop, not one each.

Progress reports are coalesced in place (``send_latest``): a newer report for
a topic replaces the one still queued, but only if nothing else for that
topic was queued after it, so a report never jumps ahead of a log record that
came before it.
"""

from __future__ import annotations

import asyncio
import threading
from collections import deque
from collections.abc import Callable
from typing import Any

from .events import Event, EventHub, Topic

__all__ = ("EventBridge", "EventBuilder")

_Parcel = list[Any]
"""``[item, topic, build, also]``: the event (or with ``build`` the payload to build
it from), its topic, and the shared topics that get the same event.

A list, so a newer report can replace the payload of one still queued.
"""

EventBuilder = Callable[[Any], Event]


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
        # The queued parcel a newer report for the same topic may replace.
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

    def send(self, event: Event, topic: Topic) -> None:
        """Publish ``event`` to ``topic`` on the loop, after everything sent before it.

        An event for a topic that has closed by the time it is published (a
        finished invocation's) is dropped.
        """
        self._send(event, topic, None, ())

    def send_latest(
        self, payload: Any, topic: Topic, build: EventBuilder, also: tuple[Topic, ...] = ()
    ) -> None:
        """Publish ``build(payload)`` to ``topic``, unless a newer payload overtakes it.

        While this one waits in the outbox with nothing queued for ``topic``
        after it, a later ``send_latest`` for ``topic`` replaces its payload
        in place: a burst of reports becomes one event, in the place of the
        first, never ahead of anything sent before it. The event is built
        only when it is published, and goes to the shared topics ``also`` as
        well (with the same ID) while ``topic`` is open.
        """
        self._send(payload, topic, build, also)

    def _send(
        self, item: Any, topic: Topic, build: EventBuilder | None, also: tuple[Topic, ...]
    ) -> None:
        if threading.get_ident() == self._loop_thread_id:
            if self._outbox:
                self.flush()  # What threads queued earlier goes first.
            if not topic.closed:
                self._hub.publish(item if build is None else build(item), topic, *also)
            return
        with self._lock:
            loop = self._loop
            if loop is None:
                return  # Stopped: nobody is left to receive it.
            coalescible = self._coalescible
            if build is not None:
                queued = coalescible.get(topic)
                if queued is not None:
                    queued[0] = item
                    return
            elif coalescible:
                coalescible.pop(topic, None)  # A later report must not overtake this event.
            parcel: _Parcel = [item, topic, build, also]
            if build is not None:
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
        if not self._outbox:
            # Read without the lock: what a thread queued before it handed its
            # result to the loop is seen here; anything later is the next flush's.
            return
        with self._lock:
            batch = self._outbox
            self._outbox = deque()
            if self._coalescible:
                self._coalescible = {}
        publish = self._hub.publish
        for item, topic, build, also in batch:
            if not topic.closed:
                publish(item if build is None else build(item), topic, *also)
