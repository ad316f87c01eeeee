"""How fast work has been finishing lately, and so how long a refused client should wait.

Layer: domain (stdlib only). Every refusal for want of room (the invocation
queue, event streams, connections) says in ``Retry-After`` when to come
back. A constant would be a guess; this is an estimate from what the server
has seen: the recent rate at which the things that hold the room (invocations,
streams, connections) have let go of it, and how many are ahead.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable

__all__ = ("Throughput",)


class Throughput:
    """Counts completions over a recent window, to estimate how long a backlog takes.

    Args:
        window: Seconds of history the rate is measured over.
        now: A monotonic clock in seconds (``time.monotonic`` unless a test moves it).
    """

    MAX_SAMPLES = 1024
    """Completions remembered: enough for a steady rate, bounded however busy the server."""

    def __init__(self, window: float = 60.0, now: Callable[[], float] = time.monotonic) -> None:
        self.window = window
        self._now = now
        self._times: deque[float] = deque(maxlen=self.MAX_SAMPLES)

    def record(self) -> None:
        """Count one completion, now."""
        self._times.append(self._now())

    def per_second(self) -> float:
        """Completions per second over the window (0.0 if none finished within it)."""
        now = self._now()
        times = self._times
        while times and now - times[0] > self.window:
            times.popleft()
        if not times:
            return 0.0
        # Over the window, or since the oldest completion remembered when the
        # samples filled up sooner: a busy server's rate is measured over less.
        span = self.window if len(times) < self.MAX_SAMPLES else max(now - times[0], 1e-3)
        return len(times) / span

    def retry_after(self, ahead: int) -> int:
        """Whole seconds until ``ahead`` more completions are expected (at least 1).

        With nothing finished in the window the rate is unknown; the answer is
        then the window itself: nothing has let go for that long.
        """
        rate = self.per_second()
        if rate <= 0.0:
            return max(1, math.ceil(self.window))
        return max(1, math.ceil(ahead / rate))
