"""Things that will not stop, served the three ways a user serves them, for shutdown tests.

Run by ``test_shutdown.py`` in a process of its own, under our command
(``labthings-async serve hosted:Stubborn``), or embedded in a Starlette host
app (``app``) under uvicorn or hypercorn, as the README shows. The Thing's
teardown writes the file named by ``LABTHINGS_TEST_MARKER``, so the test can
tell that it ran; ``LABTHINGS_TEST_GRACE`` is the shutdown grace, in seconds.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from starlette.applications import Starlette
from starlette.routing import Mount

import labthings_async as lt

GRACE = float(os.environ.get("LABTHINGS_TEST_GRACE", "1"))


class Stubborn(lt.Thing):
    """Actions that ignore every request to stop, and a property to watch."""

    count: int = lt.property(default=0)

    def teardown(self) -> None:
        Path(os.environ["LABTHINGS_TEST_MARKER"]).write_text("torn down")

    @lt.action
    def block(self) -> None:
        """Blocks its thread for an hour, never looking at the cancel hook."""
        time.sleep(3600)

    @lt.action
    async def ignore_cancel(self) -> None:
        """Swallows every cancellation and waits again."""
        while True:
            with suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)


things = lt.ThingServer({"stubborn": Stubborn()}, shutdown_grace=GRACE)


@asynccontextmanager
async def lifespan(app: Starlette) -> AsyncIterator[None]:
    """The host's lifespan runs ours: Starlette does not run a mounted app's."""
    async with things.lifespan():
        yield


app = Starlette(routes=[Mount("/lab", app=things.app)], lifespan=lifespan)
