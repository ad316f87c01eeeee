"""The ``Thing`` base class: an instrument with actions and properties.

Layer: domain (stdlib). Subclasses declare ``@action`` methods,
``lt.property`` and ``lt.setting`` attributes, ``lt.thing_slot`` slots,
camera streams and ``@lt.endpoint`` methods; this module collects them when
the class is defined, so a bad declaration fails at import time, not on the
first request: among them an affordance whose name the Thing or the server
already uses.
"""

from __future__ import annotations

import inspect
import logging
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from .action import ActionDescriptor
from .context import current_invocation
from .docstrings import attribute_docstrings
from .endpoints import EndpointDescriptor
from .errors import ActionDefinitionError, AffordanceNotFoundError, NoInvocationContextError
from .hints import class_annotation
from .lock import ThingLocks
from .mjpeg import MJPEGStream, MJPEGStreamDescriptor
from .models import LOST, LogEntry
from .porting import lt_names
from .properties import PropertyDescriptor
from .schema import SchemaError, data_schema
from .server_interface import ThingServerInterface
from .setting import DataSetting, FunctionalSetting
from .settings_store import SettingsStore
from .slot import ThingSlot

__all__ = ("ROUTE_WORDS", "PropertyObserver", "Thing", "get_thing_logger")

PropertyObserver = Callable[["Thing", str, Any], None]
"""Called as ``observer(thing, property_name, new_value)`` after every change."""

LOGGER_PREFIX = "labthings_async.things"

ROUTE_WORDS: Mapping[str, str] = {
    "events": "the Thing's property-change event stream",
    "properties": "the Thing's all-properties reading",
}
"""Path segments under ``/{thing}/`` the server uses itself, and what for."""


def get_thing_logger(thing_name: str | None = None) -> logging.Logger:
    """The logger of Things, or of one Thing (LabThings-FastAPI's function).

    Records logged to it, or to a child of it, during an invocation land in
    that invocation's log. ``thing.logger`` is ``get_thing_logger(thing.name)``.

    Args:
        thing_name: A Thing's name; None for the parent of every Thing's logger.
    """
    if thing_name:
        return logging.getLogger(f"{LOGGER_PREFIX}.{thing_name}")
    return logging.getLogger(LOGGER_PREFIX)


