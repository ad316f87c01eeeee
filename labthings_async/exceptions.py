"""LabThings-FastAPI's exception names (``lt.exceptions.X``), for code written against it.

Layer: domain (the errors only). Each name here is the class labthings_async
raises for that condition, so ``except lt.exceptions.InvocationCancelledError:``
catches what it caught before. A LabThings-FastAPI name with no counterpart
raises ``AttributeError`` saying what to write instead (see docs/porting.md).
"""

from __future__ import annotations

from .errors import (
    ActionDefinitionError,
    AffordanceNotFoundError,
    InvalidOutputError,
    InvocationCancelledError,
    InvocationError,
    ManagerNotRunningError,
    NoInvocationContextError,
    ReadOnlyPropertyError,
    UnsupportedFeatureError,
)

__all__ = (
    "FeatureNotAvailableError",
    "InconsistentTypeError",
    "InvalidReturnValueError",
    "InvocationCancelledError",
    "InvocationError",
    "MissingTypeError",
    "NoInvocationContextError",
    "PropertyNotObservableError",
    "ReadOnlyPropertyError",
    "ServerNotRunningError",
    "UnserialisableTypeError",
    "UnsupportedConstraintError",
)

InvalidReturnValueError = InvalidOutputError
"""An action returned a value that does not fit its return annotation."""

ServerNotRunningError = ManagerNotRunningError
"""The server (its ActionManager) is not running."""

PropertyNotObservableError = AffordanceNotFoundError
"""Observing a property that is not observable: the route is not there (404)."""

UnserialisableTypeError = ActionDefinitionError
"""A declared type that cannot be carried as JSON, refused at class definition."""

UnsupportedConstraintError = ActionDefinitionError
"""A property constraint that is not supported, refused at class definition."""

MissingTypeError = ActionDefinitionError
"""A property or parameter without a type annotation, refused at class definition."""

InconsistentTypeError = ActionDefinitionError
"""Conflicting type annotations, refused at class definition."""

FeatureNotAvailableError = UnsupportedFeatureError
"""A feature that works differently here; the message says what to write instead."""

_INSTEAD = {
    "ServerActionError": "lt.ActionFailedError (the client's error for an action that failed)",
    "FailedToInvokeActionError": (
        "lt.InvalidInputError (input the action refused) or lt.NotFoundError"
    ),
    "ClientPropertyError": "lt.InvalidInputError, lt.ReadOnlyPropertyError or lt.ClientError",
    "NotConnectedToServerError": "lt.ManagerNotRunningError",
    "NotBoundToInstanceError": "nothing: descriptors here need no binding",
    "LogConfigurationError": "nothing: invocation logs need no configuration",
    "NoUrlForContextError": "nothing: URLs are built from each request",
}


def __getattr__(name: str) -> object:
    """Say what to write instead of a LabThings-FastAPI exception this module lacks."""
    if name.startswith("__"):
        raise AttributeError(name)
    instead = _INSTEAD.get(name, "the class under lt.LabThingsError that names the condition")
    raise AttributeError(
        f"labthings_async.exceptions has no {name}: LabThings-FastAPI's {name} is not raised "
        f"here; catch {instead} instead (docs/porting.md lists every difference)"
    )
