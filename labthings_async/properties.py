"""Properties: typed values of a Thing that clients read, write and observe.

Layer: domain (stdlib, msgspec). ``property`` makes either a *data*
property (a value stored on the Thing, typed by the class annotation) or a
*functional* property (a getter, optionally a setter). Python code reads and
assigns them as plain attributes; clients go through ``read``/``write``, which
validate (with msgspec, or with pydantic for a type that uses it: see
``codec``). Every change is reported to the Thing, which publishes it.

As in LabThings-FastAPI, a property with a default can be reset to it
(``descriptor.reset(thing)``, or ``POST /{thing}/{property}/reset``); a
functional property may name a resetter (``@name.resetter``) or a default
(``name.default = ...``), and its Thing Description shows the default.
"""

from __future__ import annotations

import builtins
import inspect
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated, Any, Generic, Protocol, TypeVar, overload

import msgspec

from .codec import Codec, MsgspecCodec, declared_codec, uses_pydantic
from .errors import ActionDefinitionError, InvalidInputError, ReadOnlyPropertyError
from .porting import lt_names

__all__ = (
    "DataProperty",
    "FunctionalProperty",
    "PropertyDescriptor",
    "PropertyOwner",
    "property",
)

T = TypeVar("T")

_MISSING: Any = object()


class PropertyOwner(Protocol):
    """What a property needs of the Thing it belongs to (``Thing`` provides it)."""

    def property_changed(self, name: str, value: Any) -> None:
        """Announce a new value of property ``name``."""


_CONSTRAINTS = frozenset(
    {
        "allow_inf_nan",
        "gt",
        "ge",
        "lt",
        "le",
        "multiple_of",
        "pattern",
        "min_length",
        "max_length",
        "tz",
        "examples",
        "extra_json_schema",
    }
)


class PropertyDescriptor:
    """What every property has: a name, a type, and validated client access.

    Attributes:
        name: The attribute name, which is also the name on the wire.
        value_type: The type values are validated against (with constraints).
        readonly: True when clients may not write it.
        observable: True when changes are published as events.
        title: Short human-readable name.
        description: Longer text, shown in the Thing Description (the
            docstring under the attribute, when none is given).
        use_global_lock: False: a client's write never takes the server-wide
            lock (LabThings' option); otherwise it does when the lock is on.
        use_thing_lock: False: a client's write never takes its Thing's own
            lock; otherwise it does when the Thing has one.
    """

    name: str
    value_type: Any

    def __init__(
        self,
        *,
        readonly: bool,
        observable: bool,
        title: str | None,
        description: str | None,
        constraints: dict[str, Any],
        use_global_lock: bool | None = None,
        use_thing_lock: bool | None = None,
    ) -> None:
        unknown = set(constraints) - _CONSTRAINTS
        if unknown:
            raise ActionDefinitionError(
                f"unknown property option(s) {sorted(unknown)}; constraints are "
                f"msgspec.Meta keywords: {sorted(_CONSTRAINTS)}"
            )
        if constraints.pop("allow_inf_nan", False):
            raise ActionDefinitionError(
                "allow_inf_nan=True cannot be honoured: JSON has no infinity or NaN, so "
                "a client could never send one; leave it out (False is what JSON does)"
            )
        self.readonly = readonly
        self.observable = observable
        self.title = title
        self.description = description
        self.use_global_lock = use_global_lock
        self.use_thing_lock = use_thing_lock
        self._constraints = constraints
        self.name = ""
        self.value_type = Any
        self._codec: Codec = MsgspecCodec(Any)

    def _settle(self, owner: builtins.type[Any], tp: Any) -> None:
        """Take ``tp``, constrained, as the value type, and pick its codec."""
        where = f"property {owner.__name__}.{self.name}"
        if self._constraints:
            if uses_pydantic(tp):
                from pydantic import Field

                tp = Annotated[tp, Field(**self._constraints)]
            else:
                tp = Annotated[tp, msgspec.Meta(**self._constraints)]
        self._codec = declared_codec(tp, where)
        self.value_type = tp

    def resolve_type(self, owner: builtins.type[Any], hints: dict[str, Any]) -> None:
        """Settle the value type once the owning class exists."""

    def decode(self, raw: bytes) -> Any:
        """Validate a JSON body as a new value for this property."""
        return self._codec.decode_json(raw, f"the value for property {self.name!r}")

    def convert(self, value: Any) -> Any:
        """Validate a Python value as a new value for this property."""
        return self._codec.convert(value, f"the value for property {self.name!r}")

    def _check_default(self, owner: builtins.type[Any], default: Any) -> None:
        """Fail at class definition if ``default`` does not fit the property's type."""
        try:
            self._codec.convert(self._codec.to_json_value(default), "its default")
        except (InvalidInputError, TypeError, ValueError) as error:
            raise ActionDefinitionError(
                f"property {owner.__name__}.{self.name}: its default "
                f"{default!r} does not fit its type: {error}"
            ) from None

    @builtins.property
    def has_default(self) -> bool:
        """Whether the property has a default value (shown in the Thing Description)."""
        return False

    def get_default(self) -> Any:
        """The default value.

        Raises:
            LookupError: The property has no default.
        """
        raise LookupError(f"property {self.name!r} has no default")

    def default_json(self) -> Any:
        """The default as plain JSON values, for the Thing Description."""
        return self._codec.to_json_value(self.get_default())

    def is_resettable(self) -> bool:
        """Whether ``reset`` can set the property back to a default state."""
        return False

    def reset(self, thing: Any) -> None:
        """Set the property back to its default state.

        Raises:
            ReadOnlyPropertyError: It has no default and no resetter.
        """
        raise ReadOnlyPropertyError(
            f"property {self.name!r} cannot be reset: it has no default and no resetter"
        )

    def read(self, thing: Any) -> Any:
        """The current value (a functional getter may block: call it in a thread)."""
        return getattr(thing, self.name)

    def write(self, thing: Any, value: Any) -> None:
        """Set an already validated value on behalf of a client."""
        if self.readonly:
            raise ReadOnlyPropertyError(f"property {self.name!r} is read-only")
        setattr(thing, self.name, value)

    def __set_name__(self, owner: builtins.type[Any], name: str) -> None:
        # LabThings style binds a setter under a second name (`@x.setter def
        # _set_x`): the property keeps its first name, and only that one counts.
        if not self.name:
            self.name = name


