"""Shutdown ends, within its bound, however the Things behave and whoever hosts them.

Each case runs a real server process (our command, or a Starlette host app
under uvicorn or under hypercorn, as the README shows) with two actions that
ignore every request to stop (a thread in ``time.sleep(3600)``, an async
action that swallows its cancellations), two event streams open with a real
SSE client reading them, and two requests held open (``?reply=output`` and
``Prefer: wait``). Then it sends SIGINT or SIGTERM. The process must exit
within the stated bound (the shutdown grace, a quick teardown, and headroom
for a loaded machine), having closed the streams, answered the held
requests, marked and named the abandoned invocations, and run the Thing's
teardown.

hypercorn's command serves from a worker process by default, which hears no
signal: its parent tells it to stop through a pipe nothing else can read. So
the app cannot know, and hypercorn cuts the open connections once its
``--graceful-timeout`` (3 s) has run out; that case has a test of its own,
with that in its bound. ``--workers 0`` serves from the process that gets
the signal, and shuts down as the others do.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from eventsource import SSEEvent, aiter_events

pytestmark = pytest.mark.faults

HERE = Path(__file__).parent
BIN = Path(sys.executable).parent
GRACE = 1.0
"""The shutdown grace the servers are given, in seconds."""

HEADROOM = 10.0
"""Seconds on top of the stated bound, for a machine shared with other work."""

BOUND = GRACE + 1.0 + 1.0 + HEADROOM
"""Grace, then at most a second for abandoned tasks and one for leftovers, then headroom."""

HYPERCORN_GRACEFUL_TIMEOUT = 3.0
"""How long hypercorn waits for open connections before it cuts them (its default)."""

START_TIMEOUT = 60.0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Served:
    """A server process and where its Things are."""

    process: subprocess.Popen[bytes]
    root: str
    """The URL of the Things' API, ending without a slash."""
    stderr: Path

    def log(self) -> str:
        return self.stderr.read_text(errors="replace")


def command(host: str, port: int, workdir: Path) -> tuple[list[str], str]:
    """How a user starts ``host`` on ``port``; and the root URL of the Things."""
    if host == "labthings-async":
        config = {"things": {"stubborn": "hosted:Stubborn"}, "options": {"shutdown_grace": GRACE}}
        path = workdir / "lab.json"
        path.write_text(json.dumps(config))
        return [str(BIN / "labthings-async"), "serve", str(path), "--port", str(port)], ""
    if host == "uvicorn":
        return [
            sys.executable,
            *("-m", "uvicorn", "hosted:app", "--port", str(port)),
            *("--app-dir", str(HERE), "--log-level", "warning"),
        ], "/lab"
    workers = ["--workers", "0"] if host == "hypercorn" else []
    return [
        sys.executable,
        *("-m", "hypercorn", "hosted:app", "--bind", f"127.0.0.1:{port}", *workers),
    ], "/lab"


@contextmanager
def launched(
    argv: list[str], root: str, cwd: Path, stderr: Path, environment: dict[str, str] | None = None
) -> Iterator[Served]:
    """Start a server process; yield it once ``{root}/things/`` answers; kill it if it is left."""
    with stderr.open("wb") as errors:
        process = subprocess.Popen(
            argv, cwd=cwd, env=environment, stdout=subprocess.DEVNULL, stderr=errors
        )
    served = Served(process, root, stderr)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                if httpx2.get(f"{root}/things/", timeout=2).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            if process.poll() is not None or time.monotonic() > deadline:
                raise AssertionError(f"{argv} did not start:\n{served.log()}")
            time.sleep(0.05)
        yield served
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


