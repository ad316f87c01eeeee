"""Clients of a Thing server: ``ThingClient`` (blocking) and ``AsyncThingClient``.

Built from a Thing Description alone, they drive any server that serves one,
this one or LabThings-FastAPI 0.3.0. The modules with a leading underscore are
private; every public name is here. Never imports the manager or the HTTP
adapter: a client runs where no server does.

Besides its own errors (``ClientError`` and below) a client raises the
framework's errors for the conditions it shares with a server: a
``NotFoundError`` (the family of ``ThingNotFoundError``,
``AffordanceNotFoundError`` and ``InvocationNotFoundError``), an
``InvalidInputError`` and a ``ReadOnlyPropertyError``; they are re-exported
here under the names a client's user looks for.
"""

from typing import TYPE_CHECKING

from ..errors import (
    AffordanceNotFoundError,
    InvalidArgumentsError,
    InvalidInputError,
    InvocationNotFoundError,
    NotFoundError,
    PropertyNotWritableError,
    ReadOnlyPropertyError,
    ThingNotFoundError,
)
from ..porting import lt_names
from ._async import AsyncActionHandle, AsyncThingClient
from ._blob import AsyncRemoteBlob, RemoteBlob
from ._invocation import CancelOutcome, InvocationEvent
from ._observation import AsyncObservation, Observation
from ._sansio import ClientSettings
from ._sync import ActionHandle, ThingClient
from .errors import (
    ActionCancelledError,
    ActionFailedError,
    ClientError,
    ClientTimeoutError,
    RequestFailedError,
    ServerUnavailableError,
)

__all__ = (
    "ActionCancelledError",
    "ActionFailedError",
    "ActionHandle",
    "AffordanceNotFoundError",
    "AsyncActionHandle",
    "AsyncObservation",
    "AsyncRemoteBlob",
    "AsyncThingClient",
    "CancelOutcome",
    "ClientError",
    "ClientSettings",
    "ClientTimeoutError",
    "InvalidArgumentsError",
    "InvalidInputError",
    "InvocationEvent",
    "InvocationNotFoundError",
    "NotFoundError",
    "Observation",
    "PropertyNotWritableError",
    "ReadOnlyPropertyError",
    "RemoteBlob",
    "RequestFailedError",
    "ServerUnavailableError",
    "ThingClient",
    "ThingNotFoundError",
)

if not TYPE_CHECKING:  # mypy goes on checking this package's own names strictly.
    # LabThings-FastAPI's client names with no counterpart say what to write instead.
    __getattr__ = lt_names(__name__)