class DataProperty(PropertyDescriptor):
    """A property whose value is stored on the Thing instance."""

    def __init__(
        self,
        default: Any = _MISSING,
        *,
        default_factory: Callable[[], Any] | None = None,
        readonly: bool = False,
        observable: bool = True,
        title: str | None = None,
        description: str | None = None,
        use_global_lock: bool | None = None,
        use_thing_lock: bool | None = None,
        **constraints: Any,
    ) -> None:
        super().__init__(
            readonly=readonly,
            observable=observable,
            title=title,
            description=description,
            constraints=constraints,
            use_global_lock=use_global_lock,
            use_thing_lock=use_thing_lock,
        )
        if default is _MISSING and default_factory is None:
            raise ActionDefinitionError("a data property needs a default or a default_factory")
        self.default = default
        self.default_factory = default_factory

    def resolve_type(self, owner: builtins.type[Any], hints: dict[str, Any]) -> None:
        """Take the value type from the class annotation of the attribute."""
        if self.name not in hints:
            raise ActionDefinitionError(
                f"property {owner.__name__}.{self.name} has no type annotation; "
                f"write `{self.name}: int = lt.property(...)` with its type"
            )
        self._settle(owner, hints[self.name])
        if self.default is not _MISSING:
            self._check_default(owner, self.default)

    @builtins.property
    def has_default(self) -> bool:
        """Always: a data property needs a default."""
        return True

    def get_default(self) -> Any:
        """The default value (a new one from ``default_factory``, if it has one)."""
        return self.default_factory() if self.default_factory else self.default

    def is_resettable(self) -> bool:
        """Always: a data property resets to its default."""
        return True

    def reset(self, thing: Any) -> None:
        """Set the property back to its default (published as a change, if observable)."""
        self.__set__(thing, self.get_default())

    @overload
    def __get__(self, obj: None, owner: builtins.type[Any]) -> DataProperty: ...
    @overload
    def __get__(self, obj: object, owner: builtins.type[Any]) -> Any: ...
    def __get__(self, obj: object | None, owner: builtins.type[Any]) -> Any:
        if obj is None:
            return self
        try:
            return obj.__dict__[self.name]
        except KeyError:
            value = self.get_default()
            obj.__dict__[self.name] = value
            return value

    def __set__(self, obj: PropertyOwner, value: Any) -> None:
        obj.__dict__[self.name] = value
        if self.observable:
            obj.property_changed(self.name, value)


