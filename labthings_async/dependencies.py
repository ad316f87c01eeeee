"""Action parameters the framework supplies instead of the client.

Layer: domain (stdlib only). Annotate a parameter with one of these and it
is filled in for each invocation and left out of the action's input schema:

    def move(self, x: int, cancel: lt.CancelHook, logger: lt.InvocationLogger): ...
    def snap(self, stage: Stage): ...                       # another Thing, by class
    def scan(self, cam: Annotated[Camera, lt.ThingDependency("left")]): ...  # by name

The context helpers (``lt.raise_if_cancelled()`` and friends) are the lighter
alternative to asking for the cancel hook.
"""

from __future__ import annotations

import enum
import logging
import uuid
from typing import Annotated

from .context import CancelHook

__all__ = (
    "CancelHook",
    "Dependency",
    "DependencyKind",
    "InvocationID",
    "InvocationLogger",
    "ThingDependency",
)


class DependencyKind(enum.Enum):
    """What the framework supplies for a dependency parameter."""

    CANCEL_HOOK = "cancel_hook"
    LOGGER = "logger"
    INVOCATION_ID = "invocation_id"
    THING = "thing"


class Dependency:
    """Marks a parameter, inside ``Annotated``, as supplied by the framework."""

    __slots__ = ("kind",)

    def __init__(self, kind: DependencyKind) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"Dependency({self.kind.value})"


class ThingDependency(Dependency):
    """Marks a parameter as another Thing of the same server.

    Args:
        name: The Thing's name; None finds the one Thing of the annotated class.
    """

    __slots__ = ("thing_name",)

    def __init__(self, name: str | None = None) -> None:
        super().__init__(DependencyKind.THING)
        self.thing_name = name


InvocationLogger = Annotated[logging.Logger, Dependency(DependencyKind.LOGGER)]
"""A logger whose records land in the invocation's log, from any thread."""

InvocationID = Annotated[uuid.UUID, Dependency(DependencyKind.INVOCATION_ID)]
"""The invocation's ID."""
