"""Settings: properties whose values are saved to disk and survive a restart (``lt.setting``).

Layer: domain (stdlib, the property declarations). A setting is a property
in every other way: clients read, write and observe it, and it is in the
Thing Description. Assigning it (``self.gain = 2.0``, or a client's write)
saves every setting of the Thing to its settings file before the assignment
returns. As in LabThings-FastAPI, changing a dict or list setting in place
(``self.offsets["x"] = 1.5``) saves nothing: assign the new value, or call
``self.save_settings()``. Catching changes in place would take proxy
containers, which change the type the Thing holds and would write the whole
file for every element changed, or a periodic comparison, which would miss a
change made just before a crash; an assignment is one clear point at which
the value is safely on disk.
"""

from __future__ import annotations

import typing
from collections.abc import Callable
from typing import Any, Protocol, TypeVar, overload

from .properties import DataProperty, FunctionalProperty, PropertyOwner

__all__ = ("DataSetting", "FunctionalSetting", "SettingOwner", "setting")

T = TypeVar("T")


class SettingOwner(PropertyOwner, Protocol):
    """What a setting needs of its Thing (``Thing`` provides it)."""

    def save_settings(self) -> None:
        """Save every setting of the Thing to its settings file."""


class DataSetting(DataProperty):
    """A data property saved to the Thing's settings file whenever it is assigned."""

    def __set__(self, obj: PropertyOwner, value: Any) -> None:
        super().__set__(obj, value)
        typing.cast(SettingOwner, obj).save_settings()

    def load(self, obj: Any, value: Any) -> None:
        """Put a value read from the settings file in place: no event, no save."""
        obj.__dict__[self.name] = value


class FunctionalSetting(FunctionalProperty[T]):
    """A functional property saved to the Thing's settings file whenever it is set.

    Its getter is read each time the settings are saved, so it should be
    quick and have no side effects; its setter is called with the saved value
    when the server starts.
    """

    def __set__(self, obj: PropertyOwner, value: T) -> None:
        super().__set__(obj, value)
        typing.cast(SettingOwner, obj).save_settings()

    def load(self, obj: Any, value: Any) -> None:
        """Pass a value read from the settings file to the setter: no event, no save."""
        if self.setter_function is not None:  # Checked when its Thing class is defined.
            self.setter_function(obj, value)


@overload
def setting(
    getter: Callable[[Any], T],
    /,
    *,
    observable: bool = ...,
    title: str | None = ...,
    description: str | None = ...,
    use_global_lock: bool | None = ...,
    use_thing_lock: bool | None = ...,
    **constraints: Any,
) -> FunctionalSetting[T]: ...
@overload
def setting(
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
def setting(getter: Callable[[Any], Any] | None = None, /, **options: Any) -> Any:
    """Declare a setting of a Thing: a property saved to disk, as LabThings-FastAPI's.

    Written as ``lt.property`` is: ``gain: float = lt.setting(default=1.0,
    ge=0)`` for a value kept on the Thing, or as a decorator on a getter (with
    an ``@name.setter``) for a functional one. The server loads the saved
    values before the Thing's setup, and saves every setting of the Thing to
    ``{settings_folder}/{thing name}/Settings-{class name}.json`` each time
    one is assigned. Settings are observable, as data properties are.

    Args:
        getter: The getter of a functional setting (decorator use).
        **options: As ``lt.property``'s.

    Returns:
        The setting's descriptor.
    """
    options.setdefault("observable", True)
    if getter is not None:
        return FunctionalSetting(getter, **options)
    return DataSetting(**options)
