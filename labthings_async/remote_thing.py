"""A Thing seen through its Thing Description: names, schemas, URLs and checks.

Layer: client (stdlib, msgspec, models, td_validation, client_errors,
client_protocol, remote_invocation). Everything the async and the sync client
share lives here, so each of them only performs I/O: the requests to send
(arguments checked against the TD before anything is sent), what the replies
mean, the flows that observe a property or the server's invocations, and the
attribute sugar that makes ``client.move_to(x=1)`` call an action.

Like LabThings-FastAPI's ThingClient, URLs are ``{thing URL}{name}`` and the
TD's forms are not read; everything about an invocation comes from its links.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx2
import msgspec

from .client_errors import (
    InvalidArgumentsError,
    NotFoundError,
    PropertyNotWritableError,
)
from .client_protocol import (
    ClientSettings,
    Emit,
    Protocol,
    Request,
    Step,
    StreamCursor,
    StreamRefusedError,
    checked,
    error_for,
    json_request,
    read_stream,
)
from .eventsource import SSEEvent
from .models import LogEntry, Progress, StatusChange
from .remote_invocation import InvocationEvent, InvocationState, Listener
from .td_validation import validate

__all__ = (
    "ActionCaller",
    "RemoteThing",
    "ThingClientBase",
    "accept_cancel",
    "accept_invocation",
    "action_signature",
    "description_request",
    "new_invocation_state",
    "observe_invocations_flow",
    "observe_property_flow",
    "parse_description",
    "property_value",
    "property_written",
    "thing_url",
)

_PYTHON_TYPES: dict[str, Any] = {
    "integer": int,
    "number": float,
    "string": str,
    "boolean": bool,
    "array": list,
    "object": dict,
    "null": None,
}


def thing_url(url: str) -> str:
    """The Thing's URL with the trailing slash that ``{url}{name}`` needs."""
    return url if url.endswith("/") else f"{url}/"


def description_request(url: str) -> Request:
    """The request for the Thing Description at ``url``."""
    return Request("GET", thing_url(url), headers={"Accept": "application/json"})


def parse_description(response: httpx2.Response, url: str) -> dict[str, Any]:
    """The Thing Description in a reply.

    Raises:
        NotFoundError: There is no Thing Description at ``url``.
    """
    checked(response, f"the Thing Description at {url}")
    try:
        description = response.json()
    except ValueError:
        description = None
    if not isinstance(description, dict) or not (
        isinstance(description.get("properties", {}), dict)
        and isinstance(description.get("actions", {}), dict)
        and ("properties" in description or "actions" in description)
    ):
        raise NotFoundError(
            f"{url} is not a Thing Description (no `properties` or `actions`); "
            "give the URL of a Thing, such as http://host:5000/my_thing/"
        )
    return description


class RemoteThing:
    """A Thing as its Thing Description describes it.

    Args:
        url: The Thing's URL (its TD's URL).
        description: The Thing Description.

    Attributes:
        url: The Thing's URL, ending in ``/``.
        description: The Thing Description.
        title: The TD's title.
        properties: Property affordances by name.
        actions: Action affordances by name.
    """

    def __init__(self, url: str, description: Mapping[str, Any]) -> None:
        self.url = thing_url(url)
        self.description = dict(description)
        self.title = str(description.get("title") or urlsplit(self.url).path.strip("/"))
        self.properties: dict[str, dict[str, Any]] = dict(description.get("properties") or {})
        self.actions: dict[str, dict[str, Any]] = dict(description.get("actions") or {})

    def property_affordance(self, name: str) -> dict[str, Any]:
        """The property's affordance.

        Raises:
            NotFoundError: The TD has no such property.
        """
        return self._affordance("property", "properties", self.properties, name)

    def action_affordance(self, name: str) -> dict[str, Any]:
        """The action's affordance.

        Raises:
            NotFoundError: The TD has no such action.
        """
        return self._affordance("action", "actions", self.actions, name)

    def _affordance(
        self, kind: str, kinds: str, table: Mapping[str, dict[str, Any]], name: str
    ) -> dict[str, Any]:
        if name not in table:
            raise NotFoundError(
                f"Thing {self.title!r} has no {kind} {name!r}; its {kinds} are: {_names(table)}"
            )
        return table[name]

    def read_request(self, name: str) -> Request:
        """The request that reads a property."""
        self.property_affordance(name)
        return Request("GET", f"{self.url}{name}")

    def write_request(self, name: str, value: Any) -> Request:
        """The request that writes a property, once ``value`` is checked against its schema.

        Raises:
            PropertyNotWritableError: The property is read-only.
            InvalidArgumentsError: ``value`` does not fit the property's schema.
        """
        affordance = self.property_affordance(name)
        if affordance.get("readOnly"):
            raise PropertyNotWritableError(
                f"property {name!r} of {self.title!r} is read-only; it cannot be set"
            )
        plain = msgspec.to_builtins(value)
        issues = validate(plain, affordance)
        if issues:
            raise InvalidArgumentsError(f"property {name!r}", issues)
        return json_request("PUT", f"{self.url}{name}", plain)

    def invoke_request(self, name: str, arguments: Mapping[str, Any], wait: float) -> Request:
        """The request that invokes an action, once the arguments are checked.

        Args:
            name: The action.
            arguments: Its keyword arguments.
            wait: Seconds to ask the server to hold the reply (``Prefer: wait``).

        Raises:
            NotFoundError: The TD has no such action.
            InvalidArgumentsError: The arguments do not fit the action's input.
        """
        affordance = self.action_affordance(name)
        plain = msgspec.to_builtins(dict(arguments))
        schema = affordance.get("input", {"type": "object", "additionalProperties": False})
        issues = validate(plain, schema)
        if issues:
            raise InvalidArgumentsError(f"action {name!r}", issues)
        headers = {"Prefer": f"wait={wait:g}"} if wait > 0 else {}
        request = json_request("POST", f"{self.url}{name}", plain, headers)
        return Request(request.method, request.url, request.content, request.headers, wait)

    def server_url(self) -> str:
        """The root of the server's API: the Thing's URL without its last segment."""
        return urljoin(self.url, "..")


