"""Action endpoints: invoke an action, list its invocations.

Layer: HTTP (starlette, anyio, the manager). ``POST /{thing}/{action}``
answers as LabThings clients expect (201, ``Location``, the invocation; an
RFC 7240 ``Prefer: wait=N`` holds the reply up to N s, as an action's
``response_timeout`` does without one), or with
``?reply=output`` as W3C consumers expect (the output itself, or the failure
as a problem), or, to a client whose ``Accept`` names ``text/event-stream``,
with 201 and the invocation's event stream, so one request follows it to
the end. A held reply is released at once when the server shuts down.
"""

from __future__ import annotations

import asyncio
from functools import partial

from starlette.requests import Request
from starlette.responses import Response

from ..action import ActionDescriptor
from ..errors import TooManyStreamsError
from ..invocation import Invocation
from ..models import InvocationStatus, ProblemDetails
from ..thing import Thing
from .invocations import invocation_list
from .problem import problem_response
from .query import InvokeQuery, decode_query
from .state import ServerState, server_state
from .streams import invocation_created
from .wire import accepted, base_url, json_response, prefer_wait, read_json_body

__all__ = ("action_endpoint", "invoke")

_SSE = "text/event-stream"


async def action_endpoint(
    request: Request, *, thing: Thing, descriptor: ActionDescriptor
) -> Response:
    """``POST /{thing}/{action}``: invoke; ``GET``: that action's invocations."""
    if request.method == "POST":
        return await invoke(request, thing=thing, descriptor=descriptor)
    return invocation_list(request, thing=thing.name, action=descriptor.name)


async def invoke(request: Request, *, thing: Thing, descriptor: ActionDescriptor) -> Response:
    """Invoke the action with the request's body as its input."""
    state = server_state(request)
    query = decode_query(request, InvokeQuery)
    body = await read_json_body(request, state.body_limit, state.body_timeout)
    invocation = state.manager.invoke_action(thing, descriptor.name, body)
    base = base_url(request)
    href = f"{base}/action_invocations/{invocation.id_text}"
    if query.reply == "output":
        return await _output_reply(state, invocation, href, base)
    if _wants_event_stream(request):
        try:
            return invocation_created(request, invocation, base)
        except TooManyStreamsError:
            pass  # The invocation stands: the usual reply names it, to follow later.
    wait = prefer_wait(request, state.max_wait)
    headers = {}
    if wait:
        await _hold(state, invocation, wait)
        headers["Preference-Applied"] = f"wait={wait:g}"
    elif descriptor.response_timeout:
        # LabThings-FastAPI's @action(response_timeout=N): the action's own default hold.
        await _hold(state, invocation, min(descriptor.response_timeout, state.max_wait))
    headers["Location"] = href
    return json_response(invocation.response(base), 201, headers)


def _wants_event_stream(request: Request) -> bool:
    """True when ``Accept`` names ``text/event-stream``, and JSON no higher.

    ``*/*`` does not count: a client that sends it (httpx, curl, LabThings'
    client) gets the invocation as JSON, as it always has.
    """
    if _SSE not in request.headers.get("accept", ""):
        return False  # Every other POST: no parsing on the path of every invocation.
    qualities = accepted(request)
    stream = qualities.get(_SSE, 0.0)
    return stream > 0 and stream >= qualities.get("application/json", 0.0)


async def _hold(state: ServerState, invocation: Invocation, seconds: float) -> None:
    """Wait for the invocation to finish, at most ``seconds`` or until shutdown.

    A future and a timer, not ``anyio.move_on_after``: a cancel scope costs
    more than the rest of the wait on the path of every ``Prefer: wait``.
    """
    if invocation.finished:
        return
    waiter = invocation.waiter()
    release = partial(_release, waiter)
    timer = asyncio.get_running_loop().call_later(seconds, release)
    state.held.add(release)
    try:
        await waiter
    finally:
        timer.cancel()
        state.held.discard(release)
        invocation.stop_waiting(waiter)


def _release(waiter: asyncio.Future[None]) -> None:
    """End a hold: the wait is over, or the server is shutting down."""
    if not waiter.done():
        waiter.set_result(None)


async def _output_reply(
    state: ServerState, invocation: Invocation, href: str, base: str
) -> Response:
    """Reply as a W3C consumer expects: the output itself, or a failure status.

    This is what the first ``invokeaction`` form of the TD asks for.
    """
    await _hold(state, invocation, state.sync_timeout)
    headers = {"Location": href}
    if invocation.status is InvocationStatus.COMPLETED:
        return json_response(invocation.output_at(base), 200, headers)
    if invocation.error is not None:
        return problem_response(invocation.error, headers)
    if state.closing:  # Released by the shutdown, not by the time limit.
        problem = ProblemDetails(
            title="Server shutting down",
            status=503,
            detail=(
                f"the server is shutting down and the invocation is still "
                f"{invocation.status.value}; it is being asked to stop ({href})"
            ),
            instance=href,
        )
        return problem_response(problem, headers)
    problem = ProblemDetails(
        title="Invocation still running",
        status=504,
        detail=(
            f"the invocation is still {invocation.status.value} after "
            f"{state.sync_timeout:g} s; follow it at {href}"
        ),
        instance=href,
    )
    return problem_response(problem, headers)
