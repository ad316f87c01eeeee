"""Actions: methods of a Thing that clients invoke, with typed input and output.

Layer: domain (stdlib, msgspec). ``@action`` reads the method's signature
once, at class definition: each parameter becomes a field of a msgspec input
struct (defaults, ``Optional``, ``Annotated`` constraints, nested structs and
enums all carry over), except the dependency parameters the framework fills in.
Anything it cannot serve fails there, naming the method and the parameter.
"""

from __future__ import annotations

import functools
import inspect
import logging
import types
import typing
import uuid
from collections.abc import Callable, Mapping
from typing import Any, Protocol, TypeVar, overload

import msgspec

from .blob import Blob
from .codec import Codec, MsgspecCodec, codec_for, declared_codec, encode_output, type_name
from .context import CancelHook, current_invocation, nested_action_scope
from .declared_types import resolved_hints
from .dependencies import Dependency, DependencyKind, ThingDependency
from .errors import ActionDefinitionError, InvalidInputError, InvalidOutputError
from .lock import InvocationLock, ThingLocks, holding, lock_owner
from .models import FieldIssue
from .validation import decode_json

__all__ = ("ActionDescriptor", "ActionOwner", "OutputEncoder", "action")

F = TypeVar("F", bound=Callable[..., Any])

_EMPTY_BODIES = (b"", b"null", b"{}")

OutputEncoder = Callable[[Any, "list[Blob] | None"], msgspec.Raw]
"""Checks and encodes one return value, collecting the blobs in it."""


class ActionOwner(Protocol):
    """What an action needs of the Thing it belongs to (``Thing`` provides it)."""

    @property
    def logger(self) -> logging.Logger:
        """The Thing's logger, used when an action runs outside any invocation."""

    @property
    def name(self) -> str:
        """The Thing's name on the server."""