def _names(affordances: Mapping[str, Any]) -> str:
    return ", ".join(sorted(affordances)) or "(none)"


# -- what replies mean ----------------------------------------------------------------


def new_invocation_state(
    name: str,
    settings: ClientSettings,
    on_progress: Callable[[Progress], object] | None = None,
    on_log: Callable[[LogEntry], object] | None = None,
) -> InvocationState:
    """The state of a new invocation, with the caller's callbacks attached."""
    listeners: list[Listener] = []
    if on_progress is not None:
        progress_callback = on_progress

        def progress_listener(event: InvocationEvent) -> None:
            if event.name == "progress":
                progress_callback(event.data)

        listeners.append(progress_listener)
    if on_log is not None:
        log_callback = on_log

        def log_listener(event: InvocationEvent) -> None:
            if event.name == "log":
                log_callback(event.data)

        listeners.append(log_listener)
    return InvocationState(name, listeners, streaming=settings.use_event_streams)


def accept_invocation(state: InvocationState, response: httpx2.Response) -> InvocationState:
    """Merge the reply to an invoking POST into ``state``.

    Raises:
        ClientError: The server refused the invocation.
    """
    state.observe_invocation(checked(response, f"action {state.action!r}").json())
    return state


def accept_cancel(state: InvocationState, response: httpx2.Response) -> None:
    """Check the reply to a cancelling DELETE; a finished invocation is not an error.

    Our server answers 409 and LabThings 503 for an invocation that has
    already finished: there is nothing to cancel, and its result stands. The
    reply is not merged into ``state``: only the flow following the
    invocation changes it (in the sync client, that is another thread), and
    it sees the cancellation on the stream or at its next poll.
    """
    if response.status_code not in (409, 503):
        checked(response, f"cancelling invocation {state.id} of action {state.action!r}")


def property_value(response: httpx2.Response, name: str) -> Any:
    """The value in the reply to a property read."""
    return checked(response, f"property {name!r}").json()


def property_written(response: httpx2.Response, name: str) -> None:
    """Check the reply to a property write (our server says 204, LabThings 201)."""
    checked(response, f"property {name!r}")


# -- observing --------------------------------------------------------------------------


def observe_property_flow(thing: RemoteThing, name: str, settings: ClientSettings) -> Protocol:
    """Emits each new value of a property, from its event stream."""
    thing.property_affordance(name)
    url = f"{thing.url}{name}/events"

    def reread() -> Protocol:
        # Changes were dropped from the server's buffer; the current value is
        # what an observer needs next.
        response: httpx2.Response = yield thing.read_request(name)
        yield Emit(property_value(response, name))

    def handle(event: SSEEvent) -> Iterator[Step]:
        if event.type == name:
            return iter((Emit(json.loads(event.data)),))
        return reread() if event.type == "lost" else iter(())

    try:
        yield from read_stream(url, StreamCursor(), handle, settings)
    except StreamRefusedError as refused:
        raise error_for(refused.response, f"the event stream of property {name!r}") from None


def observe_invocations_flow(
    thing: RemoteThing, settings: ClientSettings, *, only_this_thing: bool, action: str | None
) -> Protocol:
    """Emits a ``StatusChange`` for every status change of the server's invocations."""
    query = {}
    if only_this_thing:
        query["thing"] = urlsplit(thing.url).path.rstrip("/").rpartition("/")[2]
    if action is not None:
        query["action"] = action
    url = f"{thing.server_url()}action_invocations/events"
    if query:
        url = f"{url}?{urlencode(query)}"

    def handle(event: SSEEvent) -> Iterator[Step]:
        if event.type != "status":
            return iter(())
        return iter((Emit(msgspec.json.decode(event.data, type=StatusChange)),))

    try:
        yield from read_stream(url, StreamCursor(), handle, settings)
    except StreamRefusedError as refused:
        raise error_for(refused.response, "the event stream of invocations") from None


# -- the attribute sugar -----------------------------------------------------------------


class ActionCaller:
    """A Thing's action as a method: keyword arguments in, the action's output out.

    Its ``__signature__`` and ``__doc__`` come from the TD, so ``help()`` and
    tab completion show the action's parameters.
    """

    def __init__(
        self, call: Callable[[str, dict[str, Any]], Any], name: str, affordance: Mapping[str, Any]
    ) -> None:
        self._call = call
        self.__name__ = name
        self.__doc__ = affordance.get("description") or affordance.get("title") or name
        self.__signature__ = action_signature(affordance)

    def __call__(self, **arguments: Any) -> Any:
        """Invoke the action and return its output (for the async client, a coroutine)."""
        return self._call(self.__name__, arguments)

    def __repr__(self) -> str:
        return f"<action {self.__name__}{self.__signature__}>"


def action_signature(affordance: Mapping[str, Any]) -> inspect.Signature:
    """A Python signature for an action: keyword-only parameters, from its input schema."""
    schema = affordance.get("input") or {}
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or ())
    parameters = [
        inspect.Parameter(
            name,
            inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if name in required else sub.get("default"),
            annotation=_annotation(sub),
        )
        for name, sub in properties.items()
        if name.isidentifier()
    ]
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
            f"attribute {name!r}" + (f"; its actions are: {_names(thing.actions)}" if thing else "")
        )

    def __dir__(self) -> list[str]:
        return sorted({*super().__dir__(), *self._thing.actions, *self._thing.properties})
