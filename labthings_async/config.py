"""Server configuration: config files in LabThings-FastAPI's format, and checking options.

Layer: server (stdlib, msgspec). ``{"things": {"name": "module:Class" |
{"class": "module:Class", "args": [...], "kwargs": {...}, "thing_slots":
{...}}}}``, optionally with ``prefix`` (or LabThings' ``api_prefix``),
``host``, ``port``, ``application_config`` (handed to the Things, as
LabThings-FastAPI does) and the ThingServer options. LabThings' own top-level
keys for server options (``settings_folder``, ``enable_global_lock``,
``global_lock_log_level``) and each Thing's ``thing_slots`` become those
options, so an existing config file works unchanged. A misspelt key or
option is refused, naming the valid ones and the nearest to what was written.

A Thing class whose constructor takes LabThings-FastAPI's
``thing_server_interface`` (or ``**kwargs``) is given one, as LabThings-FastAPI
gives it, so ``super().__init__(thing_server_interface)`` works unchanged.
"""

from __future__ import annotations

import difflib
import importlib
import inspect
import os
import sys
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import msgspec

from .errors import ConfigError, UnknownOptionError
from .server_interface import ThingServerInterface
from .thing import Thing

__all__ = (
    "ServerConfig",
    "ThingConfig",
    "import_thing_class",
    "keyword_options",
    "load_config",
    "make_thing",
    "make_things",
    "parse_config",
    "reject_unknown_options",
    "server_options",
    "thing_specs",
)

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
    application_config: dict[str, Any] | None = None
    """Anything the application's Things need: each reads a copy, as in LabThings-FastAPI."""


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


def make_thing(name: str, spec: Any) -> Thing:
    """The Thing ``spec`` describes, constructed: a Thing, a class, ``module:Class`` or a config.

    A config is a ``ThingConfig`` or a mapping with ``class`` (or ``cls``: a
    class or ``module:Class``), ``args`` and ``kwargs``. A constructor that
    takes ``thing_server_interface`` (or ``**kwargs``) is given one.

    Raises:
        ConfigError: The class cannot be imported, or is not a Thing, or its
            constructor fails.
    """
    if isinstance(spec, Thing):
        return spec
    args: list[Any] = []
    kwargs: dict[str, Any] = {}
    if isinstance(spec, Mapping):
        if "thing_slots" in spec:
            raise ConfigError(
                f"Thing {name!r}: its thing_slots are the server's to fill; give them to "
                "ThingServer.from_things or in a config, which pass them on as the "
                "thing_slots option"
            )
        (spec,) = thing_specs({name: spec}, {}, "the Things given").values()
        if isinstance(spec.get("class"), type):
            cls_or_path: Any = spec["class"]
            args, kwargs = list(spec.get("args", [])), dict(spec.get("kwargs", {}))
        else:
            try:
                spec = msgspec.convert(spec, ThingConfig)
            except msgspec.ValidationError as error:
                raise ConfigError(f"Thing {name!r} is configured wrongly: {error}") from None
    if isinstance(spec, ThingConfig):
        cls_or_path, args, kwargs = spec.cls, list(spec.args), dict(spec.kwargs)
    elif isinstance(spec, str | type):
        cls_or_path = spec
    elif not isinstance(spec, Mapping):
        raise ConfigError(
            f"Thing {name!r} is given as a {type(spec).__name__}; give a Thing, a Thing "
            "class, 'module:Class', or {'class': ..., 'args': [...], 'kwargs': {...}}"
        )
    cls = cls_or_path if isinstance(cls_or_path, type) else import_thing_class(cls_or_path)
    if not issubclass(cls, Thing):
        raise ConfigError(f"{cls.__qualname__} is not a subclass of labthings_async.Thing")
    if _takes_interface(cls):
        kwargs.setdefault("thing_server_interface", ThingServerInterface(name))
    try:
        return cls(*args, **kwargs)
    except Exception as error:
        raise ConfigError(
            f"creating Thing {name!r} ({cls.__qualname__}) failed: {type(error).__name__}: {error}"
        ) from None


