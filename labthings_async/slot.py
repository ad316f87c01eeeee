"""Slots: a Thing's references to other Things of the same server (``lt.thing_slot``).

Layer: domain (stdlib and the errors). As in LabThings-FastAPI, a slot is a
class attribute typed with what it holds: ``stage: Stage = lt.thing_slot()``
one Thing, found by type (or by name: ``lt.thing_slot("left")``);
``light: Light | None`` one or none; ``cameras: Mapping[str, Camera]`` any
number, by name. The server fills every slot once every Thing exists and
before any is set up, so slots may point both ways, and a Thing uses them in
its setup, properties and actions like any attribute. A config file's
``thing_slots`` overrides what a slot names. A slot that cannot be filled
stops the server at start-up, naming the Thing, the slot and the Things that
could fill it.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterable, Mapping
from types import EllipsisType, MappingProxyType
from typing import Any, ClassVar, Protocol, overload

from .errors import ActionDefinitionError, ThingNotConnectedError, ThingSlotError
from .hints import class_annotation

__all__ = (
    "SlotHost",
    "SlotTarget",
    "ThingSlot",
    "connect_slots",
    "thing_slot",
)

SlotTarget = str | Iterable[str] | None | EllipsisType
"""What a slot is filled with: a Thing's name, names, None (nothing), or ``...`` (by type)."""

_BY_TYPE = ...


class SlotHost(Protocol):
    """What filling the slots needs of a Thing (``Thing`` provides it)."""

    thing_slots: ClassVar[Mapping[str, ThingSlot]]

    @property
    def name(self) -> str:
        """The Thing's name on the server."""


def _is_thing_class(value: Any) -> bool:
    return isinstance(value, type) and getattr(value, "_is_labthings_thing", False)


