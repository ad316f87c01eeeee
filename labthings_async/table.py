"""The table of retained invocations: lookup, newest-first listing, and expiry.

Layer: domain (stdlib). Invocations are kept in request order (a dict, so
listing newest first is a reversed walk, with no sorting). Finished ones also
wait in a queue per retention time: invocations kept equally long expire in
the order they finished, so each queue is in expiry order without sorting
(should the wall clock step back, one may outstay its time a little), and each
action has one retention time, so there are only a handful of queues. They
bound the table both by age and by count. The table is the only thing that
keeps a finished invocation alive: once it lets one go, nothing else holds it.
"""

from __future__ import annotations

import uuid
from collections import deque
from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from .clock import Clock, SystemClock
from .errors import InvocationNotFoundError
from .invocation import Invocation
from .models import InvocationStatus

__all__ = ("InvocationTable",)


class InvocationTable:
    """The invocations a manager still knows about.

    Args:
        max_retained: Most finished invocations kept; beyond it, the ones that
            would expire soonest are forgotten first.
        clock: What "now" is when expiring (real time unless a test says so).
        on_forget: Called with each finished invocation as it is forgotten
            (the manager stops serving its blobs).
    """

    def __init__(
        self,
        max_retained: int,
        clock: Clock | None = None,
        on_forget: Callable[[Invocation], object] | None = None,
    ) -> None:
        self.max_retained = max_retained
        self.clock = clock or SystemClock()
        self._on_forget = on_forget
        self._by_id: dict[str, Invocation] = {}
        # Finished invocations by retention time, each queue in the order they
        # finished: a deque costs a pointer per invocation, a heap entry a tuple.
        self._finished: dict[float, deque[Invocation]] = {}
        self._finished_count = 0

    def __len__(self) -> int:
        return len(self._by_id)

    def add(self, invocation: Invocation) -> None:
        """Keep a new invocation."""
        self._by_id[invocation.id_text] = invocation

    def finished(self, invocation: Invocation) -> None:
        """Start the retention clock of an invocation that has just finished."""
        queues = self._finished
        queue = queues.get(invocation.retention_time)
        if queue is None:
            queue = queues[invocation.retention_time] = deque()
        queue.append(invocation)
        self._finished_count += 1
        while self._finished_count > self.max_retained:
            # Usually every action keeps the manager's retention: one queue, no choosing.
            soonest = queue if len(queues) == 1 else min(queues.values(), key=_soonest_first)
            self._forget_first(soonest)

    def _forget_first(self, queue: deque[Invocation]) -> None:
        invocation = queue.popleft()
        self._finished_count -= 1
        del self._by_id[invocation.id_text]
        if self._on_forget is not None:
            self._on_forget(invocation)

    def get(self, invocation_id: uuid.UUID | str) -> Invocation:
        """The invocation with this ID.

        Raises:
            InvocationNotFoundError: No such invocation is retained.
        """
        if isinstance(invocation_id, str):
            found = self._by_id.get(invocation_id)
            if found is not None:
                return found
            try:  # Any other spelling of a UUID: braces, capitals, no hyphens.
                invocation_id = uuid.UUID(invocation_id)
            except ValueError:
                raise InvocationNotFoundError(
                    f"{invocation_id!r} is not an invocation ID (a UUID)"
                ) from None
        try:
            return self._by_id[str(invocation_id)]
        except KeyError:
            raise InvocationNotFoundError(
                f"no invocation {invocation_id}: it never existed or has expired"
            ) from None

    def newest_first(
        self,
        *,
        thing: str | None = None,
        action: str | None = None,
        status: InvocationStatus | str | None = None,
    ) -> Iterator[Invocation]:
        """The retained invocations, newest first, optionally filtered."""
        wanted = InvocationStatus(status) if status is not None else None
        for invocation in reversed(self._by_id.values()):
            if thing is not None and invocation.thing_name != thing:
                continue
            if action is not None and invocation.action.name != action:
                continue
            if wanted is not None and invocation.status is not wanted:
                continue
            yield invocation

    def unfinished(self) -> list[Invocation]:
        """The invocations still pending or running."""
        return [invocation for invocation in self._by_id.values() if not invocation.finished]

    def expire(self, now: datetime | None = None) -> int:
        """Forget finished invocations whose retention has run out; returns how many."""
        now = now or self.clock.now()
        expired = 0
        for queue in self._finished.values():
            while queue and _expiry_time(queue[0]) <= now:
                self._forget_first(queue)
                expired += 1
        return expired


def _expiry_time(invocation: Invocation) -> datetime:
    expiry = invocation.expiry_time
    if expiry is None:  # Only finished invocations are queued, and they all have one.
        raise ValueError(f"{invocation!r} is queued for expiry but has no expiry time")
    return expiry


def _soonest_first(queue: deque[Invocation]) -> tuple[int, datetime, int]:
    """Sort key of a queue by when its first invocation expires (empty queues last)."""
    if not queue:
        return (1, datetime.max.replace(tzinfo=UTC), 0)
    return (0, _expiry_time(queue[0]), queue[0].sequence)
