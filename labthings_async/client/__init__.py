"""Clients of a Thing server: ``ThingClient`` (blocking) and ``AsyncThingClient``.

Built from a Thing Description alone, they drive any server that serves one,
this one or LabThings-FastAPI 0.3.0. The modules with a leading underscore are
private; every public name is here. Never imports the manager or the HTTP
adapter: a client runs where no server does.
"""

from ._async import AsyncActionHandle, AsyncThingClient
from ._invocation import CancelOutcome, InvocationEvent
from ._observation import AsyncObservation, Observation
from ._sansio import ClientSettings
from ._sync import ActionHandle, ThingClient
from .errors import (
    ActionCancelledError,
    ActionFailedError,
    ClientError,
    ClientTimeoutError,
    InvalidArgumentsError,
    NotFoundError,
    PropertyNotWritableError,
    RequestFailedError,
    ServerUnavailableError,
)

__all__ = (
    "ActionCancelledError",
    "ActionFailedError",
    "ActionHandle",
    "AsyncActionHandle",
    "AsyncObservation",
    "AsyncThingClient",
    "CancelOutcome",
    "ClientError",
    "ClientSettings",
    "ClientTimeoutError",
    "InvalidArgumentsError",
    "InvocationEvent",
    "NotFoundError",
    "Observation",
    "PropertyNotWritableError",
    "RequestFailedError",
    "ServerUnavailableError",
    "ThingClient",
)
