"""Server configuration: config files in LabThings-FastAPI's format, and checking options.

Layer: server (stdlib, msgspec). ``{"things": {"name": "module:Class" |
{"class": "module:Class", "args": [...], "kwargs": {...}, "thing_slots":
{...}}}}``, optionally with ``prefix`` (or LabThings' ``api_prefix``),
``host``, ``port`` and the ThingServer options. LabThings' own top-level keys
for server options (``settings_folder``, ``enable_global_lock``,
``global_lock_log_level``) and each Thing's ``thing_slots`` become those
options, so an existing config file works unchanged. A misspelt key or
option is refused, naming the valid ones and the nearest to what was written.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import msgspec

from .errors import ConfigError, UnknownOptionError
from .thing import Thing

__all__ = (
    "ServerConfig",
    "ThingConfig",
    "import_thing_class",
    "keyword_options",
    "load_config",
    "make_things",
    "reject_unknown_options",
)

# LabThings-FastAPI config keys with no meaning here.
_LABTHINGS_ONLY = ("application_config",)

# LabThings-FastAPI's top-level keys that are ThingServer options here.
_LABTHINGS_OPTIONS = ("settings_folder", "enable_global_lock", "global_lock_log_level")


def reject_unknown_options(
    given: Iterable[str], accepted: Iterable[str], *, owner: str, kind: str = "option"
) -> None:
    """Raise for the first name in ``given`` that is not ``accepted``, suggesting a near miss.

    Args:
        given: The names written.
        accepted: The names that mean something.
        owner: Who has the options, for the message: ``ThingServer``.
        kind: What they are called, for the message: ``option``, ``key``.

    Raises:
        UnknownOptionError: A name is not accepted.
    """
    valid = sorted(set(accepted))
    for name in given:
        if name not in valid:
            close = difflib.get_close_matches(name, valid, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise UnknownOptionError(
                f"{owner} has no {kind} {name!r}{hint}; its {kind}s are: {', '.join(valid)}",
                name,
                valid,
            )


def keyword_options(*functions: Callable[..., Any], leave_out: Iterable[str] = ()) -> list[str]:
    """The keyword parameters of ``functions`` (a class: its constructor), but ``leave_out``."""
    skipped = {"self", *leave_out}
    names: list[str] = []
    for function in functions:
        for parameter in inspect.signature(function).parameters.values():
            if parameter.kind in (
                inspect.Parameter.POSITIONAL_OR_KEYWORD,
                inspect.Parameter.KEYWORD_ONLY,
            ) and parameter.name not in (skipped | set(names)):
                names.append(parameter.name)
    return names


class ThingConfig(msgspec.Struct, forbid_unknown_fields=True):
    """How to make one Thing: its class and the arguments to construct it with."""

    cls: str = msgspec.field(name="class")
    args: list[Any] = msgspec.field(default_factory=list)
    kwargs: dict[str, Any] = msgspec.field(default_factory=dict)


class ServerConfig(msgspec.Struct, forbid_unknown_fields=True):
    """A whole server: its Things and options."""

    things: dict[str, str | ThingConfig]
    prefix: str = ""
    host: str = "127.0.0.1"
    port: int = 5000
    options: dict[str, Any] = msgspec.field(default_factory=dict)
    """Keyword options for ThingServer (``max_threads``, ``retention``...)."""


def import_thing_class(path: str) -> type[Thing]:
    """Import ``module:Class`` (or ``module.Class``), from the current directory too.

    Raises:
        ConfigError: It cannot be imported, or is not a Thing class.
    """
    module_name, sep, class_name = path.partition(":")
    if not sep:
        module_name, _, class_name = path.rpartition(".")
    if not module_name or not class_name:
        raise ConfigError(f"{path!r} is not of the form module:Class")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())  # As uvicorn does: modules beside the user.
    try:
        module = importlib.import_module(module_name)
    except ImportError as error:
        raise ConfigError(f"cannot import module {module_name!r}: {error}") from None
    cls = getattr(module, class_name, None)
    if cls is None:
        raise ConfigError(f"module {module_name!r} has no attribute {class_name!r}")
    if not (isinstance(cls, type) and issubclass(cls, Thing)):
        raise ConfigError(f"{path!r} is not a subclass of labthings_async.Thing")
    return cls


def make_things(config: ServerConfig) -> dict[str, Thing]:
    """Construct the Things a config names.

    Raises:
        ConfigError: A class cannot be imported or its constructor fails.
    """
    things: dict[str, Thing] = {}
    for name, spec in config.things.items():
        if isinstance(spec, str):
            spec = ThingConfig(cls=spec)
        cls = import_thing_class(spec.cls)
        try:
            things[name] = cls(*spec.args, **spec.kwargs)
        except Exception as error:
            raise ConfigError(
                f"creating Thing {name!r} ({spec.cls}) failed: {type(error).__name__}: {error}"
            ) from None
    return things


def load_config(path: str | Path) -> ServerConfig:
    """Read and validate a JSON config file.

    Raises:
        ConfigError: The file is missing, not JSON, or not a valid config.
    """
    try:
        raw = msgspec.json.decode(Path(path).read_bytes())
    except OSError as error:
        raise ConfigError(f"cannot read config file {str(path)!r}: {error.strerror}") from None
    except msgspec.DecodeError as error:
        raise ConfigError(f"config file {str(path)!r} is not valid JSON: {error}") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"config file {str(path)!r} must hold a JSON object")
    for key in _LABTHINGS_ONLY:
        raw.pop(key, None)
    if "api_prefix" in raw:
        raw.setdefault("prefix", raw.pop("api_prefix"))
    where = f"config file {str(path)!r}"
    options = raw.setdefault("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f'{where}: "options" must be an object of ThingServer options')
    for key in _LABTHINGS_OPTIONS:
        if key in raw:
            if key in options:
                raise ConfigError(f'{where} gives "{key}" twice, at the top level and in "options"')
            options[key] = raw.pop(key)
    reject_unknown_options(raw, ServerConfig.__struct_fields__, owner=where, kind="key")
    things = raw.get("things")
    for name, spec in things.items() if isinstance(things, dict) else ():
        if isinstance(spec, dict) and "cls" in spec:
            spec.setdefault("class", spec.pop("cls"))
        if isinstance(spec, dict):
            if "thing_slots" in spec:
                _take_thing_slots(options, name, spec.pop("thing_slots"), where)
            reject_unknown_options(
                spec, ("class", "args", "kwargs"), owner=f"Thing {name!r} in {where}", kind="key"
            )
    try:
        return msgspec.convert(raw, ServerConfig)
    except msgspec.ValidationError as error:
        raise ConfigError(f"config file {str(path)!r} is invalid: {error}") from None


def _take_thing_slots(options: dict[str, Any], name: str, slots: Any, where: str) -> None:
    """Move a Thing's ``thing_slots`` into the ``thing_slots`` option, checking its shape.

    Raises:
        ConfigError: It is not an object of slot names to a Thing's name,
            a list of names, or null; or the options name the Thing's slots too.
    """
    if not isinstance(slots, dict):
        raise ConfigError(
            f"{where}: the thing_slots of Thing {name!r} must be an object of slot names, "
            f"not {slots!r}"
        )
    checked: dict[str, str | list[str] | None] = {}
    for slot, target in slots.items():
        try:
            checked[slot] = msgspec.convert(target, str | list[str] | None)
        except msgspec.ValidationError:
            raise ConfigError(
                f"{where}: thing_slots gives slot {slot!r} of Thing {name!r} {target!r}; give "
                "a Thing's name, a list of names, or null"
            ) from None
    merged = options.setdefault("thing_slots", {})
    if not isinstance(merged, dict) or name in merged:
        raise ConfigError(
            f'{where} gives the thing_slots of Thing {name!r} twice, in the Thing and in "options"'
        )
    merged[name] = checked
