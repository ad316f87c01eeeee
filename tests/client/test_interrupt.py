"""Ctrl-C in a script using the blocking client cancels the invocation on the server.

The script is a real process of its own, interrupted by a real SIGINT (what
Ctrl-C in a terminal and a notebook's "interrupt kernel" both deliver), while
it blocks in ``client.slow()`` or ``handle.result()``. The server runs in the
test's own event loop, so the test knows exactly when the action is running.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
from dataclasses import dataclass
from pathlib import Path

import httpx2
import pytest
from conftest import ServeThings

import labthings_async as lt

DEADLINE = 45.0
"""Seconds a command may take: it starts a Python process, on a machine that may be shared."""

# Each test starts processes and waits on them: more than the default per-test limit
# when the machine is busy.
pytestmark = pytest.mark.timeout(4 * DEADLINE)


class Stage(lt.Thing):
    """A stage whose moves the test can watch begin."""

    def __init__(self) -> None:
        self.moving = threading.Event()
        self.release = threading.Event()

    @lt.action
    def slow(self, cancel: lt.CancelHook) -> str:
        """Move until cancelled."""
        self.moving.set()
        cancel.sleep(60)
        return "arrived"

    @lt.action
    def stubborn(self, cancel: lt.CancelHook) -> str:
        """Carry on when asked to stop: finish as soon as the cancel comes."""
        self.moving.set()
        with contextlib.suppress(lt.InvocationCancelledError):
            cancel.sleep(60)
        return "arrived anyway"

    @lt.action
    def stuck(self) -> str:
        """Take no notice of a cancel until the test releases it."""
        self.moving.set()
        self.release.wait(DEADLINE)
        return "arrived late"


@dataclass
class Script:
    """A Python script run as its own process, and what it printed."""

    process: asyncio.subprocess.Process
    stderr: str = ""


SCRIPTS = {
    # The call is followed once the invoking request is answered at once.
    "method": "client = lt.ThingClient.from_url(url, invoke_wait=0, cancel_wait=wait)\n"
    "print(client.{action}())",
    # The server holds the invoking request 2 s: Ctrl-C comes while it is in flight.
    "in flight": "client = lt.ThingClient.from_url(url, invoke_wait=2, cancel_wait=wait)\n"
    "print(client.{action}())",
    "handle": "client = lt.ThingClient.from_url(url, cancel_wait=wait)\n"
    "print(client.start_action('{action}').result())",
}


async def interrupt_script(
    tmp_path: Path, url: str, stage: Stage, action: str, how: str, cancel_wait: float = 10.0
) -> Script:
    """Run the script until the action is running, send SIGINT, and wait for it to end."""
    path = tmp_path / "script.py"
    path.write_text(
        "import sys\nimport labthings_async as lt\n"
        "url, wait = sys.argv[1], float(sys.argv[2])\n" + SCRIPTS[how].format(action=action)
    )
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        str(path),
        f"{url}/stage/",
        str(cancel_wait),
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with asyncio.timeout(DEADLINE):
            await asyncio.to_thread(stage.moving.wait)
            process.send_signal(signal.SIGINT)
            _, stderr = await process.communicate()
    finally:
        stage.release.set()
        if process.returncode is None:
            process.kill()
            await process.wait()
    return Script(process, stderr.decode())


def what_was_said(script: Script) -> str:
    """The one line the client logged about the invocation."""
    said = [line for line in script.stderr.splitlines() if "invocation" in line]
    assert len(said) == 1, script.stderr
    return said[0]


async def invocation_statuses(url: str) -> list[str]:
    async with httpx2.AsyncClient(timeout=DEADLINE) as http:
        reply = await http.get(f"{url}/action_invocations/")
    return [summary["status"] for summary in reply.json()]


@pytest.mark.parametrize("how", ["method", "in flight", "handle"])
async def test_ctrl_c_in_a_blocking_call_cancels_the_invocation_and_says_so(
    serve_things: ServeThings, tmp_path: Path, how: str
) -> None:
    stage = Stage()
    url = await serve_things(lt.ThingServer({"stage": stage}))

    script = await interrupt_script(tmp_path, url, stage, "slow", how)

    # The KeyboardInterrupt was re-raised: Python ends an uncaught one by SIGINT.
    assert script.process.returncode == -signal.SIGINT
    assert script.stderr.rstrip().endswith("KeyboardInterrupt")
    said = what_was_said(script)
    assert said.startswith("cancelled invocation ")
    assert said.endswith(" of 'slow' on the server")
    assert await invocation_statuses(url) == ["cancelled"]


async def test_an_action_that_ignores_the_cancel_is_reported_as_such(
    serve_things: ServeThings, tmp_path: Path
) -> None:
    stage = Stage()
    url = await serve_things(lt.ThingServer({"stage": stage}))

    script = await interrupt_script(tmp_path, url, stage, "stubborn", "method")

    assert script.process.returncode == -signal.SIGINT
    said = what_was_said(script)
    assert said.startswith("invocation ")
    assert said.endswith(" of 'stubborn' ignored the cancel and completed")
    assert await invocation_statuses(url) == ["completed"]


async def test_an_action_that_has_not_stopped_in_time_is_reported_as_still_running(
    serve_things: ServeThings, tmp_path: Path
) -> None:
    stage = Stage()
    url = await serve_things(lt.ThingServer({"stage": stage}))

    script = await interrupt_script(tmp_path, url, stage, "stuck", "handle", cancel_wait=0.2)

    assert script.process.returncode == -signal.SIGINT
    said = what_was_said(script)
    assert said.startswith("asked the server to cancel invocation ")
    assert " of 'stuck'; it is still running after 0.2 s" in said
