"""labthings_async: lab instruments on the network, asyncio-native.

The root package only re-exports the public API; see the modules for each idea.
"""

from . import exceptions
from .action import ActionDescriptor, action
from .client import (
    ActionFailedError,
    ActionHandle,
    AsyncActionHandle,
    AsyncThingClient,
    ClientError,
    ClientSettings,
    ClientTimeoutError,
    InvocationEvent,
    RequestFailedError,
    ServerUnavailableError,
    ThingClient,
)
from .context import (
    CancelHook,
    cancellable_sleep,
    current_invocation,
    progress_span,
    raise_if_cancelled,
    report_progress,
)
from .dependencies import InvocationID, InvocationLogger, ThingDependency
from .endpoints import endpoint
from .errors import (
    ActionCancelledError,
    ActionDefinitionError,
    AffordanceNotFoundError,
    BodyTooLargeError,
    ConfigError,
    IllegalTransitionError,
    InvalidArgumentsError,
    InvalidInputError,
    InvalidOutputError,
    InvocationCancelledError,
    InvocationError,
    InvocationFinishedError,
    InvocationNotFinishedError,
    InvocationNotFoundError,
    LabThingsError,
    ManagerNotRunningError,
    NoInvocationContextError,
    NotFoundError,
    PropertyAccessError,
    PropertyNotWritableError,
    QueueFullError,
    ReadOnlyPropertyError,
    SchemaError,
    ThingNotFoundError,
    ThingSetupError,
    UnsupportedFeatureError,
    UnsupportedMediaTypeError,
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
from .porting import __getattr__ as __getattr__
from .properties import property
from .server import ThingServer
from .server_interface import ThingServerInterface
from .thing import Thing, get_thing_logger
from .threads import ThreadWithInvocationID

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
    "BodyTooLargeError",
    "CancelHook",
    "ClientError",
    "ClientSettings",
    "ClientTimeoutError",
    "ConfigError",
    "Event",
    "IllegalTransitionError",
    "InvalidArgumentsError",
    "InvalidInputError",
    "InvalidOutputError",
    "Invocation",
    "InvocationCancelledError",
    "InvocationError",
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
    "NoInvocationContextError",
    "NotFoundError",
    "ProblemDetails",
    "Progress",
    "PropertyAccessError",
    "PropertyNotWritableError",
    "QueueFullError",
    "ReadOnlyPropertyError",
    "RequestFailedError",
    "SchemaError",
    "ServerUnavailableError",
    "Subscription",
    "Thing",
    "ThingClient",
    "ThingDependency",
    "ThingNotFoundError",
    "ThingServer",
    "ThingServerInterface",
    "ThingSetupError",
    "ThreadWithInvocationID",
    "UnsupportedFeatureError",
    "UnsupportedMediaTypeError",
    "action",
    "cancellable_sleep",
    "current_invocation",
    "endpoint",
    "exceptions",
    "get_thing_logger",
    "progress_span",
    "property",
    "raise_if_cancelled",
    "report_progress",
)
