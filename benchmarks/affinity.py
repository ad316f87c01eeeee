"""Which CPU the server runs on and which the load generator runs on.

On a machine with at least two usable CPUs the server is pinned to the second
and the load generator to the first, so the two never compete for a core and
every server (ours, LabThings-FastAPI, the floor) gets exactly one core, which
is all a single CPython process with a GIL can use anyway. With one CPU, or
with ``--no-pin``, nothing is pinned.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

__all__ = ("CPUPlan", "plan")


@dataclass(frozen=True, slots=True)
class CPUPlan:
    """CPU sets for the two sides (``None``: leave to the scheduler)."""

    server: frozenset[int] | None
    client: frozenset[int] | None

    def describe(self) -> str:
        """One line for the report."""
        if self.server is None or self.client is None:
            return "not pinned"
        return (
            f"server pinned to CPU {','.join(map(str, sorted(self.server)))}, load generator "
            f"to CPU {','.join(map(str, sorted(self.client)))} (os.sched_setaffinity)"
        )

    def pin_client(self) -> None:
        """Pin the calling process (the load generator), if planned."""
        if self.client is not None:
            os.sched_setaffinity(0, self.client)


def plan(pin: bool) -> CPUPlan:
    """The CPU plan for this machine."""
    if not pin or not hasattr(os, "sched_getaffinity"):
        return CPUPlan(None, None)
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return CPUPlan(None, None)
    return CPUPlan(server=frozenset({cpus[1]}), client=frozenset({cpus[0]}))
