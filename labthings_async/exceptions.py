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
from .porting import CATCH_ITS_CLASS, lt_names

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

# A LabThings-FastAPI exception with no class of its own here says what to catch.
__getattr__ = lt_names(__name__, CATCH_ITS_CLASS)
