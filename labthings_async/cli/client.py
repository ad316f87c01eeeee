"""The client half of the command line: ``call``, ``watch`` and ``describe``.

Layer: client/CLI (stdlib; the client modules, imported when a command runs
so ``--help`` stays fast). Every failure a user can cause or meet prints one
line saying what went wrong, on stderr, and exits non-zero:

- 1: the action failed, or was cancelled by someone else;
- 2: bad arguments, or no such action or property;
- 3: the server cannot be reached, or refused the request;
- 130: interrupted (Ctrl-C); a running ``call`` is cancelled on the server first.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from typing import IO, TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..client._sync import ThingClient
    from ..models import LogEntry, Progress

__all__ = (
    "CANCEL_WAIT",
    "EXIT_FAILED",
    "EXIT_INTERRUPTED",
    "EXIT_UNAVAILABLE",
    "EXIT_USAGE",
    "ProgressDisplay",
    "add_client_commands",
    "describe_schema",
    "describe_thing",
    "parse_arguments",
)

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_UNAVAILABLE = 3
EXIT_INTERRUPTED = 130
CANCEL_WAIT = 10.0
"""Seconds ``call`` waits, after Ctrl-C, for the server to confirm the cancellation."""

_PROG = "labthings-async"
_URL_HELP = "the Thing's URL, where its Thing Description is (http://host:5000/thing/)"

_Command = Callable[[argparse.Namespace], int]


def add_client_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``call``, ``watch`` and ``describe`` to the command line's subcommands.

    Each parser's ``run`` default is the function that runs the command and
    returns the exit status.
    """
    call = commands.add_parser(
        "call",
        help="invoke an action and print its output",
        description=(
            "Invoke ACTION of the Thing at URL, show its progress and log on stderr as "
            "they arrive, and print its output as JSON on stdout. Each argument is "
            "key=value; a value that parses as JSON is sent as JSON (x=3, flag=true, "
            "names='[\"a\"]'), anything else as a string. Ctrl-C cancels the "
            "invocation on the server."
        ),
        epilog="exit status: 0 done, 1 the action failed, 2 bad arguments, "
        "3 server unreachable, 130 cancelled by Ctrl-C",
    )
    call.add_argument("url", metavar="URL", help=_URL_HELP)
    call.add_argument("action", metavar="ACTION", help="the action's name")
    call.add_argument("arguments", metavar="KEY=VALUE", nargs="*", help="the action's arguments")
    call.set_defaults(run=_call)

    watch = commands.add_parser(
        "watch",
        help="show the invocations of a server as they happen",
        description=(
            "Print a line for every status change of every invocation on the server "
            "of the Thing at URL, live, until Ctrl-C."
        ),
    )
    watch.add_argument("url", metavar="URL", help=_URL_HELP)
    watch.add_argument(
        "--only-this-thing", action="store_true", help="only this Thing's invocations"
    )
    watch.add_argument("--action", help="only the invocations of this action")
    watch.set_defaults(run=_watch)

    describe = commands.add_parser(
        "describe",
        help="show a Thing's properties and actions",
        description="Show the properties and actions of the Thing at URL.",
    )
    describe.add_argument("url", metavar="URL", help=_URL_HELP)
    describe.add_argument("--json", action="store_true", help="print the Thing Description as JSON")
    describe.set_defaults(run=_describe)


def parse_arguments(tokens: Sequence[str]) -> dict[str, Any]:
    """``key=value`` tokens as action arguments; values are JSON when they parse as JSON.

    Raises:
        ValueError: A token is not ``key=value``.
    """
    arguments: dict[str, Any] = {}
    for token in tokens:
        key, equals, raw = token.partition("=")
        if not equals or not key:
            raise ValueError(f"argument {token!r} is not of the form key=value")
        try:
            arguments[key] = json.loads(raw)
        except ValueError:
            arguments[key] = raw
    return arguments


def _fail(message: str, status: int) -> int:
    print(f"{_PROG}: {message}", file=sys.stderr)
    return status


def _connect(url: str, **options: Any) -> ThingClient:
    from ..client._sync import ThingClient

    return ThingClient.from_url(url, **options)


