"""Custom HTTP endpoints on a Thing: LabThings-FastAPI's ``@lt.endpoint``.

Layer: domain (stdlib, the codecs and errors; no starlette). Most of a
Thing is actions and properties, which a Thing Description describes; for
what they cannot express (a file download, a page, a stream) a method can be
served at a URL of its own::

    class Camera(lt.Thing):
        @lt.endpoint("get", "snapshot.txt", response_class=PlainTextResponse)
        def snapshot(self, width: int = 640) -> str: ...

It answers ``GET /{thing}/snapshot.txt?width=320``, and is not in the Thing
Description, as in LabThings-FastAPI. The parameters are bound as FastAPI
binds them: a name in the path template (``"images/{name}"``) from the path;
a plain value (a number, string, boolean, enum, ``Literal`` or ``None``-able
one of those) from the query string; one structured value (a model, struct,
dataclass, list or dict) from the JSON body; a parameter annotated with
Starlette's (or FastAPI's) ``Request`` receives the request. A Starlette
``Response`` returned is sent as it is; anything else as JSON, or through
``response_class``. A ``def`` runs in a worker thread, an ``async def`` on the
loop. The HTTP layer serves it (``http/custom.py``).
"""

from __future__ import annotations

import enum
import functools
import inspect
import re
import types
import typing
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Literal, overload

import msgspec

from .codec import Codec, MsgspecCodec, declared_codec
from .declared_types import resolved_hints
from .errors import ActionDefinitionError, UnsupportedFeatureError
from .porting import lt_names

__all__ = ("EndpointDescriptor", "EndpointParameter", "HTTPMethod", "ParameterSource", "endpoint")

HTTPMethod = Literal["get", "post", "put", "delete"]
"""The HTTP methods an endpoint may answer (LabThings-FastAPI's)."""

ParameterSource = Literal["path", "query", "body", "request"]
"""Where a parameter's value comes from."""

_DOCUMENTATION_OPTIONS = frozenset(
    {
        "summary",
        "description",
        "tags",
        "responses",
        "response_description",
        "name",
        "include_in_schema",
        "deprecated",
        "operation_id",
    }
)
"""FastAPI decorator options that only document an endpoint: accepted, shown nowhere."""

_PATH_PARAMETER = re.compile(r"{(\w+)(?::\w+)?}")
_PLAIN = (int, float, str, bool, enum.Enum)


class EndpointParameter(typing.NamedTuple):
    """One parameter of an endpoint method and where its value comes from."""

    name: str
    source: ParameterSource
    type: Any
    default: Any
    required: bool


class EndpointDescriptor:
    """A Thing method served at ``/{thing}/{path}`` with one HTTP method.

    Attributes:
        function: The method.
        method: The HTTP method, in capitals.
        name: The attribute name.
        status_code: The status of a successful reply.
        response_class: Makes the reply from the return value
            (``response_class(content=value, status_code=...)``), or None for JSON.
        description: The method's docstring.
        parameters: The method's parameters (``self`` left out), once read.
        path_model: Validates the path parameters, as a struct or model.
        query_model: Validates the query parameters, as a struct or model.
        body: The parameter the JSON body is for, if one is, and its codec.
        owner: The Thing class whose definition read the signature.
    """

    def __init__(
        self,
        function: Callable[..., Any],
        method: HTTPMethod = "get",
        path: str | None = None,
        *,
        status_code: int = 200,
        response_class: Callable[..., Any] | None = None,
        **options: Any,
    ) -> None:
        unsupported = sorted(set(options) - _DOCUMENTATION_OPTIONS)
        if unsupported:
            raise UnsupportedFeatureError(
                f"lt.endpoint({method!r}) on {function.__qualname__}: option(s) {unsupported} "
                "are FastAPI's and are not available here; an endpoint takes status_code, "
                f"response_class and the documentation options {sorted(_DOCUMENTATION_OPTIONS)}"
            )
        if method.lower() not in typing.get_args(HTTPMethod):
            raise ActionDefinitionError(
                f"lt.endpoint on {function.__qualname__}: method {method!r} is not one of "
                f"{list(typing.get_args(HTTPMethod))}"
            )
        self.function = function
        self.method = method.upper()
        self.name = function.__name__
        self._path = path
        self.status_code = status_code
        self.response_class = response_class
        self.description = options.get("description") or inspect.getdoc(function)
        self.is_async = inspect.iscoroutinefunction(function)
        self.parameters: tuple[EndpointParameter, ...] = ()
        self.path_model: Codec | None = None
        self.query_model: Codec | None = None
        self.body: tuple[EndpointParameter, Codec] | None = None
        self.owner: type[Any] | None = None
        functools.update_wrapper(self, function)  # type: ignore[arg-type]

    def __set_name__(self, owner: type[Any], name: str) -> None:
        self.name = name

    @property
    def path(self) -> str:
        """The path below the Thing's URL: the one given, else the method's name."""
        return (self._path or self.name).strip("/")

    def read_signature(self, owner: type[Any]) -> None:
        """Decide where each parameter comes from, once the owning class exists.

        Raises:
            ActionDefinitionError: A parameter cannot be bound (no annotation,
                two body parameters, ``*args``).
        """
        self.owner = owner
        where = f"endpoint {owner.__name__}.{self.name}"
        hints = resolved_hints(self.function, where)
        in_path = set(_PATH_PARAMETER.findall(self.path))
        parameters: list[EndpointParameter] = []
        for parameter in list(inspect.signature(self.function).parameters.values())[1:]:
            if parameter.kind in (parameter.VAR_POSITIONAL, parameter.VAR_KEYWORD):
                raise ActionDefinitionError(
                    f"{where}: *{parameter.name} cannot be bound to a request; name each parameter"
                )
            hint = hints.get(parameter.name, str)
            required = parameter.default is inspect.Parameter.empty
            default = None if required else parameter.default
            source: ParameterSource
            if _is_request(hint):
                source = "request"
            elif parameter.name in in_path:
                source = "path"
            elif _is_plain(hint):
                source = "query"
            else:
                source = "body"
            parameters.append(EndpointParameter(parameter.name, source, hint, default, required))
        bodies = [parameter for parameter in parameters if parameter.source == "body"]
        if len(bodies) > 1:
            raise ActionDefinitionError(
                f"{where}: parameters {[body.name for body in bodies]} would all be read from "
                "the request body; take one model holding them all"
            )
        missing = in_path - {parameter.name for parameter in parameters}
        if missing:
            raise ActionDefinitionError(
                f"{where}: the path {self.path!r} names {sorted(missing)}, which the method "
                "does not take"
            )
        self.parameters = tuple(parameters)
        self.path_model = _model(owner, where, "path", parameters)
        self.query_model = _model(owner, where, "query", parameters)
        if bodies:
            body = bodies[0]
            self.body = (body, declared_codec(body.type, f"{where}, parameter {body.name!r}"))

    @overload
    def __get__(self, obj: None, owner: type[Any]) -> EndpointDescriptor: ...
    @overload
    def __get__(self, obj: object, owner: type[Any]) -> Callable[..., Any]: ...
    def __get__(self, obj: object | None, owner: type[Any]) -> Any:
        if obj is None:
            return self
        return types.MethodType(self.function, obj)


