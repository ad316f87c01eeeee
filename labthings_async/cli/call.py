"""``labthings-async call``: invoke an action, show it as it runs, print its output.

Layer: cli (stdlib; the client, imported when the command runs). Ctrl-C or
SIGTERM cancels the invocation on the server, and the exit status says what
came of it (see ``command``).
"""

from __future__ import annotations

import argparse
import sys
from typing import TYPE_CHECKING, Any

from .command import (
    EXIT_FAILED,
    EXIT_INTERRUPTED,
    EXIT_NOT_CANCELLED,
    EXIT_TERMINATED,
    EXIT_USAGE,
    PROG,
    add_token_argument,
    fail,
    guarded,
    http_url,
    interrupted,
    parse_arguments,
    print_json,
    sigterm_as_ctrl_c,
)
from .progress import ProgressDisplay

if TYPE_CHECKING:
    import threading

    from ..client._sync import ActionHandle, ThingClient

__all__ = ("CANCEL_WAIT", "add_call_command")

CANCEL_WAIT = 10.0
"""Seconds ``call`` waits, after Ctrl-C, for the server to confirm the cancellation."""


def add_call_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add ``call`` to the command line's subcommands."""
    call = commands.add_parser(
        "call",
        help="invoke an action and print its output",
        description=(
            "Invoke ACTION of the Thing at URL, show its progress and log on stderr as "
            "they arrive, and print its output as JSON on stdout. Each argument is "
            "key=value; a value that parses as JSON is sent as JSON (x=3, flag=true, "
            "names='[\"a\"]'), anything else (or anything for a string parameter) as "
            "a string. Ctrl-C or SIGTERM cancels the invocation on the server."
        ),
        epilog="exit status: 0 done, 1 the action failed, 2 bad arguments, "
        "3 server unreachable, 4 interrupted but not cancelled (the action ignored the "
        "cancel or had not stopped in time), 130 cancelled by Ctrl-C, 143 by SIGTERM",
    )
    call.add_argument("url", metavar="URL", type=http_url, help="the Thing's URL")
    call.add_argument("action", metavar="ACTION", help="the action's name")
    call.add_argument("arguments", metavar="KEY=VALUE", nargs="*", help="the action's arguments")
    add_token_argument(call)
    call.set_defaults(run=_call)


@guarded
def _call(args: argparse.Namespace) -> int:
    from ..client._sync import ThingClient

    display = ProgressDisplay(sys.stderr)
    with sigterm_as_ctrl_c() as terminated:
        try:
            with (
                ThingClient.from_url(args.url, cancel_wait=CANCEL_WAIT, token=args.token) as thing,
                display.client_messages(),
            ):
                return _invoke(thing, args, display, terminated)
        except KeyboardInterrupt:  # Before there was an invocation to cancel.
            return interrupted(terminated)
        finally:
            display.close()


def _invoke(
    thing: ThingClient,
    args: argparse.Namespace,
    display: ProgressDisplay,
    terminated: threading.Event,
) -> int:
    """Invoke the action and follow it; on Ctrl-C, cancel it and say what came of that."""
    from ..client._interrupt import HeldInterrupt

    if args.action not in thing.thing.actions and args.action in thing.thing.properties:
        return fail(
            f"{args.action!r} is a property, not an action: read it with "
            f"`{PROG} get {args.url} {args.action}`, set it with "
            f"`{PROG} set {args.url} {args.action} VALUE`",
            EXIT_USAGE,
        )
    schema = thing.thing.action_affordance(args.action).get("input") or {}
    try:
        arguments = parse_arguments(args.arguments, schema.get("properties"))
    except ValueError as error:
        return fail(str(error), EXIT_USAGE)
    # Held from before the invocation exists until the wait for it has begun,
    # so no Ctrl-C can fall between the two and leave the action running.
    with HeldInterrupt() as held:
        handle = thing.start_action(
            args.action, arguments, on_progress=display.progress, on_log=display.log
        )
        try:
            held.release()
            output = handle.result()
        except KeyboardInterrupt:
            handle.cancel_after_interrupt()
            display.close()
            return _after_interrupt(handle, terminated)
    display.close()
    print_json(output)
    return 0


def _after_interrupt(handle: ActionHandle, terminated: threading.Event) -> int:
    """The exit status once an interrupted ``result()`` has tried to cancel the invocation.

    The client has already said what came of the cancel; the output of an
    action that finished anyway is still printed, since it happened.
    """
    from ..client import CancelOutcome
    from ..client.errors import ActionCancelledError, ActionFailedError

    outcome = handle.cancellation
    if outcome is None and handle.done:  # It ended as the interrupt came: nothing to cancel.
        outcome = CancelOutcome.FINISHED_FIRST
    if outcome is None or outcome is CancelOutcome.CANCELLED:
        return EXIT_TERMINATED if terminated.is_set() else EXIT_INTERRUPTED
    if outcome in (CancelOutcome.STILL_RUNNING, CancelOutcome.UNCONFIRMED):
        return EXIT_NOT_CANCELLED
    output: Any = None
    try:
        output = handle.result(timeout=0)
    except (ActionFailedError, ActionCancelledError) as error:
        fail(str(error), EXIT_FAILED)
        return EXIT_NOT_CANCELLED if outcome is CancelOutcome.IGNORED else EXIT_FAILED
    print_json(output)
    return EXIT_NOT_CANCELLED if outcome is CancelOutcome.IGNORED else 0
