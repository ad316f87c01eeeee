"""A Thing seen through its Thing Description: names, schemas, URLs and checks.

Layer: client (stdlib, msgspec, models, td_validation, client_errors,
client_protocol, client_replies, remote_invocation). The requests the async
and the sync client send (arguments checked against the TD before anything is
sent) and what the replies to them mean are built here, once, so each client
only performs the I/O.

Like LabThings-FastAPI's ThingClient, URLs are ``{thing URL}{name}`` and the
TD's forms are not read; everything about an invocation comes from its links.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urljoin, urlsplit

import httpx2
import msgspec

from ..errors import (
    AffordanceNotFoundError,
    InvocationNotFoundError,
    ReadOnlyPropertyError,
    ThingNotFoundError,
)
from ..models import FieldIssue, LogEntry, Progress
from ._blob import link_of
from ._invocation import InvocationEvent, InvocationState, Listener
from ._replies import checked
from ._sansio import (
    ClientSettings,
    Request,
    json_request,
)
from ._schema_check import validate
from .errors import invalid_arguments

__all__ = (
    "RemoteThing",
    "accept_cancel",
    "affordance_names",
    "check_url",
    "description_request",
    "invoke_prepared",
    "new_invocation_state",
    "parse_description",
    "property_value",
    "property_written",
    "thing_url",
)


def thing_url(url: str) -> str:
    """The Thing's URL with the trailing slash that ``{url}{name}`` needs."""
    return url if url.endswith("/") else f"{url}/"


def description_request(url: str) -> Request:
    """The request for the Thing Description at ``url``.

    Raises:
        InvalidArgumentsError: ``url`` is not an ``http://`` or ``https://`` URL.
    """
    check_url(url)
    return Request("GET", thing_url(url), headers={"Accept": "application/json"})


def check_url(url: str) -> None:
    """Refuse a URL the client cannot use, saying what to write instead.

    A URL without a scheme (``localhost:5000/stage/``) is refused rather than
    guessed at: a library cannot know whether the server speaks TLS.

    Raises:
        InvalidArgumentsError: ``url`` is not an ``http://`` or ``https://`` URL.
    """
    scheme, _, rest = url.partition("://")
    if not rest:
        reason = f"Expected a URL starting with http:// or https://, such as 'http://{url}'"
    elif scheme.lower() not in ("http", "https"):
        reason = f"Expected a URL starting with http:// or https://, not {scheme}://"
    else:
        return
    raise invalid_arguments(f"the URL {url!r}", [FieldIssue("$", reason)])