class ActionDescriptor:
    """One action of a Thing class: its function, schemas and options.

    Attributes:
        name: The method name, which is also the name on the wire.
        function: The undecorated method.
        is_async: True for ``async def`` actions, which run on the event loop.
        input_model: msgspec struct type of the input (dependencies excluded).
        output_type: The return annotation (``Any`` when there is none).
        dependencies: Parameter name to the dependency the framework supplies.
        retention: Seconds to keep finished invocations (None: manager default);
            ``retention_time`` is LabThings-FastAPI's name for it.
        response_timeout: Seconds a LabThings-style invoking ``POST`` (no
            ``Prefer: wait``) is held, so a quick action comes back finished;
            None answers at once (capped by the server's ``max_wait``).
        safe: Declared free of side effects (W3C TD ``safe``).
        idempotent: Declared repeatable with the same result (``idempotent``).
        use_global_lock: False: never takes the server-wide lock (LabThings'
            option); otherwise takes it when ``enable_global_lock`` is on.
        use_thing_lock: False: never takes its Thing's own lock; otherwise
            takes it when the Thing's class sets ``thing_lock = True``.
        wait_for_lock: A client's invocation that finds a lock busy waits for
            it as ``pending`` (True) rather than being refused with 409.
        title: Short human-readable name.
        description: The method's docstring.
        owner: The Thing class whose definition read the signature (None
            until one has).
    """

    def __init__(
        self,
        function: Callable[..., Any],
        *,
        retention: float | None = None,
        safe: bool = False,
        idempotent: bool = False,
        use_global_lock: bool | None = None,
        use_thing_lock: bool | None = None,
        wait_for_lock: bool = False,
        title: str | None = None,
        description: str | None = None,
        retention_time: float | None = None,
        response_timeout: float | None = None,
    ) -> None:
        if retention is not None and retention_time is not None:
            raise ActionDefinitionError(
                f"action {function.__qualname__}: give retention or retention_time "
                "(LabThings-FastAPI's name for it), not both"
            )
        self.function = function
        self.name = function.__name__
        self.is_async = inspect.iscoroutinefunction(function)
        self.retention = retention if retention_time is None else retention_time
        self.response_timeout = response_timeout
        self.safe = safe
        self.idempotent = idempotent
        self.use_global_lock = use_global_lock
        self.use_thing_lock = use_thing_lock
        self.wait_for_lock = wait_for_lock
        self.title = title
        self.description = description or inspect.getdoc(function)
        self.dependencies: dict[str, Dependency] = {}
        self._thing_types: dict[str, Any] = {}
        self.input_fields: tuple[str, ...] = ()
        self.extra_fields_type: Any = None
        self._self_name = "self"
        self.owner: type[Any] | None = None
        self.input_model: type[Any] = msgspec.Struct
        self.output_type: Any = Any
        self._input_codec: Codec = MsgspecCodec(msgspec.Struct)
        self._extras_codec: Codec = MsgspecCodec(Any)
        self._output_codec: Codec = MsgspecCodec(Any)
        self._encode_output: OutputEncoder = functools.partial(encode_output, self.name)
        self._python_call: Callable[..., Any] | None = None
        functools.update_wrapper(self, function)  # type: ignore[arg-type]

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    def read_signature(self, owner: type[Any]) -> None:
        """Build the input model from the signature, once the owning class exists.

        ``Thing.__init_subclass__`` calls this rather than ``__set_name__``:
        Python 3.11 wraps any error raised in ``__set_name__`` in a
        ``RuntimeError``, which would hide the ``ActionDefinitionError``.

        Raises:
            ActionDefinitionError: The signature cannot be served.
        """
        self.owner = owner
        self._python_call = None  # Built on first use, from the dependencies read here.
        where = f"action {owner.__name__}.{self.name}"
        hints = resolved_hints(self.function, where)
        self._self_name = next(iter(inspect.signature(self.function).parameters), "self")
        fields: list[tuple[str, Any] | tuple[str, Any, Any]] = []
        parameters = list(inspect.signature(self.function).parameters.values())[1:]
        for parameter in parameters:
            kind = parameter.kind
            if kind is inspect.Parameter.VAR_POSITIONAL:
                raise ActionDefinitionError(
                    f"{where}: parameter *{parameter.name} is not supported; clients "
                    "send named arguments, so declare each one as a keyword parameter"
                )
            if kind is inspect.Parameter.POSITIONAL_ONLY:
                raise ActionDefinitionError(
                    f"{where}: parameter {parameter.name!r} is positional-only; clients "
                    "send named arguments, so remove the '/'"
                )
            if kind is inspect.Parameter.VAR_KEYWORD:
                self.extra_fields_type = hints.get(parameter.name, Any)
                continue
            if parameter.name not in hints:
                raise ActionDefinitionError(
                    f"{where}: parameter {parameter.name!r} has no type annotation; "
                    "annotate it so its input can be validated"
                )
            hint = hints[parameter.name]
            dependency = _dependency_of(hint)
            if dependency is not None:
                self.dependencies[parameter.name] = dependency
                if dependency.kind is DependencyKind.THING:
                    self._thing_types[parameter.name] = _strip_annotated(hint)
                continue
            if parameter.default is inspect.Parameter.empty:
                fields.append((parameter.name, hint))
            else:
                fields.append((parameter.name, hint, parameter.default))
        self.input_fields = tuple(field[0] for field in fields)
        self.output_type = hints.get("return", Any)
        self._read_types(owner, fields)

    def _read_types(
        self, owner: type[Any], fields: list[tuple[str, Any] | tuple[str, Any, Any]]
    ) -> None:
        """Pick a codec for the input, the ``**kwargs`` values and the output.

        The input is one model: a msgspec struct, or a pydantic model when a
        parameter's type uses pydantic (pydantic then validates them all).
        """
        where = f"action {owner.__name__}.{self.name}"
        pydantic_input = False
        for field in fields:
            codec = declared_codec(field[1], f"{where}, parameter {field[0]!r}")
            pydantic_input |= not isinstance(codec, MsgspecCodec)
        name = f"{owner.__name__}_{self.name}_input"
        extras_allowed = self.extra_fields_type is not None
        try:
            if pydantic_input:
                from .pydantic_types import input_model

                self.input_model = input_model(name, fields, extras_allowed=extras_allowed)
            else:
                self.input_model = msgspec.defstruct(
                    name, fields, kw_only=True, forbid_unknown_fields=not extras_allowed
                )
            self._input_codec = codec_for(self.input_model)
        except (TypeError, ValueError) as error:
            raise ActionDefinitionError(f"{where}: unsupported type ({error})") from None
        if extras_allowed:
            self._extras_codec = declared_codec(self.extra_fields_type, f"{where}, **kwargs")
        self._output_codec = declared_codec(self.output_type, f"{where}, its return annotation")
        self._encode_output = self._output_encoder()

    def _output_encoder(self) -> OutputEncoder:
        """How this action's return values are checked and encoded, decided once.

        ``Any`` (or no annotation) costs nothing; ``None`` only checks that
        nothing came back; any other type is checked by its codec.
        """
        output_type = self.output_type
        if output_type is Any:
            return functools.partial(encode_output, self.name)
        if output_type is type(None):
            return self._encode_nothing
        return self._check_and_encode

    def _encode_nothing(self, value: Any, attachments: list[Blob] | None = None) -> msgspec.Raw:
        if value is not None:
            raise self._invalid_output(value, "Expected `null`")
        return encode_output(self.name, None)

    def _check_and_encode(self, value: Any, attachments: list[Blob] | None = None) -> msgspec.Raw:
        codec = self._output_codec
        try:
            fitted = codec.check(value)
        except InvalidInputError as error:
            raise self._invalid_output(value, error.reason, error.path) from None
        try:
            return msgspec.Raw(codec.encode(fitted, attachments))
        except (TypeError, msgspec.EncodeError):
            # Raises, saying what JSON cannot carry.
            return encode_output(self.name, fitted, attachments)

    def _invalid_output(self, value: Any, reason: str, path: str = "$") -> InvalidOutputError:
        shown = repr(value)
        if len(shown) > 80:
            shown = shown[:77] + "..."
        at = "" if path == "$" else f" - at `{path}`"
        return InvalidOutputError(
            f"action {self.name!r} returned {shown} (a {type(value).__name__}), which does not "
            f"fit its return annotation `{type_name(self.output_type)}`: {reason}{at}"
        )

    def encode_output(self, value: Any, attachments: list[Blob] | None = None) -> msgspec.Raw:
        """Check a return value against the return annotation and encode it as JSON, once.

        A ``msgspec.Raw`` is taken to be JSON already, as it stands: the
        action vouches for it (and a threaded action's output comes back from
        its thread encoded).

        Args:
            value: What the action returned.
            attachments: Collects the blobs in it, which the invocation then
                keeps (and the manager serves); None only encodes them.

        Raises:
            InvalidOutputError: The value does not fit the annotation; the
                message names the action, the type and what came back.
            TypeError: JSON cannot carry the value.
        """
        if isinstance(value, msgspec.Raw):
            return value
        return self._encode_output(value, attachments)

    def decode_output(self, raw: msgspec.Raw) -> Any:
        """An encoded output back as Python, typed by the return annotation where it fits."""
        try:
            return self._output_codec.decode_json(raw, "the output")
        except InvalidInputError:
            return msgspec.json.decode(raw)  # Sent unchecked, as msgspec.Raw.

    # -- input -----------------------------------------------------------------

    def decode_input(self, raw: bytes | None) -> dict[str, Any]:
        """Validate a JSON request body into keyword arguments.

        An absent, empty or ``null`` body means "no arguments".

        Raises:
            InvalidInputError: The body is not JSON, or does not fit the input.
        """
        what = f"the input of action {self.name!r}"
        if raw is None or raw.strip() in _EMPTY_BODIES:
            return self.validate_input(None)
        if self.extra_fields_type is None:
            return self._arguments(self._input_codec.decode_json(raw, what))
        return self._split_extras(decode_json(raw, dict[str, Any], what))

    def validate_input(self, value: Mapping[str, Any] | None) -> dict[str, Any]:
        """Validate Python input (a mapping of argument names) into keyword arguments.

        Raises:
            InvalidInputError: The input does not fit the action's parameters.
        """
        what = f"the input of action {self.name!r}"
        if value is None:
            value = {}
        elif not isinstance(value, Mapping):
            raise InvalidInputError(
                f"{what} must be an object of named arguments, got {type(value).__name__}"
            )
        if self.extra_fields_type is None:
            return self._arguments(self._input_codec.convert(value, what))
        return self._split_extras(dict(value))

    def _arguments(self, model: Any) -> dict[str, Any]:
        return {name: getattr(model, name) for name in self.input_fields}

    def _split_extras(self, value: dict[str, Any]) -> dict[str, Any]:
        what = f"the input of action {self.name!r}"
        known = {name: value.pop(name) for name in self.input_fields if name in value}
        arguments = self._arguments(self._input_codec.convert(known, what))
        for name, extra in value.items():
            if name in self.dependencies or name == self._self_name:
                raise InvalidInputError(
                    f"{what} is invalid: {name!r} is not an argument clients can send",
                    [FieldIssue(f"$.{name}", "Object contains a reserved field")],
                )
            arguments[name] = self._convert_extra(name, extra, what)
        return arguments

    def _convert_extra(self, name: str, value: Any, what: str) -> Any:
        """Validate one ``**kwargs`` value, naming its field in the error path.

        msgspec would report a failing ``dict`` value only as ``$[...]``.
        """
        try:
            return self._extras_codec.convert(value, what)
        except InvalidInputError as error:
            issue = error.issues[0]
            path = f"$.{name}{issue.path[1:]}"
            raise InvalidInputError(
                f"{what} is invalid: {issue.message} - at `{path}`",
                [FieldIssue(path, issue.message)],
            ) from None

    # -- calling ---------------------------------------------------------------

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> ActionDescriptor: ...
    @overload
    def __get__(self, obj: object, owner: type[Any]) -> Callable[..., Any]: ...
    def __get__(self, obj: object | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        thing = typing.cast("ActionOwner", obj)
        guard: ThingLocks | None = getattr(obj, "_locks", None)  # A mixin may lack it.
        locks = guard.needed_by(self) if guard is not None else ()
        if locks:
            return functools.partial(self._call_locked, thing, locks)
        return types.MethodType(self._python_call_function(), obj)

    def _python_call_function(self) -> Callable[..., Any]:
        call = self._python_call
        if call is None:
            call = self._python_call = self._make_python_call()
        return call

    def _call_locked(
        self, thing: ActionOwner, locks: tuple[InvocationLock, ...], *args: Any, **kwargs: Any
    ) -> Any:
        """Call from Python holding the action's locks: again, if the caller holds them.

        Never waits for a lock someone else holds (see ``lock``): raises
        ``LockBusyError``, which the calling code may catch.
        """
        if self.is_async:
            return self._call_locked_async(thing, locks, *args, **kwargs)
        with holding(locks, lock_owner(), self._purpose(thing)):
            return self._python_call_function()(thing, *args, **kwargs)

    async def _call_locked_async(
        self, thing: ActionOwner, locks: tuple[InvocationLock, ...], *args: Any, **kwargs: Any
    ) -> Any:
        with holding(locks, lock_owner(), self._purpose(thing)):
            return await self._python_call_function()(thing, *args, **kwargs)

    def _purpose(self, thing: ActionOwner) -> str:
        """What needs a lock when this action runs, as a message says it."""
        return f"action {self.name!r} of Thing {thing.name!r}"

    def _make_python_call(self) -> Callable[..., Any]:
        """The function ``thing.action(...)`` calls: the method, run as a nested action.

        Called from another action, it runs inline, in the caller's thread and
        invocation, with the dependencies of that invocation supplied and its
        progress scoped (see ``context.nested_action_scope``).
        """
        function = self.function
        supply = self._supply_missing if self.dependencies else None
        if self.is_async:

            @functools.wraps(function)
            async def call_async(thing: ActionOwner, *args: Any, **kwargs: Any) -> Any:
                if supply is not None:
                    supply(thing, kwargs)
                with nested_action_scope():
                    return await function(thing, *args, **kwargs)

            return call_async

        @functools.wraps(function)
        def call(thing: ActionOwner, *args: Any, **kwargs: Any) -> Any:
            if supply is not None:
                supply(thing, kwargs)
            with nested_action_scope():
                return function(thing, *args, **kwargs)

        return call

    def _supply_missing(self, thing: ActionOwner, kwargs: dict[str, Any]) -> None:
        """Add the dependencies a Python caller left out, for the current invocation."""
        for name, dependency in self.dependencies.items():
            if name not in kwargs:
                kwargs[name] = self._supply(dependency, thing, name)

    def call(self, thing: ActionOwner, arguments: Mapping[str, Any]) -> Any:
        """Run the action with validated arguments, supplying its dependencies."""
        if not self.dependencies:
            return self.function(thing, **arguments)
        supplied = {
            name: self._supply(dependency, thing, name)
            for name, dependency in self.dependencies.items()
        }
        return self.function(thing, **arguments, **supplied)

    def _supply(self, dependency: Dependency, thing: ActionOwner, parameter: str) -> Any:
        """The value of one dependency for the current invocation (if any)."""
        invocation = current_invocation()
        kind = dependency.kind
        if kind is DependencyKind.CANCEL_HOOK:
            return invocation.cancel_hook if invocation else CancelHook()
        if kind is DependencyKind.LOGGER:
            return invocation.logger if invocation else thing.logger
        if kind is DependencyKind.INVOCATION_ID:
            return invocation.id if invocation else None
        if invocation is None:
            raise ActionDefinitionError(
                f"action {self.name!r} needs another Thing for {parameter!r}, which only "
                "a manager can supply: invoke it through an ActionManager or pass it in"
            )
        name = dependency.thing_name if isinstance(dependency, ThingDependency) else None
        return invocation.find_thing(self._thing_types[parameter], name)


def _strip_annotated(hint: Any) -> Any:
    return typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint


def _dependency_of(hint: Any) -> Dependency | None:
    """The dependency a parameter annotation asks for, or None for client input."""
    if typing.get_origin(hint) is typing.Annotated:
        for marker in hint.__metadata__:
            if isinstance(marker, Dependency):
                return marker
        hint = typing.get_args(hint)[0]
    if hint is CancelHook:
        return Dependency(DependencyKind.CANCEL_HOOK)
    if hint is logging.Logger:
        return Dependency(DependencyKind.LOGGER)
    if hint is uuid.UUID:
        return None
    if isinstance(hint, type) and getattr(hint, "_is_labthings_thing", False):
        return ThingDependency()
    return None


@overload
def action(function: F, /) -> F: ...
@overload
def action(
    *,
    retention: float | None = None,
    safe: bool = False,
    idempotent: bool = False,
    use_global_lock: bool | None = None,
    use_thing_lock: bool | None = None,
    wait_for_lock: bool = False,
    title: str | None = None,
    description: str | None = None,
    retention_time: float | None = None,
    response_timeout: float | None = None,
) -> Callable[[F], F]: ...
def action(function: Callable[..., Any] | None = None, /, **options: Any) -> Any:
    """Mark a method of a Thing as an action, bare (``@action``) or with options.

    A ``def`` action runs in the manager's bounded thread pool; an ``async def``
    action runs on the event loop.

    Args:
        function: The method (bare use).
        **options: ``retention`` (seconds to keep finished invocations; or
            LabThings-FastAPI's ``retention_time``), ``safe``, ``idempotent``,
            ``title``, ``description``, ``response_timeout`` (seconds to hold
            an invoking request without ``Prefer: wait``, as LabThings-FastAPI
            documents it), and for the locks ``use_global_lock`` and
            ``use_thing_lock`` (False: the action does not take that lock,
            e.g. a ``stop`` that must run while a move holds it) and
            ``wait_for_lock`` (True: a client's invocation waits as
            ``pending`` for a busy lock instead of being refused with 409).

    Returns:
        The action descriptor (or a decorator making one).
    """
    if function is not None:
        return ActionDescriptor(function)
    return lambda function: ActionDescriptor(function, **options)