def _takes_interface(cls: type[Thing]) -> bool:
    """Whether ``cls(...)`` accepts LabThings-FastAPI's ``thing_server_interface``."""
    try:
        parameters = inspect.signature(cls).parameters.values()
    except (TypeError, ValueError):
        return False
    return any(
        parameter.name == "thing_server_interface" or parameter.kind is parameter.VAR_KEYWORD
        for parameter in parameters
    )


def make_things(config: ServerConfig) -> dict[str, Thing]:
    """Construct the Things a config names.

    Raises:
        ConfigError: A class cannot be imported or its constructor fails.
    """
    return {name: make_thing(name, spec) for name, spec in config.things.items()}


def server_options(config: ServerConfig) -> dict[str, Any]:
    """ThingServer's keyword options from a config: its ``options``, prefix and application config.

    Raises:
        ConfigError: ``options`` holds a key the config has a place of its own for.
    """
    for own in ("prefix", "application_config"):
        if own in config.options:
            raise ConfigError(f'put "{own}" at the top level, not in "options"')
    options: dict[str, Any] = {**config.options, "prefix": config.prefix}
    if config.application_config is not None:
        options["application_config"] = config.application_config
    return options


def load_config(path: str | Path) -> ServerConfig:
    """Read and validate a JSON config file.

    Raises:
        ConfigError: The file is missing, not JSON, or not a valid config.
    """
    try:
        raw = Path(path).read_bytes()
    except OSError as error:
        raise ConfigError(f"cannot read config file {str(path)!r}: {error.strerror}") from None
    return parse_config(raw, f"config file {str(path)!r}")


def parse_config(raw: bytes | Mapping[str, Any], where: str) -> ServerConfig:
    """Validate a config: JSON text (a file's, ``serve -j``'s) or a mapping.

    Args:
        raw: The config.
        where: Where it came from, for messages: ``config file 'lab.json'``.

    Raises:
        ConfigError: It is not JSON, or not a valid config; the message says where.
    """
    if isinstance(raw, bytes):
        try:
            decoded = msgspec.json.decode(raw)
        except msgspec.DecodeError as error:
            raise ConfigError(f"{where} is not valid JSON: {error}") from None
    else:
        decoded = raw
    if not isinstance(decoded, Mapping):
        raise ConfigError(f"{where} must hold a JSON object")
    decoded = dict(decoded)
    if "api_prefix" in decoded:
        decoded.setdefault("prefix", decoded.pop("api_prefix"))
    options = decoded.get("options", {})
    if not isinstance(options, dict):
        raise ConfigError(f'{where}: "options" must be an object of ThingServer options')
    options = decoded["options"] = dict(options)
    for key in _LABTHINGS_OPTIONS:
        if key in decoded:
            if key in options:
                raise ConfigError(f'{where} gives "{key}" twice, at the top level and in "options"')
            options[key] = decoded.pop(key)
    reject_unknown_options(decoded, ServerConfig.__struct_fields__, owner=where, kind="key")
    things = decoded.get("things")
    if isinstance(things, Mapping):
        decoded["things"] = thing_specs(things, options, where)
    try:
        return msgspec.convert(decoded, ServerConfig)
    except msgspec.ValidationError as error:
        raise ConfigError(f"{where} is invalid: {error}") from None


def thing_specs(things: Mapping[str, Any], options: dict[str, Any], where: str) -> dict[str, Any]:
    """The Things' entries with LabThings-FastAPI's spellings made ours.

    ``cls`` becomes ``class``; a Thing's ``thing_slots`` moves into the
    ``thing_slots`` option, in ``options``.

    Raises:
        UnknownOptionError: An entry has a key nothing reads.
        ConfigError: A ``thing_slots`` is not of the right shape, or is given twice.
    """
    specs: dict[str, Any] = {}
    for name, spec in things.items():
        if isinstance(spec, Mapping):
            spec = dict(spec)
            if "cls" in spec:
                spec.setdefault("class", spec.pop("cls"))
            if "thing_slots" in spec:
                _take_thing_slots(options, name, spec.pop("thing_slots"), where)
            reject_unknown_options(
                spec, ("class", "args", "kwargs"), owner=f"Thing {name!r} in {where}", kind="key"
            )
        specs[name] = spec
    return specs


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