@contextmanager
def serving(host: str, workdir: Path, marker: Path) -> Iterator[Served]:
    port = free_port()
    argv, path = command(host, port, workdir)
    environment = {
        **os.environ,
        "LABTHINGS_TEST_MARKER": str(marker),
        "LABTHINGS_TEST_GRACE": str(GRACE),
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    root = f"http://127.0.0.1:{port}{path}"
    with launched(argv, root, HERE, workdir / "stderr.txt", environment) as served:
        yield served


@asynccontextmanager
async def following(http: httpx2.AsyncClient, url: str) -> AsyncIterator[list[SSEEvent]]:
    """Read an event stream in the background, as a browser would; yields what arrived."""
    received: list[SSEEvent] = []
    connected = asyncio.Event()

    async def read() -> None:
        async with http.stream("GET", url, headers={"Accept": "text/event-stream"}) as response:
            assert response.status_code == 200
            connected.set()
            async for event in aiter_events(response):
                received.append(event)

    reader = asyncio.create_task(read())
    opened = asyncio.create_task(connected.wait())
    await asyncio.wait({reader, opened}, timeout=START_TIMEOUT, return_when=asyncio.FIRST_COMPLETED)
    opened.cancel()
    if reader.done():
        reader.result()  # Raises why it could not open.
    assert connected.is_set(), "the stream did not open"
    try:
        yield received
        # The stream must end on its own: the server closed it.
        await asyncio.wait_for(reader, BOUND)
    finally:
        reader.cancel()


async def until_running(http: httpx2.AsyncClient, href: str) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    while (await http.get(href)).json()["status"] != "running":
        assert time.monotonic() < deadline, f"{href} never started"
        await asyncio.sleep(0.05)


async def exited_after(
    process: subprocess.Popen[bytes], signum: signal.Signals, bound: float = BOUND
) -> float:
    """Send ``signum``; how long the process took to exit (at most ``bound`` is waited)."""
    began = time.monotonic()
    process.send_signal(signum)
    while process.poll() is None:
        if time.monotonic() - began > bound:
            return float("inf")
        await asyncio.sleep(0.02)
    return time.monotonic() - began


@pytest.mark.timeout(180)
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["SIGINT", "SIGTERM"])
@pytest.mark.parametrize("host", ["labthings-async", "uvicorn", "hypercorn"])
async def test_shutdown_ends_within_its_bound_and_tears_down(
    host: str, signum: signal.Signals, tmp_path: Path
) -> None:
    marker = tmp_path / "torn-down.txt"
    with serving(host, tmp_path, marker) as served:
        root = served.root
        async with (
            httpx2.AsyncClient(timeout=BOUND + START_TIMEOUT) as http,
            following(http, f"{root}/stubborn/count/events") as property_events,
            following(http, f"{root}/action_invocations/events") as status_events,
        ):
            blocked = (await http.post(f"{root}/stubborn/block", json={})).json()
            ignoring = (await http.post(f"{root}/stubborn/ignore_cancel", json={})).json()
            await until_running(http, blocked["href"])
            await until_running(http, ignoring["href"])
            held_output = asyncio.create_task(
                http.post(f"{root}/stubborn/ignore_cancel?reply=output", json={})
            )
            held_wait = asyncio.create_task(
                http.post(f"{root}/stubborn/block", json={}, headers={"Prefer": "wait=30"})
            )
            # Both held requests have made their invocations, so are being held.
            deadline = time.monotonic() + START_TIMEOUT
            while len((await http.get(f"{root}/action_invocations/")).json()) < 4:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.05)

            took = await exited_after(served.process, signum)

            output_reply = await held_output
            wait_reply = await held_wait
        log = served.log()
        assert took <= BOUND, f"{host} did not exit {BOUND:g} s after {signum.name}:\n{log}"
        assert marker.read_text() == "torn down", log
    print(f"{host} exited {took:.2f} s after {signum.name}")

    assert output_reply.status_code == 503
    assert output_reply.headers["content-type"] == "application/problem+json"
    assert "shutting down" in output_reply.json()["detail"]
    assert wait_reply.status_code == 201
    assert wait_reply.json()["status"] == "running"
    assert property_events == []  # The stream ended, having had nothing to say.
    statuses = [json.loads(event.data)["status"] for event in status_events]
    assert statuses.count("running") == 4
    assert "abandoning 4 invocation(s)" in log
    for invocation in (blocked, ignoring):
        assert invocation["id"] in log
    assert "Traceback" not in log


@pytest.mark.timeout(180)
async def test_a_hypercorn_worker_process_cuts_streams_then_shuts_down_within_its_bound(
    tmp_path: Path,
) -> None:
    marker = tmp_path / "torn-down.txt"
    bound = HYPERCORN_GRACEFUL_TIMEOUT + BOUND
    with serving("hypercorn-worker-process", tmp_path, marker) as served:
        root = served.root
        async with httpx2.AsyncClient(timeout=bound + START_TIMEOUT) as http:
            stream = asyncio.create_task(
                http.get(f"{root}/stubborn/count/events", headers={"Accept": "text/event-stream"})
            )
            blocked = (await http.post(f"{root}/stubborn/block", json={})).json()
            ignoring = (await http.post(f"{root}/stubborn/ignore_cancel", json={})).json()
            await until_running(http, blocked["href"])
            await until_running(http, ignoring["href"])
            # The worker is the process that would take a while; its parent waits for it.
            took = await exited_after(served.process, signal.SIGTERM, bound)
            with pytest.raises(httpx2.RemoteProtocolError):
                await stream  # Cut by hypercorn, not ended by us: nobody told the worker.
        log = served.log()
        assert took <= bound, f"hypercorn did not exit {bound:g} s after SIGTERM:\n{log}"
        assert marker.read_text() == "torn down", log
    print(f"hypercorn (a worker process) exited {took:.2f} s after SIGTERM")
    assert "abandoning 2 invocation(s)" in log


LEFTOVER_MODULE = '''
import asyncio
import contextlib

import labthings_async as lt


class Leaky(lt.Thing):
    """Starts a task of its own that ignores every cancellation, and never stops it."""

    async def setup(self) -> None:
        self.forever = asyncio.get_running_loop().create_task(self.spin(), name="spinner")

    async def spin(self) -> None:
        while True:
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.sleep(3600)
'''


@pytest.mark.timeout(120)
async def test_the_command_exits_though_a_task_the_thing_started_ignores_cancellation(
    tmp_path: Path,
) -> None:
    (tmp_path / "leaky.py").write_text(LEFTOVER_MODULE)
    port = free_port()
    argv = [str(BIN / "labthings-async"), "serve", "leaky:Leaky", "--port", str(port)]
    root = f"http://127.0.0.1:{port}"
    with launched(argv, root, tmp_path, tmp_path / "stderr.txt") as served:
        took = await exited_after(served.process, signal.SIGTERM)
        log = served.log()
    # asyncio.run would wait for the spinning task for good.
    assert took <= BOUND, log
    assert served.process.returncode == 0, log
    assert (
        "1 task(s) left on the event loop ignored their cancellation; exiting without them: spinner"
    ) in log