class FunctionalProperty(PropertyDescriptor, Generic[T]):
    """A property computed by a getter, writable only through its setter."""

    def __init__(
        self,
        getter: Callable[[Any], T],
        *,
        observable: bool = False,
        title: str | None = None,
        description: str | None = None,
        use_global_lock: bool | None = None,
        use_thing_lock: bool | None = None,
        **constraints: Any,
    ) -> None:
        super().__init__(
            readonly=True,
            observable=observable,
            title=title,
            description=description or inspect.getdoc(getter),
            constraints=constraints,
            use_global_lock=use_global_lock,
            use_thing_lock=use_thing_lock,
        )
        self.getter = getter
        self.setter_function: Callable[[Any, T], None] | None = None
        self.resetter_function: Callable[[Any], None] | None = None
        self.default_factory: Callable[[], T] | None = None

    @builtins.property
    def fget(self) -> Callable[[Any], T]:
        """The getter (LabThings-FastAPI's name)."""
        return self.getter

    @builtins.property
    def fset(self) -> Callable[[Any, T], None] | None:
        """The setter, if any (LabThings-FastAPI's name)."""
        return self.setter_function

    def setter(self, function: Callable[[Any, T], None]) -> FunctionalProperty[T]:
        """Decorate the setter; the property becomes writable by clients."""
        self.setter_function = function
        self.readonly = False
        return self

    def resetter(self, function: Callable[[Any], None]) -> Callable[[Any], None]:
        """Decorate a method that sets the property back to a default state.

        As in LabThings-FastAPI, the method keeps its own name, which must differ
        from the property's::

            @position.resetter
            def _home(self) -> None: ...

        Raises:
            ActionDefinitionError: The resetter has the property's name.
        """
        if function.__name__ == self.getter.__name__:
            raise ActionDefinitionError(
                f"the resetter of property {self.getter.__name__!r} has the property's own "
                f"name, so it would replace the property; call it _reset_{function.__name__}"
            )
        self.resetter_function = function
        return function

    @builtins.property
    def default(self) -> T:
        """The default value, if one was given (``name.default = value``).

        Raises:
            LookupError: No default was given.
        """
        return self.get_default()  # type: ignore[no-any-return]

    @default.setter
    def default(self, value: T) -> None:
        self.default_factory = lambda: value

    @builtins.property
    def has_default(self) -> bool:
        """Whether a default was given."""
        return self.default_factory is not None

    def get_default(self) -> Any:
        """The default value.

        Raises:
            LookupError: No default was given.
        """
        if self.default_factory is None:
            raise LookupError(f"property {self.name!r} has no default")
        return self.default_factory()

    def is_resettable(self) -> bool:
        """Whether it has a resetter, or a default and a setter."""
        return self.resetter_function is not None or (
            self.default_factory is not None and self.setter_function is not None
        )

    def reset(self, thing: Any) -> None:
        """Run the resetter, or set the default through the setter.

        Raises:
            ReadOnlyPropertyError: It has neither a resetter nor a default and a setter.
        """
        if self.resetter_function is not None:
            self.resetter_function(thing)
        elif self.default_factory is not None and self.setter_function is not None:
            self.__set__(thing, self.default_factory())
        else:
            super().reset(thing)

    def resolve_type(self, owner: builtins.type[Any], hints: dict[str, Any]) -> None:
        """Take the value type from the getter's return annotation."""
        try:
            returned = typing.get_type_hints(self.getter, include_extras=True).get("return")
        except NameError as error:
            raise ActionDefinitionError(
                f"property {owner.__name__}.{self.name}: cannot resolve its type ({error})"
            ) from None
        if returned is None:
            raise ActionDefinitionError(
                f"property {owner.__name__}.{self.name}: its getter needs a return annotation"
            )
        self._settle(owner, returned)
        if self.default_factory is not None:
            self._check_default(owner, self.default_factory())

    @overload
    def __get__(self, obj: None, owner: builtins.type[Any]) -> FunctionalProperty[T]: ...
    @overload
    def __get__(self, obj: object, owner: builtins.type[Any]) -> T: ...
    def __get__(self, obj: object | None, owner: builtins.type[Any]) -> Any:
        if obj is None:
            return self
        return self.getter(obj)

    def __set__(self, obj: PropertyOwner, value: T) -> None:
        if self.setter_function is None:
            raise ReadOnlyPropertyError(f"property {self.name!r} has no setter")
        self.setter_function(obj, value)
        if self.observable:
            obj.property_changed(self.name, value)


@overload
def property(
    getter: Callable[[Any], T],
    /,
    *,
    observable: bool = ...,
    title: str | None = ...,
    description: str | None = ...,
    use_global_lock: bool | None = ...,
    use_thing_lock: bool | None = ...,
    **constraints: Any,
) -> FunctionalProperty[T]: ...
@overload
def property(
    *,
    default: Any = ...,
    default_factory: Callable[[], Any] | None = ...,
    readonly: bool = ...,
    observable: bool = ...,
    title: str | None = ...,
    description: str | None = ...,
    use_global_lock: bool | None = ...,
    use_thing_lock: bool | None = ...,
    **constraints: Any,
) -> Any: ...
def property(getter: Callable[[Any], Any] | None = None, /, **options: Any) -> Any:
    """Declare a property of a Thing.

    As ``position: int = lt.property(default=0, ge=0)``, a data property stored
    on the Thing, its type taken from the annotation and its constraints from
    msgspec.Meta keywords (``ge``, ``le``, ``pattern``...). As a decorator on a
    getter, a functional property; add ``@name.setter`` to make it writable.

    Args:
        getter: The getter of a functional property (decorator use).
        **options: ``default``, ``default_factory``, ``readonly``,
            ``observable``, ``title``, ``description``, ``use_global_lock``
            and ``use_thing_lock`` (False: a client's write does not take
            that lock) and constraints.

    Returns:
        The property descriptor.
    """
    if getter is not None:
        return FunctionalProperty(getter, **options)
    return DataProperty(**options)


if not TYPE_CHECKING:  # mypy goes on checking this module's own names strictly.
    # The names LabThings-FastAPI's module of this path had import from here too.
    __getattr__ = lt_names(__name__)
