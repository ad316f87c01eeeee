"""Routes for Things: the index, Thing Descriptions, properties and actions.

Layer: HTTP (starlette, the manager). ``/{thing}/{name}`` serves both kinds of
affordance, so one endpoint dispatches on what ``name`` is and answers a wrong
method with 405 and an ``Allow`` header listing the right ones.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import anyio
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from ..action import ActionDescriptor
from ..errors import AffordanceNotFoundError, InvalidInputError, ValidationIssue
from ..invocation import Invocation
from ..models import InvocationStatus, ProblemDetails
from ..properties import PropertyDescriptor
from ..property_access import read_property, write_property
from ..thing import Thing
from ..wot.td import thing_description
from .endpoint import problem_endpoint
from .invocations import invocation_list_response
from .page import thing_panel_response, wants_html
from .problem import problem_response
from .state import ServerState
from .wire import base_url, json_response, prefer_wait, read_json_body

__all__ = ("thing_routes",)


def _not_allowed(request: Request, allowed: list[str]) -> HTTPException:
    return HTTPException(
        405,
        f"{request.method} is not allowed on {request.url.path}; use {', '.join(allowed)}",
        headers={"Allow": ", ".join(allowed)},
    )


def thing_routes(state: ServerState) -> list[BaseRoute]:
    """The routes for the index, the TDs and every Thing's affordances."""
    manager = state.manager

    def thing_url(request: Request, name: str) -> str:
        return f"{base_url(request)}/{name}/"

    async def index(request: Request) -> Response:
        return json_response({name: thing_url(request, name) for name in manager.things})

    async def descriptions(request: Request) -> Response:
        return json_response(
            {
                name: thing_description(thing, thing_url(request, name))
                for name, thing in manager.things.items()
            }
        )

    async def description(request: Request) -> Response:
        thing = manager.get_thing(request.path_params["thing"])
        if state.panel and wants_html(request):
            return thing_panel_response(request, thing)
        return json_response(
            thing_description(thing, thing_url(request, thing.name)),
            headers={"Vary": "Accept"} if state.panel else None,
        )

    async def affordance(request: Request) -> Response:
        thing = manager.get_thing(request.path_params["thing"])
        name = request.path_params["name"]
        cls = type(thing)
        if name in cls.properties:
            return await property_endpoint(request, thing, cls.properties[name])
        if name in cls.actions:
            return await action_endpoint(request, thing, cls.actions[name])
        raise AffordanceNotFoundError(
            f"Thing {thing.name!r} has no property or action {name!r}; it has "
            f"properties {sorted(cls.properties)} and actions {sorted(cls.actions)}"
        )

    async def property_endpoint(
        request: Request, thing: Thing, descriptor: PropertyDescriptor
    ) -> Response:
        allowed = ["GET"] if descriptor.readonly else ["GET", "PUT"]
        if request.method in ("GET", "HEAD"):
            value = await read_property(descriptor, thing, state.property_limiter)
            return json_response(value)
        if request.method != "PUT" or descriptor.readonly:
            if request.method == "PUT":
                detail = f"property {descriptor.name!r} of {thing.name!r} is read-only"
                raise HTTPException(405, detail, headers={"Allow": "GET"})
            raise _not_allowed(request, allowed)
        body = await read_json_body(request, state.body_limit)
        value = descriptor.decode(body)
        await write_property(descriptor, thing, value, state.property_limiter)
        return Response(status_code=204)

    async def action_endpoint(
        request: Request, thing: Thing, descriptor: ActionDescriptor
    ) -> Response:
        if request.method in ("GET", "HEAD"):
            return invocation_list_response(
                request, state, thing=thing.name, action=descriptor.name
            )
        if request.method != "POST":
            raise _not_allowed(request, ["GET", "POST"])
        reply = request.query_params.get("reply")
        if reply not in (None, "output"):
            raise InvalidInputError(
                f"query parameter 'reply' may only be 'output', got {reply!r}",
                [ValidationIssue("$.query.reply", "Expected `output`")],
            )
        body = await read_json_body(request, state.body_limit)
        invocation = manager.invoke_action(thing, descriptor.name, body)
        href = f"{base_url(request)}/action_invocations/{invocation.id}"
        if reply == "output":
            return await _output_reply(invocation, href)
        wait = prefer_wait(request, state.max_wait)
        headers = {}
        if wait:
            await _hold(invocation, wait)
            headers["Preference-Applied"] = f"wait={wait:g}"
        headers["Location"] = href
        return json_response(invocation.response(base_url(request)), 201, headers)

    async def _hold(invocation: Invocation, seconds: float) -> None:
        """Wait for the invocation to finish, at most ``seconds`` or until shutdown."""
        with anyio.move_on_after(seconds) as scope:
            state.held.add(scope)
            try:
                await invocation.wait()
            finally:
                state.held.discard(scope)

    async def _output_reply(invocation: Invocation, href: str) -> Response:
        """Reply as a W3C consumer expects: the output itself, or a failure status.

        This is what the first ``invokeaction`` form of the TD asks for.
        """
        await _hold(invocation, state.sync_timeout)
        headers = {"Location": href}
        if invocation.status is InvocationStatus.COMPLETED:
            return json_response(invocation.output, 200, headers)
        if invocation.error is not None:
            return problem_response(invocation.error, headers)
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

    def route(
        path: str, endpoint: Callable[[Request], Awaitable[Response]], methods: list[str]
    ) -> Route:
        return Route(path, problem_endpoint(endpoint, debug=state.debug), methods=methods)

    return [
        route("/things/", index, ["GET"]),
        route("/things", index, ["GET"]),
        route("/thing_descriptions/", descriptions, ["GET"]),
        route("/thing_descriptions", descriptions, ["GET"]),
        route("/{thing}/", description, ["GET"]),
        route("/{thing}", description, ["GET"]),
        route(
            "/{thing}/{name}",
            affordance,
            # Every method reaches the endpoint, which knows what the affordance allows.
            ["GET", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"],
        ),
    ]