def _guarded(command: _Command) -> _Command:
    """Turn the client's errors into one-line messages and exit statuses."""

    def run(args: argparse.Namespace) -> int:
        from ..client.errors import ActionCancelledError, ActionFailedError, ClientError
        from ..errors import InvalidInputError, NotFoundError

        try:
            return command(args)
        except (InvalidInputError, NotFoundError) as error:
            return _fail(str(error), EXIT_USAGE)
        except (ActionFailedError, ActionCancelledError) as error:
            return _fail(str(error), EXIT_FAILED)
        except ClientError as error:
            return _fail(str(error), EXIT_UNAVAILABLE)
        except KeyboardInterrupt:
            return _fail("interrupted", EXIT_INTERRUPTED)

    return run


# -- call ---------------------------------------------------------------------------------


class ProgressDisplay:
    """Progress as a bar and log records as lines, on a terminal or a plain stream.

    On a terminal the bar is redrawn in place and log lines print above it;
    elsewhere (a file, a pipe) each progress report is a line of its own.
    Callbacks arrive from the thread following the invocation, so writes are
    serialised.
    """

    WIDTH = 30

    def __init__(self, stream: IO[str]) -> None:
        self._stream = stream
        self._tty = stream.isatty()
        self._bar = ""
        self._lock = threading.Lock()

    def progress(self, report: Progress) -> None:
        """Show a progress report."""
        percent = report.percent
        filled = 0 if percent is None else round(self.WIDTH * max(0.0, min(percent, 100.0)) / 100)
        amount = "   ?" if percent is None else f"{percent:3.0f}%"
        bar = f"[{'#' * filled}{'-' * (self.WIDTH - filled)}] {amount}"
        if report.message:
            bar = f"{bar} {report.message}"
        with self._lock:
            if self._tty:
                self._bar = bar
                self._stream.write(f"\r\x1b[2K{bar}")
            else:
                self._stream.write(f"{bar}\n")
            self._stream.flush()

    def log(self, record: LogEntry) -> None:
        """Show a log record."""
        with self._lock:
            self._clear_bar()
            self._stream.write(f"{record.levelname}: {record.message}\n")
            if self._bar:
                self._stream.write(self._bar)
            self._stream.flush()

    def say(self, message: str) -> None:
        """Print a line of the command's own, below the bar."""
        with self._lock:
            self._clear_bar()
            self._bar = ""
            self._stream.write(f"{_PROG}: {message}\n")
            self._stream.flush()

    def close(self) -> None:
        """End the bar's line."""
        with self._lock:
            if self._bar:
                self._stream.write("\n")
                self._bar = ""
            self._stream.flush()

    def _clear_bar(self) -> None:
        if self._bar:
            self._stream.write("\r\x1b[2K")


@_guarded
def _call(args: argparse.Namespace) -> int:
    from ..client.errors import ActionCancelledError, ClientTimeoutError
    from ..errors import LabThingsError

    try:
        arguments = parse_arguments(args.arguments)
    except ValueError as error:
        return _fail(str(error), EXIT_USAGE)
    display = ProgressDisplay(sys.stderr)
    with _connect(args.url) as thing:
        handle = thing.start_action(
            args.action, arguments, on_progress=display.progress, on_log=display.log
        )
        try:
            output = handle.result()
        except KeyboardInterrupt:
            display.say(f"cancelling invocation {handle.id} of {args.action!r}...")
            try:
                handle.cancel()
                output = handle.result(timeout=CANCEL_WAIT)
            except ActionCancelledError:
                display.say(f"cancelled invocation {handle.id} of {args.action!r} on the server")
                return EXIT_INTERRUPTED
            except ClientTimeoutError:
                display.say(
                    f"asked the server to cancel invocation {handle.id}; it has not stopped "
                    f"after {CANCEL_WAIT:g} s"
                )
                return EXIT_INTERRUPTED
            except (KeyboardInterrupt, LabThingsError) as error:
                display.say(f"could not confirm the cancellation of {handle.id}: {error}")
                return EXIT_INTERRUPTED
            display.say(f"invocation {handle.id} finished before it could be cancelled")
        finally:
            display.close()
    print(json.dumps(output, indent=2, ensure_ascii=False))
    return 0


# -- watch --------------------------------------------------------------------------------