def parse_description(response: httpx2.Response, url: str) -> dict[str, Any]:
    """The Thing Description in a reply.

    Raises:
        ThingNotFoundError: There is no Thing Description at ``url``.
    """
    checked(response, f"the Thing Description at {url}", missing=ThingNotFoundError)
    try:
        description = response.json()
    except ValueError:
        description = None
    if not isinstance(description, dict) or not (
        isinstance(description.get("properties", {}), dict)
        and isinstance(description.get("actions", {}), dict)
        and ("properties" in description or "actions" in description)
    ):
        raise ThingNotFoundError(
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
            AffordanceNotFoundError: The TD has no such property.
        """
        return self._affordance("property", "properties", self.properties, name)

    def action_affordance(self, name: str) -> dict[str, Any]:
        """The action's affordance.

        Raises:
            AffordanceNotFoundError: The TD has no such action.
        """
        return self._affordance("action", "actions", self.actions, name)

    def _affordance(
        self, kind: str, kinds: str, table: Mapping[str, dict[str, Any]], name: str
    ) -> dict[str, Any]:
        if name not in table:
            raise AffordanceNotFoundError(
                f"Thing {self.title!r} has no {kind} {name!r}{self._near_miss(name, table)}; "
                f"its {kinds} are: {affordance_names(table)}"
            )
        return table[name]

    def _near_miss(self, name: str, table: Mapping[str, Any]) -> str:
        """`` (did you mean 'move_to'?)``, or what ``name`` is if it is the other kind."""
        if table is self.actions and name in self.properties:
            return f" ({name!r} is a property)"
        if table is self.properties and name in self.actions:
            return f" ({name!r} is an action)"
        close = difflib.get_close_matches(name, table, n=1)
        return f" (did you mean {close[0]!r}?)" if close else ""

    def read_request(self, name: str) -> Request:
        """The request that reads a property."""
        self.property_affordance(name)
        return Request("GET", f"{self.url}{name}")

    def write_request(self, name: str, value: Any) -> Request:
        """The request that writes a property, once ``value`` is checked against its schema.

        Raises:
            AffordanceNotFoundError: The TD has no such property.
            ReadOnlyPropertyError: The property is read-only.
            InvalidInputError: ``value`` does not fit the property's schema.
        """
        affordance = self.property_affordance(name)
        if affordance.get("readOnly"):
            raise ReadOnlyPropertyError(
                f"property {name!r} of {self.title!r} is read-only; it cannot be set"
            )
        plain = msgspec.to_builtins(value)
        issues = validate(plain, affordance)
        if issues:
            raise invalid_arguments(f"property {name!r}", issues)
        return json_request("PUT", f"{self.url}{name}", plain)

    def invoke_request(self, name: str, arguments: Mapping[str, Any], wait: float) -> Request:
        """The request that invokes an action, once the arguments are checked.

        Args:
            name: The action.
            arguments: Its keyword arguments.
            wait: Seconds to ask the server to hold the reply (``Prefer: wait``).

        Raises:
            AffordanceNotFoundError: The TD has no such action.
            InvalidInputError: The arguments do not fit the action's input.
        """
        affordance = self.action_affordance(name)
        plain = msgspec.to_builtins(dict(arguments), enc_hook=link_of)
        schema = affordance.get("input", {"type": "object", "additionalProperties": False})
        issues = validate(plain, schema)
        if issues:
            raise invalid_arguments(f"action {name!r}", issues)
        headers = {"Prefer": f"wait={wait:g}"} if wait > 0 else {}
        request = json_request("POST", f"{self.url}{name}", plain, headers)
        return Request(request.method, request.url, request.content, request.headers, wait)

    def server_url(self) -> str:
        """The root of the server's API: the Thing's URL without its last segment."""
        return urljoin(self.url, "..")


def affordance_names(affordances: Mapping[str, Any]) -> str:
    """The names, sorted and comma-separated, for messages."""
    return ", ".join(sorted(affordances)) or "(none)"


# -- what replies mean ----------------------------------------------------------------


def new_invocation_state(
    name: str,
    settings: ClientSettings,
    on_progress: Callable[[Progress], object] | None = None,
    on_log: Callable[[LogEntry], object] | None = None,
) -> InvocationState:
    """The state of a new invocation, with the caller's callbacks attached."""
    listeners = [
        _listener(kind, callback)
        for kind, callback in (("progress", on_progress), ("log", on_log))
        if callback is not None
    ]
    return InvocationState(name, listeners, streaming=settings.use_event_streams)


def _listener(kind: str, callback: Callable[[Any], object]) -> Listener:
    """Calls ``callback`` with the data of the events named ``kind``."""

    def listen(event: InvocationEvent) -> None:
        if event.name == kind:
            callback(event.data)

    return listen


def invoke_prepared(
    thing: RemoteThing,
    name: str,
    arguments: Mapping[str, Any],
    settings: ClientSettings,
    *,
    wait: float,
    on_progress: Callable[[Progress], object] | None = None,
    on_log: Callable[[LogEntry], object] | None = None,
) -> tuple[Request, InvocationState]:
    """The invoking request (arguments checked) and the state that will follow it."""
    request = thing.invoke_request(name, arguments, wait)
    state = new_invocation_state(name, settings, on_progress, on_log)
    state.output_schema = thing.action_affordance(name).get("output")
    return request, state


def accept_cancel(state: InvocationState, response: httpx2.Response) -> bool:
    """Check the reply to a cancelling DELETE; a finished invocation is not an error.

    Our server answers 409 and LabThings 503 for an invocation that has
    already finished: there is nothing to cancel, and its result stands. The
    reply is not merged into ``state``: only the flow following the
    invocation changes it (in the sync client, that is another thread), and
    it sees the cancellation on the stream or at its next poll.

    Returns:
        True if the server took the request, False if the invocation had
        already finished.
    """
    if response.status_code in (409, 503):
        return False
    checked(
        response,
        f"cancelling invocation {state.id} of action {state.action!r}",
        missing=InvocationNotFoundError,
    )
    return True


def property_value(response: httpx2.Response, name: str) -> Any:
    """The value in the reply to a property read."""
    return checked(response, f"property {name!r}", missing=AffordanceNotFoundError).json()


def property_written(response: httpx2.Response, name: str) -> None:
    """Check the reply to a property write (our server says 204, LabThings 201)."""
    checked(response, f"property {name!r}", missing=AffordanceNotFoundError)