class Thing:
    """Base class of every instrument.

    Override ``setup``/``teardown`` (plain or ``async def``; plain ones run in
    a worker thread) to connect to and release the hardware, or, as in
    LabThings-FastAPI, ``__enter__``/``__exit__``; with both, the context
    manager is the outer one (``__enter__``, ``setup``, ..., ``teardown``,
    ``__exit__``). The manager gives each Thing its name when it takes it in,
    fills its slots once every Thing exists, and loads its settings, all
    before any of these hooks runs.

    A constructor may take LabThings-FastAPI's ``thing_server_interface`` and
    pass it on (``super().__init__(thing_server_interface)``); a server built
    from a config or ``ThingServer.from_things`` supplies it.

    Args:
        thing_server_interface: The Thing's view of its server (LabThings-FastAPI's).

    Attributes:
        actions: The class's actions by name.
        properties: The class's properties by name (settings included).
        settings: The class's settings by name.
        thing_slots: The class's slots for other Things, by name.
        streams: The class's camera streams by name.
        endpoints: The class's custom HTTP endpoints (``@lt.endpoint``) by name.
        thing_lock: Set it to True in a subclass to give each of its Things a
            lock of its own: one action or client property write at a time
            (an action or property opts out with ``use_thing_lock=False``).
    """

    actions: ClassVar[Mapping[str, ActionDescriptor]] = {}
    properties: ClassVar[Mapping[str, PropertyDescriptor]] = {}
    settings: ClassVar[Mapping[str, DataSetting | FunctionalSetting[Any]]] = {}
    thing_slots: ClassVar[Mapping[str, ThingSlot]] = {}
    thing_lock: ClassVar[bool] = False
    streams: ClassVar[Mapping[str, MJPEGStreamDescriptor]] = {}
    endpoints: ClassVar[Mapping[str, EndpointDescriptor]] = {}
    _is_labthings_thing: ClassVar[bool] = True
    _thing_name: str | None = None
    _property_observer: PropertyObserver | None = None
    # Given by the manager when it starts: the file the settings go to, and
    # the locks the Thing's actions and property writes take.
    _settings_store: SettingsStore | None = None
    _locks: ThingLocks | None = None
    # Set by the constructor when given, and by the server that takes the Thing in.
    _thing_server_interface: ThingServerInterface

    def __init__(self, thing_server_interface: ThingServerInterface | None = None) -> None:
        # Subclasses need not call this: every attribute has a class-level default.
        if thing_server_interface is not None:
            self._thing_server_interface = thing_server_interface

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        actions: dict[str, ActionDescriptor] = {}
        properties: dict[str, PropertyDescriptor] = {}
        slots: dict[str, ThingSlot] = {}
        streams: dict[str, MJPEGStreamDescriptor] = {}
        endpoints: dict[str, EndpointDescriptor] = {}
        for klass in reversed(cls.__mro__):
            for name, attribute in vars(klass).items():
                if isinstance(attribute, ActionDescriptor):
                    actions[name] = attribute
                elif isinstance(attribute, PropertyDescriptor) and attribute.name == name:
                    properties[name] = attribute
                elif isinstance(attribute, ThingSlot):
                    slots[name] = attribute
                elif isinstance(attribute, MJPEGStreamDescriptor):
                    streams[name] = attribute
                elif isinstance(attribute, EndpointDescriptor):
                    endpoints[name] = attribute
        for declared in actions.values():
            if declared.owner is None:  # Defined here, or in a mixin that is not a Thing.
                declared.read_signature(cls)
        for custom in endpoints.values():
            if custom.owner is None:
                custom.read_signature(cls)
        if properties:
            hints: dict[str, Any] = {}
            for name in properties:
                try:
                    hints[name] = class_annotation(cls, name)
                except KeyError:
                    continue  # Functional ones need none; a data one without says so below.
                except NameError as error:
                    raise ActionDefinitionError(
                        f"Thing {cls.__name__}: cannot resolve a property annotation ({error})"
                    ) from None
            for descriptor in properties.values():
                descriptor.resolve_type(cls, hints)
            _describe_from_docstrings(cls, properties)
        for name, slot in slots.items():
            if name in vars(cls):  # An inherited slot was read with its own class.
                slot.read_annotation(cls)
        _check_names(cls, "action", actions)
        _check_names(cls, "property", properties)
        _check_names(cls, "slot", slots, served=False)
        if not isinstance(cls.thing_lock, bool):
            raise ActionDefinitionError(
                f"Thing {cls.__name__}: thing_lock is {cls.thing_lock!r}; set it to True or False"
            )
        _check_names(cls, "stream", streams)
        clash = actions.keys() & properties.keys()
        if clash:
            raise ActionDefinitionError(
                f"Thing {cls.__name__}: {sorted(clash)} are both actions and properties"
            )
        clash = streams.keys() & (actions.keys() | properties.keys())
        if clash:
            raise ActionDefinitionError(
                f"Thing {cls.__name__}: {sorted(clash)} would be both a camera stream and "
                "an action or property, at the same URL; give the stream another name"
            )
        for name, prop in properties.items():
            _check_describable(cls, f"property {name!r}", prop.value_type)
        for name, act in actions.items():
            _check_describable(cls, f"the input of action {name!r}", act.input_model)
            _check_describable(cls, f"the output of action {name!r}", act.output_type)
        _check_endpoint_paths(cls, endpoints, actions.keys() | properties.keys() | streams.keys())
        cls.actions = actions
        cls.properties = properties
        cls.settings = {
            name: prop
            for name, prop in properties.items()
            if isinstance(prop, DataSetting | FunctionalSetting)
        }
        for name, prop in cls.settings.items():
            if isinstance(prop, FunctionalSetting) and prop.setter_function is None:
                raise ActionDefinitionError(
                    f"setting {cls.__name__}.{name} has a getter and no setter, so its saved "
                    f"value could never be loaded; add `@{name}.setter`, or make it an "
                    "lt.property"
                )
        cls.thing_slots = slots
        cls.streams = streams
        cls.endpoints = endpoints

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
        return get_thing_logger(self.name)

    def get_current_invocation_logs(self) -> list[LogEntry]:
        """The log records of the invocation the calling code runs in, oldest first.

        LabThings-FastAPI's method, for an action that saves its log with its
        data. The records are ``LogEntry`` structs, as the invocation's ``log``
        serves them (``message``, ``levelname``, ``created``...), not
        ``logging.LogRecord``s; at most the invocation's ``log_len`` newest.

        Raises:
            NoInvocationContextError: Called outside any action.
        """
        invocation = current_invocation()
        if invocation is None:
            raise NoInvocationContextError(
                "get_current_invocation_logs() was called outside any action: only the "
                "code an invocation runs has an invocation log"
            )
        return list(invocation.log)

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

    def camera_streams(self) -> dict[str, MJPEGStream]:
        """This Thing's camera streams, by name."""
        return {name: getattr(self, name) for name in type(self).streams}

    def observe_properties(self, observer: PropertyObserver | None) -> None:
        """Route this Thing's property changes to ``observer`` (None: nowhere)."""
        self._property_observer = observer

    def property_changed(self, name: str, value: Any) -> None:
        """Announce a new value of property ``name`` (called by the descriptors)."""
        observer = self._property_observer
        if observer is not None:
            observer(self, name, value)

    def save_settings(self) -> None:
        """Save every setting of the Thing to its settings file now, atomically.

        Assigning a setting saves them already; call this after changing a
        dict or list setting in place (``self.offsets["x"] = 1.5``), which
        no assignment announces. Before the server has loaded the settings
        (in ``__init__``, or with no server) it does nothing, as in
        LabThings-FastAPI, so defaults never overwrite a saved file.

        Raises:
            SettingsError: The file could not be written; it keeps the
                settings it had.
        """
        store = self._settings_store
        if store is not None:
            store.save()

    def setup(self) -> Any:
        """Connect to the hardware. Runs once before the server takes requests."""

    def teardown(self) -> Any:
        """Release the hardware. Runs once when the server stops."""