def _model(
    owner: type[Any], where: str, source: ParameterSource, parameters: list[EndpointParameter]
) -> Codec | None:
    """A codec for the parameters from one source, together (None if there are none).

    A msgspec struct, or a pydantic model when one of them uses pydantic.
    """
    chosen = [parameter for parameter in parameters if parameter.source == source]
    if not chosen:
        return None
    fields: list[tuple[str, Any] | tuple[str, Any, Any]] = [
        (parameter.name, parameter.type)
        if parameter.required
        else (parameter.name, parameter.type, parameter.default)
        for parameter in chosen
    ]
    pydantic = False
    for parameter in chosen:
        codec = declared_codec(parameter.type, f"{where}, parameter {parameter.name!r}")
        pydantic |= not isinstance(codec, MsgspecCodec)
    name = f"{owner.__name__}_{chosen[0].name}_{source}"
    if pydantic:
        from .pydantic_types import input_model

        return declared_codec(input_model(name, fields, extras_allowed=True), where)
    return declared_codec(msgspec.defstruct(name, fields, kw_only=True), where)


def _is_request(hint: Any) -> bool:
    """Whether a parameter asks for the request itself (Starlette's or FastAPI's class)."""
    if not isinstance(hint, type):
        return False
    return any(
        klass.__name__ in ("Request", "HTTPConnection")
        and klass.__module__.partition(".")[0] in ("starlette", "fastapi")
        for klass in hint.__mro__
    )


def _is_plain(hint: Any) -> bool:
    """Whether values of ``hint`` fit in a query string (FastAPI's rule for query parameters)."""
    origin = typing.get_origin(hint)
    if origin is typing.Annotated:
        return _is_plain(typing.get_args(hint)[0])
    if origin is Literal:
        return True
    if origin in (typing.Union, types.UnionType):
        return all(arg is type(None) or _is_plain(arg) for arg in typing.get_args(hint))
    return isinstance(hint, type) and issubclass(hint, _PLAIN)


def endpoint(
    method: HTTPMethod, path: str | None = None, **options: Any
) -> Callable[[Callable[..., Any]], EndpointDescriptor]:
    """Serve a Thing method at ``/{thing}/{path}`` (LabThings-FastAPI's decorator).

    Args:
        method: ``"get"``, ``"post"``, ``"put"`` or ``"delete"``.
        path: The path below the Thing's URL; the method's name if not given.
            ``{name}`` in it binds a path parameter.
        **options: ``status_code``, ``response_class`` and FastAPI's
            documentation options (``summary``, ``description``...).

    Returns:
        A decorator making the method an ``EndpointDescriptor``.

    Raises:
        UnsupportedFeatureError: An option of FastAPI's this cannot honour.
    """

    def decorate(function: Callable[..., Any]) -> EndpointDescriptor:
        return EndpointDescriptor(function, method, path, **options)

    return decorate


if not TYPE_CHECKING:  # mypy goes on checking this module's own names strictly.
    # The names LabThings-FastAPI's module of this path had import from here too.
    __getattr__ = lt_names(__name__)
