"""The floor: a hello-world Starlette route, served by hypercorn as our server is.

Run: ``python floor_app.py --port N`` (from this directory).

``ThingServer.serve`` calls ``hypercorn.asyncio.serve(app, Config())`` with only
``bind`` set; this does exactly the same, so the difference between the two is
what labthings_async adds on top of Starlette and hypercorn.
"""

from __future__ import annotations

import argparse
import asyncio

import hypercorn.asyncio
from hypercorn.config import Config
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

__all__ = ("app",)


async def hello(request: Request) -> Response:
    """A tiny JSON reply to GET or POST (the body, if any, is read and ignored)."""
    await request.body()
    return Response(b'{"hello":"world"}', media_type="application/json")


async def file(request: Request) -> Response:
    """The file at ``?path=``, streamed from disk by Starlette's ``FileResponse``."""
    return FileResponse(request.query_params["path"], media_type="application/octet-stream")


async def ready(request: Request) -> Response:
    """What the runner polls until the server is up."""
    return Response(b"{}", media_type="application/json")


app = Starlette(
    routes=[
        Route("/hello", hello, methods=["GET", "POST"]),
        Route("/file", file),
        Route("/things/", ready),
    ]
)


def main() -> None:
    """Serve ``app`` on loopback until interrupted."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=5000)
    args = parser.parse_args()
    config = Config()
    config.bind = [f"127.0.0.1:{args.port}"]
    asyncio.run(hypercorn.asyncio.serve(app, config))  # type: ignore[arg-type]


if __name__ == "__main__":
    main()