class ThingSlot:
    """A class attribute the server fills with another Thing (or several) of the same server.

    Read through ``lt.thing_slot(...)``. Until the server fills it, reading
    it raises ``ThingNotConnectedError``; once filled, it is a plain
    attribute of the instance (assigning it, in a test, puts a stand-in there).

    Args:
        default: What to fill it with when the config does not say: a
            Thing's name, names (for a mapping), None, or ``...`` to find
            the Thing(s) of the annotated type.

    Attributes:
        name: The attribute's name.
        default: What it is filled with unless the config says otherwise.
        thing_types: The Thing classes it accepts (empty until its annotation is read).
        optional: True when it may hold None (``Stage | None``).
        many: True when it holds a mapping of names to Things.
    """

    def __init__(self, *, default: SlotTarget = _BY_TYPE) -> None:
        if isinstance(default, str | EllipsisType) or default is None:
            self.default: SlotTarget = default
        elif _is_target(default):
            self.default = tuple(default)
        else:
            raise ActionDefinitionError(
                f"lt.thing_slot({default!r}): give the name of a Thing, a list of names, "
                "None, or nothing (to find the Thing by its type)"
            )
        self.name = ""
        self.thing_types: tuple[type, ...] = ()
        self.optional = False
        self.many = False
        self._owner: type | None = None

    def __set_name__(self, owner: type, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return f"<ThingSlot {self.name}: {self.describe_type()}>"

    def read_annotation(self, owner: type, *, later: bool = True) -> None:
        """Read the kind of Thing the slot holds from its annotation on ``owner``.

        ``Thing.__init_subclass__`` calls this. An annotation naming a class
        not defined yet (two Things pointing at each other) is read again
        when the server fills the slot.

        Args:
            owner: The Thing class the slot belongs to.
            later: Leave an annotation that names something undefined to be
                read later, rather than failing.

        Raises:
            ActionDefinitionError: The annotation is missing or is not a Thing
                class, an optional one or a mapping of names to Things.
        """
        self._owner = owner
        where = f"slot {owner.__name__}.{self.name}"
        try:
            annotation = class_annotation(owner, self.name)
        except KeyError:
            raise ActionDefinitionError(
                f"{where} has no type annotation; write `{self.name}: OtherThing = "
                "lt.thing_slot()` with the class of the Thing it holds"
            ) from None
        except NameError as error:
            if later:
                return
            raise ActionDefinitionError(
                f"{where}: cannot resolve its annotation ({error})"
            ) from None
        origin = typing.get_origin(annotation)
        many = origin is Mapping
        held = annotation
        if many:
            key, held = typing.get_args(annotation)
            if key is not str:
                raise ActionDefinitionError(
                    f"{where}: a mapping slot is keyed by Thing names: write Mapping[str, ...]"
                )
        members = (
            typing.get_args(held)
            if typing.get_origin(held) in (typing.Union, types.UnionType)
            else (held,)
        )
        optional = type(None) in members
        thing_types = tuple(member for member in members if member is not type(None))
        if not thing_types or not all(_is_thing_class(member) for member in thing_types):
            raise ActionDefinitionError(
                f"{where}: its annotation {annotation!r} is not a Thing class, an optional "
                "one (Stage | None) or a mapping of names to Things (Mapping[str, Stage])"
            )
        self.thing_types = thing_types
        self.optional = optional
        self.many = many

    def describe_type(self) -> str:
        """What the slot holds, as its annotation says: ``Stage``, ``Stage | None``..."""
        if not self.thing_types:
            return "(not read yet)"
        held = " | ".join(cls.__name__ for cls in self.thing_types)
        if self.many:
            return f"Mapping[str, {held}]"
        return f"{held} | None" if self.optional else held

    @overload
    def __get__(self, obj: None, owner: type) -> ThingSlot: ...
    @overload
    def __get__(self, obj: object, owner: type) -> Any: ...
    def __get__(self, obj: object | None, owner: type) -> Any:
        # Only called until the slot is filled: filling it puts the value in
        # the instance's __dict__, which this non-data descriptor leaves in front.
        if obj is None:
            return self
        raise ThingNotConnectedError(
            f"slot {self.name!r} of {obj!r} is not filled yet: the server fills slots when "
            "it starts, after every Thing is made and before any is set up, so use it in "
            "setup, properties and actions rather than in __init__"
        )

    def fill(self, host: SlotHost, things: Mapping[str, Any], target: SlotTarget) -> None:
        """Fill the slot of ``host`` from ``things``, as ``target`` (or its default) says.

        Raises:
            ThingSlotError: It cannot be filled; the message names the Thing,
                the slot, what it asked for and the Things that could fill it.
        """
        if not self.thing_types:
            # Its annotation named a class not defined yet when its Thing was.
            try:
                self.read_annotation(self._owner or type(host), later=False)
            except ActionDefinitionError as error:
                raise ThingSlotError(str(error)) from None
        configured = target is not _BY_TYPE
        wanted = self.default if not configured else target
        where = f"Thing {host.name!r}: slot {self.name!r} ({self.describe_type()})"
        source = "the config's thing_slots" if configured else "its default"
        fitting = [name for name, thing in things.items() if isinstance(thing, self.thing_types)]
        candidates = (
            f"Things that fit: {', '.join(map(repr, fitting))}"
            if fitting
            else "no Thing here fits; the Things are "
            + (", ".join(f"{name!r} ({type(t).__name__})" for name, t in things.items()) or "none")
        )
        if wanted is _BY_TYPE:
            picked = fitting
        elif wanted is None:
            picked = []
            if not (self.many or self.optional):
                raise ThingSlotError(
                    f"{where} is None in {source}, but it needs a Thing: name one in the "
                    f"config's thing_slots; {candidates}"
                )
        else:
            names = [wanted] if isinstance(wanted, str) else list(wanted)
            for name in names:
                if name not in things:
                    raise ThingSlotError(
                        f"{where}: {source} names {name!r}, which is not a Thing here; {candidates}"
                    )
                if not isinstance(things[name], self.thing_types):
                    raise ThingSlotError(
                        f"{where}: {source} names {name!r}, a "
                        f"{type(things[name]).__name__}, which does not fit; {candidates}"
                    )
            picked = names
        value: Any
        if self.many:
            value = MappingProxyType({name: things[name] for name in picked})
        elif not picked:
            if not self.optional:
                raise ThingSlotError(f"{where} needs a Thing and none was found; {candidates}")
            value = None
        elif len(picked) > 1:
            raise ThingSlotError(
                f"{where} holds one Thing, and {len(picked)} fit: {', '.join(map(repr, picked))}; "
                f"name the one to use in the config's thing_slots, or as "
                f"lt.thing_slot({picked[0]!r})"
            )
        else:
            value = things[picked[0]]
        vars(host)[self.name] = value


def connect_slots(
    things: Mapping[str, SlotHost], overrides: Mapping[str, Mapping[str, SlotTarget]]
) -> None:
    """Fill every slot of every Thing, ``overrides`` (the config's ``thing_slots``) first.

    Args:
        things: Every Thing of the server, by name.
        overrides: Thing name to slot name to what fills it.

    Raises:
        ThingSlotError: A slot cannot be filled, or ``overrides`` names a
            Thing or slot that does not exist.
    """
    for name, configured in overrides.items():
        if name not in things:
            raise ThingSlotError(
                f"thing_slots names Thing {name!r}, which is not here; "
                f"the Things are {sorted(things)}"
            )
        unknown = set(configured) - set(type(things[name]).thing_slots)
        if unknown:
            raise ThingSlotError(
                f"thing_slots names slot(s) {sorted(unknown)} of Thing {name!r}, which has "
                f"none such; its slots are {sorted(type(things[name]).thing_slots) or 'none'}"
            )
        for slot_name, target in configured.items():
            if not _is_target(target):
                raise ThingSlotError(
                    f"thing_slots gives slot {slot_name!r} of Thing {name!r} {target!r}; give "
                    "a Thing's name, a list of names, or null"
                )
    for name, thing in things.items():
        configured = overrides.get(name, {})
        for slot_name, slot in type(thing).thing_slots.items():
            slot.fill(thing, things, configured.get(slot_name, _BY_TYPE))


def _is_target(target: object) -> bool:
    """True for what may fill a slot: a name, names, None, or ``...``."""
    if target is None or isinstance(target, str | EllipsisType):
        return True
    return isinstance(target, Iterable) and all(isinstance(name, str) for name in target)


def thing_slot(default: SlotTarget = _BY_TYPE) -> Any:
    """Declare a slot for another Thing of the same server, as LabThings-FastAPI does.

    ``stage: Stage = lt.thing_slot()`` finds the one ``Stage``;
    ``lt.thing_slot("left")`` names it; ``light: Light | None =
    lt.thing_slot()`` may be empty; ``cameras: Mapping[str, Camera] =
    lt.thing_slot()`` holds every ``Camera``, by name (or those a list of
    names gives). A config file's ``thing_slots`` overrides the default.

    Args:
        default: A Thing's name, a list of names, None, or nothing (by type).

    Returns:
        The slot (typed ``Any``, so ``stage: Stage = lt.thing_slot()`` type-checks).
    """
    return ThingSlot(default=default)
