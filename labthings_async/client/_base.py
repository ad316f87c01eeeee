"""What the async and sync clients share: the TD, settings, and actions as methods.

Layer: client (stdlib, client_protocol, remote_thing). ``ThingClientBase``
holds the Thing Description and the settings; its ``__getattr__`` turns the
TD's actions into ``ActionCaller`` methods, whose signature and docstring come
from the TD, so ``help(client.move_to)`` and tab completion show them, and
positional arguments are taken in the order the TD lists the parameters.
"""

from __future__ import annotations

import inspect
import keyword
from collections.abc import Callable, Mapping
from typing import Any

from ._sansio import ClientSettings
from ._thing import RemoteThing, affordance_names

__all__ = ("ActionCaller", "ThingClientBase", "action_signature")

_PYTHON_TYPES: dict[str, Any] = {
    "integer": int,
    "number": float,
    "string": str,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": None,
}


class ActionCaller:
    """A Thing's action as a method: arguments in, the action's output out.

    Its ``__signature__`` and ``__doc__`` come from the TD, so ``help()`` and
    tab completion show the action's parameters. Positional arguments are
    taken in the order of the TD's input schema, which for a Python server is
    the order of the method's parameters: ``move_to(100, 50)`` is
    ``move_to(x=100, y=50)``.
    """

    def __init__(
        self, call: Callable[[str, dict[str, Any]], Any], name: str, affordance: Mapping[str, Any]
    ) -> None:
        self._call = call
        self.__name__ = name
        self.__doc__ = affordance.get("description") or affordance.get("title") or name
        self.__signature__ = action_signature(affordance)

    def __call__(self, *positional: Any, **arguments: Any) -> Any:
        """Invoke the action and return its output (for the async client, a coroutine).

        Raises:
            TypeError: More positional arguments than the action has
                positional parameters, or one given both by position and by name.
        """
        if positional:
            arguments = {**self._by_position(positional, arguments), **arguments}
        return self._call(self.__name__, arguments)

    def _by_position(self, values: tuple[Any, ...], named: Mapping[str, Any]) -> dict[str, Any]:
        names = [
            parameter.name
            for parameter in self.__signature__.parameters.values()
            if parameter.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
        ]
        if len(values) > len(names):
            takes = f"{len(names)} positional" if names else "no positional"
            count = f"{len(values)} {'was' if len(values) == 1 else 'were'} given"
            raise TypeError(
                f"{self.__name__}() takes {takes} arguments but {count}; "
                f"its parameters are {self.__name__}{self.__signature__}"
            )
        given = dict(zip(names, values, strict=False))
        twice = sorted(given.keys() & named.keys())
        if twice:
            raise TypeError(
                f"{self.__name__}() got {', '.join(map(repr, twice))} both by position and by "
                f"name; its parameters are {self.__name__}{self.__signature__}"
            )
        return given

    def __repr__(self) -> str:
        return f"<action {self.__name__}{self.__signature__}>"


def action_signature(affordance: Mapping[str, Any]) -> inspect.Signature:
    """A Python signature for an action, from its input schema, in the schema's order.

    Parameters are positional-or-keyword; from the first one Python could not
    take by position (a required parameter after an optional one, which a
    TD from another server may list), the rest are keyword-only.
    """
    schema = affordance.get("input") or {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    parameters = []
    kind: inspect._ParameterKind = inspect.Parameter.POSITIONAL_OR_KEYWORD
    optional_seen = False
    for name, sub in properties.items():
        if not name.isidentifier() or keyword.iskeyword(name):
            continue
        default = inspect.Parameter.empty if name in required else sub.get("default")
        if default is inspect.Parameter.empty and optional_seen:
            kind = inspect.Parameter.KEYWORD_ONLY
        optional_seen = optional_seen or default is not inspect.Parameter.empty
        parameters.append(
            inspect.Parameter(name, kind, default=default, annotation=_annotation(sub))
        )
    output = affordance.get("output")
    return inspect.Signature(
        parameters,
        return_annotation=_annotation(output) if output else inspect.Signature.empty,
    )


def _annotation(schema: Mapping[str, Any]) -> Any:
    kind = schema.get("type")
    return _PYTHON_TYPES.get(kind, inspect.Parameter.empty) if isinstance(kind, str) else Any


class ThingClientBase:
    """What the async and sync clients share: the TD, settings and action methods.

    Args:
        url: The Thing's URL.
        description: Its Thing Description.
        settings: How to talk to the server.
    """

    def __init__(self, url: str, description: Mapping[str, Any], settings: ClientSettings) -> None:
        self._thing = RemoteThing(url, description)
        self._settings = settings

    @property
    def thing(self) -> RemoteThing:
        """The Thing as its TD describes it (affordances, schemas, URL)."""
        return self._thing

    @property
    def url(self) -> str:
        """The Thing's URL."""
        return self._thing.url

    @property
    def description(self) -> dict[str, Any]:
        """The Thing Description."""
        return self._thing.description

    @property
    def settings(self) -> ClientSettings:
        """How this client talks to the server."""
        return self._settings

    def _call_action(self, name: str, arguments: dict[str, Any]) -> Any:
        raise NotImplementedError

    def __getattr__(self, name: str) -> Any:
        thing: RemoteThing | None = self.__dict__.get("_thing")
        if thing is not None and not name.startswith("_") and name in thing.actions:
            return ActionCaller(self._call_action, name, thing.actions[name])
        raise AttributeError(
            f"{type(self).__name__} for {thing.title if thing else 'a Thing'!r} has no "
            f"attribute {name!r}"
            + (f"; its actions are: {affordance_names(thing.actions)}" if thing else "")
        )

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._thing.actions, *self._thing.properties})

    def __repr__(self) -> str:
        thing = self._thing
        return (
            f"<{type(self).__name__} {thing.title!r} at {thing.url}: "
            f"properties {_names(thing.properties)}; actions {_names(thing.actions)}>"
        )


def _names(affordances: Mapping[str, Any], most: int = 8) -> str:
    """Up to ``most`` names, in the TD's order, for a repr."""
    names = list(affordances)
    if not names:
        return "(none)"
    shown = ", ".join(names[:most])
    return shown if len(names) <= most else f"{shown}, ... ({len(names)} in all)"