@_guarded
def _watch(args: argparse.Namespace) -> int:
    import httpx2

    from ..client._sansio import http_limits

    def announce(response: httpx2.Response) -> None:
        path = response.request.url.path
        if path.endswith("/action_invocations/events") and response.status_code == 200:
            print(
                f"{_PROG}: watching invocations at {response.request.url} (Ctrl-C to stop)",
                file=sys.stderr,
                flush=True,
            )

    with (
        httpx2.Client(
            timeout=10.0, limits=http_limits(), event_hooks={"response": [announce]}
        ) as http,
        _connect(args.url, http=http) as thing,
    ):
        changes = thing.observe_invocations(
            only_this_thing=args.only_this_thing, action=args.action
        )
        try:
            for change in changes:
                moment = change.time_completed or change.time_started or change.time_requested
                print(
                    f"{moment:%H:%M:%S.%f}"[:-3]
                    + f"  {change.status.value:<9}  {change.action}  {change.id}",
                    flush=True,
                )
        except KeyboardInterrupt:
            return 0
        finally:
            changes.close()
    return 0


# -- describe -----------------------------------------------------------------------------


@_guarded
def _describe(args: argparse.Namespace) -> int:
    with _connect(args.url) as thing:
        if args.json:
            print(json.dumps(thing.description, indent=2, ensure_ascii=False))
            return 0
        print(describe_thing(thing.url, thing.description))
    return 0


def describe_thing(url: str, description: Mapping[str, Any]) -> str:
    """A Thing Description as a person reads it: one line per affordance."""
    title = description.get("title", url)
    lines = [f"{title} - {description['description']}" if description.get("description") else title]
    lines += [url, "", "Properties:"]
    properties: Mapping[str, Any] = description.get("properties") or {}
    for name, affordance in properties.items():
        access = "read-only" if affordance.get("readOnly") else "read/write"
        if affordance.get("observable"):
            access += ", observable"
        lines.append(f"  {name}: {describe_schema(affordance)} ({access}){_about(affordance)}")
    if not properties:
        lines.append("  (none)")
    lines += ["", "Actions:"]
    actions: Mapping[str, Any] = description.get("actions") or {}
    for name, affordance in actions.items():
        schema = affordance.get("input") or {}
        required = set(schema.get("required") or ())
        parameters = []
        for parameter, sub in (schema.get("properties") or {}).items():
            text = f"{parameter}: {describe_schema(sub)}"
            if parameter not in required and "default" in sub:
                text += f" = {json.dumps(sub['default'])}"
            parameters.append(text)
        output = describe_schema(affordance["output"]) if affordance.get("output") else "None"
        lines.append(f"  {name}({', '.join(parameters)}) -> {output}{_about(affordance)}")
    if not actions:
        lines.append("  (none)")
    return "\n".join(lines)


def _about(affordance: Mapping[str, Any]) -> str:
    text = affordance.get("description") or affordance.get("title")
    return f"\n      {text}" if text else ""


_BOUNDS = (
    ("minimum", ">="),
    ("exclusiveMinimum", ">"),
    ("maximum", "<="),
    ("exclusiveMaximum", "<"),
    ("minLength", "length >="),
    ("maxLength", "length <="),
    ("minItems", "items >="),
    ("maxItems", "items <="),
    ("multipleOf", "multiple of"),
    ("pattern", "matching"),
)


def describe_schema(schema: Mapping[str, Any]) -> str:
    """A short, readable summary of a DataSchema: ``number (>= 0, <= 10)``."""
    if "enum" in schema:
        return " | ".join(json.dumps(value) for value in schema["enum"])
    if "const" in schema:
        return json.dumps(schema["const"])
    options = schema.get("oneOf") or schema.get("anyOf")
    if isinstance(options, list):
        return " | ".join(
            describe_schema(option) for option in options if isinstance(option, Mapping)
        )
    kind = schema.get("type", "any")
    text = " | ".join(kind) if isinstance(kind, list) else str(kind)
    if kind == "object" and isinstance(schema.get("properties"), Mapping):
        text += " {" + ", ".join(schema["properties"]) + "}"
    elif kind == "array" and isinstance(schema.get("items"), Mapping):
        text += f" of {describe_schema(schema['items'])}"
    bounds = [f"{words} {schema[key]}" for key, words in _BOUNDS if key in schema]
    return f"{text} ({', '.join(bounds)})" if bounds else text
