"""The ``Thing`` base class: an instrument with actions and properties.

Layer: domain (stdlib). Subclasses declare ``@action`` methods and
``lt.property`` attributes; this module collects them when the class is
defined, so a bad declaration fails at import time, not on the first request:
among them an affordance whose name the Thing or the server already uses.
"""

from __future__ import annotations

import inspect
import logging
import typing
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from .action import ActionDescriptor
from .errors import ActionDefinitionError, AffordanceNotFoundError
from .models import LOST
from .properties import PropertyDescriptor
from .schema import SchemaError, data_schema

__all__ = ("ROUTE_WORDS", "PropertyObserver", "Thing")

PropertyObserver = Callable[["Thing", str, Any], None]
"""Called as ``observer(thing, property_name, new_value)`` after every change."""

LOGGER_PREFIX = "labthings_async.things"

ROUTE_WORDS: Mapping[str, str] = {
    "events": "the Thing's property-change event stream",
    "properties": "the Thing's all-properties reading",
}
"""Path segments under ``/{thing}/`` the server uses itself, and what for."""


class Thing:
    """Base class of every instrument.

    Override ``setup``/``teardown`` (plain or ``async def``; plain ones run in
    a worker thread) to connect to and release the hardware. The manager gives
    each Thing its name when it takes it in.

    Attributes:
        actions: The class's actions by name.
        properties: The class's properties by name.
    """

    actions: ClassVar[Mapping[str, ActionDescriptor]] = {}
    properties: ClassVar[Mapping[str, PropertyDescriptor]] = {}
    _is_labthings_thing: ClassVar[bool] = True
    _thing_name: str | None = None
    _property_observer: PropertyObserver | None = None

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        actions: dict[str, ActionDescriptor] = {}
        properties: dict[str, PropertyDescriptor] = {}
        for klass in reversed(cls.__mro__):
            for name, attribute in vars(klass).items():
                if isinstance(attribute, ActionDescriptor):
                    actions[name] = attribute
                elif isinstance(attribute, PropertyDescriptor) and attribute.name == name:
                    properties[name] = attribute
        for declared in actions.values():
            if declared.owner is None:  # Defined here, or in a mixin that is not a Thing.
                declared.read_signature(cls)
        if properties:
            try:
                hints = typing.get_type_hints(cls, include_extras=True)
            except NameError as error:
                raise ActionDefinitionError(
                    f"Thing {cls.__name__}: cannot resolve a property annotation ({error})"
                ) from None
            for descriptor in properties.values():
                descriptor.resolve_type(cls, hints)
        _check_names(cls, "action", actions)
        _check_names(cls, "property", properties)
        clash = actions.keys() & properties.keys()
        if clash:
            raise ActionDefinitionError(
                f"Thing {cls.__name__}: {sorted(clash)} are both actions and properties"
            )
        for name, prop in properties.items():
            _check_describable(cls, f"property {name!r}", prop.value_type)
        for name, act in actions.items():
            _check_describable(cls, f"the input of action {name!r}", act.input_model)
            _check_describable(cls, f"the output of action {name!r}", act.output_type)
        cls.actions = actions
        cls.properties = properties

    @property
    def name(self) -> str:
        """The Thing's name on the server (its class name until it is given one)."""
        return self._thing_name or type(self).__name__.lower()

    @name.setter
    def name(self, value: str) -> None:
        self._thing_name = value

    def __repr__(self) -> str:
        kind = type(self)
        properties = ", ".join(kind.properties) or "(none)"
        actions = ", ".join(kind.actions) or "(none)"
        return f"<{kind.__qualname__} {self.name!r}: properties {properties}; actions {actions}>"

    @property
    def title(self) -> str:
        """Human-readable title: the class name."""
        return type(self).__name__

    @property
    def description(self) -> str | None:
        """The class docstring, if the class has its own."""
        return inspect.getdoc(type(self)) if type(self).__doc__ else None

    @property
    def logger(self) -> logging.Logger:
        """The Thing's logger; records logged during an invocation land in its log."""
        return logging.getLogger(f"{LOGGER_PREFIX}.{self.name}")

    @classmethod
    def get_action(cls, name: str) -> ActionDescriptor:
        """The action called ``name``.

        Raises:
            AffordanceNotFoundError: The Thing has no such action.
        """
        try:
            return cls.actions[name]
        except KeyError:
            raise AffordanceNotFoundError(
                f"{cls.__name__} has no action {name!r}; its actions are {sorted(cls.actions)}"
            ) from None

    @classmethod
    def get_property(cls, name: str) -> PropertyDescriptor:
        """The property called ``name``.

        Raises:
            AffordanceNotFoundError: The Thing has no such property.
        """
        try:
            return cls.properties[name]
        except KeyError:
            raise AffordanceNotFoundError(
                f"{cls.__name__} has no property {name!r}; "
                f"its properties are {sorted(cls.properties)}"
            ) from None

    def observe_properties(self, observer: PropertyObserver | None) -> None:
        """Route this Thing's property changes to ``observer`` (None: nowhere)."""
        self._property_observer = observer

    def property_changed(self, name: str, value: Any) -> None:
        """Announce a new value of property ``name`` (called by the descriptors)."""
        observer = self._property_observer
        if observer is not None:
            observer(self, name, value)

    def setup(self) -> Any:
        """Connect to the hardware. Runs once before the server takes requests."""

    def teardown(self) -> Any:
        """Release the hardware. Runs once when the server stops."""


_THING_OWN_NAMES = frozenset(dir(Thing))
"""Every attribute and method of ``Thing`` itself: an affordance must not hide one."""


def _check_names(cls: type[Thing], kind: str, declared: Mapping[str, object]) -> None:
    """Fail at class definition if an affordance hides a name the framework uses."""
    for name in declared:
        if name in _THING_OWN_NAMES:
            raise ActionDefinitionError(
                f"Thing {cls.__name__}: {kind} {name!r} would hide Thing.{name}, which "
                f"the framework relies on; give the {kind} another name"
            )
        if kind == "property" and name == LOST:
            raise ActionDefinitionError(
                f"Thing {cls.__name__}: property {name!r} would send its changes as events "
                f"named {LOST!r}, which is what an event stream calls its notice that events "
                "were lost, so clients could not tell the two apart; give the property "
                "another name"
            )
        if name in ROUTE_WORDS:
            raise ActionDefinitionError(
                f"Thing {cls.__name__}: {kind} {name!r} would take the path "
                f"/{{thing}}/{name}, which serves {ROUTE_WORDS[name]}; "
                f"give the {kind} another name"
            )


def _check_describable(cls: type[Thing], what: str, tp: Any) -> None:
    """Fail at class definition if a Thing Description cannot describe ``tp``."""
    try:
        data_schema(tp)
    except SchemaError as error:
        raise ActionDefinitionError(f"Thing {cls.__name__}: {what}: {error}") from None
