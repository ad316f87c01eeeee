"""labthings_async: lab instruments on the network, asyncio-native.

The root package only re-exports the public API; see the modules for each idea.
"""

from .action import ActionDescriptor, action
from .client import (
    ActionCancelledError,
    ActionFailedError,
    ActionHandle,
    AsyncActionHandle,
    AsyncThingClient,
    ClientError,
    ClientSettings,
    ClientTimeoutError,
    InvalidArgumentsError,
    InvocationEvent,
    NotFoundError,
    PropertyNotWritableError,
    RequestFailedError,
    ServerUnavailableError,
    ThingClient,
)
from .context import (
    CancelHook,
    cancellable_sleep,
    current_invocation,
    raise_if_cancelled,
    report_progress,
)
from .dependencies import InvocationID, InvocationLogger, ThingDependency
from .errors import (
    ActionDefinitionError,
    AffordanceNotFoundError,
    IllegalTransitionError,
    InvalidInputError,
    InvocationCancelledError,
    InvocationFinishedError,
    InvocationNotFinishedError,
    InvocationNotFoundError,
    LabThingsError,
    ManagerNotRunningError,
    QueueFullError,
    ReadOnlyPropertyError,
    ThingNotFoundError,
    ThingSetupError,
)
from .events import Event, Subscription
from .invocation import Invocation
from .manager import ActionManager
from .models import (
    InvocationResponse,
    InvocationStatus,
    InvocationSummary,
    LogEntry,
    ProblemDetails,
    Progress,
)
from .properties import property
from .server import ThingServer
from .thing import Thing

__all__ = (
    "ActionCancelledError",
    "ActionDefinitionError",
    "ActionDescriptor",
    "ActionFailedError",
    "ActionHandle",
    "ActionManager",
    "AffordanceNotFoundError",
    "AsyncActionHandle",
    "AsyncThingClient",
    "CancelHook",
    "ClientError",
    "ClientSettings",
    "ClientTimeoutError",
    "Event",
    "IllegalTransitionError",
    "InvalidArgumentsError",
    "InvalidInputError",
    "Invocation",
    "InvocationCancelledError",
    "InvocationEvent",
    "InvocationFinishedError",
    "InvocationID",
    "InvocationLogger",
    "InvocationNotFinishedError",
    "InvocationNotFoundError",
    "InvocationResponse",
    "InvocationStatus",
    "InvocationSummary",
    "LabThingsError",
    "LogEntry",
    "ManagerNotRunningError",
    "NotFoundError",
    "ProblemDetails",
    "Progress",
    "PropertyNotWritableError",
    "QueueFullError",
    "ReadOnlyPropertyError",
    "RequestFailedError",
    "ServerUnavailableError",
    "Subscription",
    "Thing",
    "ThingClient",
    "ThingDependency",
    "ThingNotFoundError",
    "ThingServer",
    "ThingSetupError",
    "action",
    "cancellable_sleep",
    "current_invocation",
    "property",
    "raise_if_cancelled",
    "report_progress",
)
