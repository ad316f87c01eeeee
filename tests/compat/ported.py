"""Helpers of the compatibility tests: LabThings-FastAPI code with only its imports changed.

LabThings-FastAPI's own modules are read from the installed package with the
package's name changed in their imports (every module path keeps its name),
so the tests run exactly the code a migrating user has, changed as the
porting guide says.
"""

from __future__ import annotations

import asyncio
import difflib
import importlib
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import ModuleType
from typing import Any, TypeVar

import httpx2
import labthings_fastapi

T = TypeVar("T")

LT_PACKAGE = Path(labthings_fastapi.__file__).parent
COMMAND = str(Path(sys.executable).with_name("labthings-async"))


def port_source(source: str) -> str:
    """LabThings-FastAPI source with its imports pointed at labthings_async."""
    return source.replace("labthings_fastapi", "labthings_async")


def changed_lines(before: str, after: str) -> list[str]:
    """The lines of ``after`` that differ from ``before``."""
    diff = difflib.ndiff(before.splitlines(), after.splitlines())
    return [line[2:] for line in diff if line.startswith("+ ")]


@contextmanager
def ported_module(name: str, source: str, directory: Path) -> Iterator[ModuleType]:
    """Write ``source`` as module ``name`` in ``directory`` and import it; forget it after."""
    (directory / f"{name}.py").write_text(source)
    sys.path.insert(0, str(directory))
    try:
        yield importlib.import_module(name)
    finally:
        sys.path.remove(str(directory))
        sys.modules.pop(name, None)


async def in_thread(function: Callable[[], T]) -> T:
    """Run a blocking client (LabThings' ThingClient) while the test's loop serves."""
    return await asyncio.to_thread(function)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


@contextmanager
def serving(directory: Path, *args: str, deadline: float = 20.0) -> Iterator[str]:
    """Run ``labthings-async serve ARGS`` in ``directory``; yield its URL once it answers."""
    port = free_port()
    errors = directory / "stderr.txt"
    with errors.open("wb") as stderr:
        process = subprocess.Popen(
            [COMMAND, "serve", *args, "--port", str(port)],
            cwd=directory,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        give_up = time.monotonic() + deadline
        while True:
            try:
                httpx2.get(f"{url}/things/", timeout=1)
                break
            except httpx2.TransportError:
                if process.poll() is not None or time.monotonic() > give_up:
                    raise AssertionError(
                        f"the server did not answer: {errors.read_text()}"
                    ) from None
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(deadline)


def run_serve(directory: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run ``labthings-async serve ARGS`` to its end (a start-up failure, say)."""
    return subprocess.run(
        [COMMAND, "serve", *args, "--port", str(free_port())],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=60,
    )


def lt_client(url: str, http: httpx2.Client) -> Any:
    """LabThings-FastAPI's own ThingClient for ``url``, over ``http``."""
    from labthings_fastapi.client import ThingClient

    return ThingClient.from_url(url, client=http)