_THING_OWN_NAMES = frozenset(dir(Thing))
"""Every attribute and method of ``Thing`` itself: an affordance must not hide one."""


def _check_names(
    cls: type[Thing], kind: str, declared: Mapping[str, object], *, served: bool = True
) -> None:
    """Fail at class definition if a declaration hides a name the framework uses.

    ``served``: the declarations have paths of their own under ``/{thing}/``.
    """
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
        if served and name in ROUTE_WORDS:
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


def _describe_from_docstrings(
    cls: type[Thing], properties: Mapping[str, PropertyDescriptor]
) -> None:
    """Describe the properties this class declares with the docstrings under them."""
    undescribed = [
        descriptor
        for name, descriptor in properties.items()
        if descriptor.description is None and vars(cls).get(name) is descriptor
    ]
    if undescribed:
        docstrings = attribute_docstrings(cls)
        for descriptor in undescribed:
            descriptor.description = docstrings.get(descriptor.name)


def _check_endpoint_paths(
    cls: type[Thing], endpoints: Mapping[str, EndpointDescriptor], affordances: Iterable[str]
) -> None:
    """Fail at class definition if an endpoint's path would hide an affordance or a route."""
    taken = {*affordances, *ROUTE_WORDS, ""}
    for name, custom in endpoints.items():
        first = custom.path.partition("/")[0]
        if first in taken:
            raise ActionDefinitionError(
                f"Thing {cls.__name__}: endpoint {name!r} would be served at "
                f"/{{thing}}/{custom.path}, which the Thing's own routes use; give it another path"
            )


if not TYPE_CHECKING:  # mypy goes on checking this module's own names strictly.
    # The names LabThings-FastAPI's module of this path had import from here too.
    __getattr__ = lt_names(__name__)
