"""``labthings-async call``, ``watch`` and ``describe``, run as a user runs them.

Both the command and the server are processes of their own; the server
listens on a socket the test binds, so its port is known before it starts.
"""

from __future__ import annotations

import json
import os
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import IO

import httpx2
import pytest
from script_server import serve_script

COMMAND = str(Path(sys.executable).with_name("labthings-async"))
SERVER = Path(__file__).parents[1] / "bench_server.py"
DEADLINE = 20.0


@pytest.fixture(scope="module")
def bench_url() -> Iterator[str]:
    """The URL of Thing ``bench`` on a labthings_async server in a subprocess."""
    with serve_script(SERVER, "/bench/") as url:
        yield url


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [COMMAND, *args], capture_output=True, text=True, timeout=DEADLINE, check=False
    )


def start(*args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([COMMAND, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def read_until(pipe: IO[bytes] | None, needle: str, timeout: float = DEADLINE) -> str:
    """Read a child's output until ``needle`` appears; everything read so far."""
    assert pipe is not None
    seen = b""
    deadline = time.monotonic() + timeout
    while needle.encode() not in seen:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise AssertionError(f"waited {timeout} s for {needle!r}; got {seen!r}")
        ready, _, _ = select.select([pipe.fileno()], [], [], remaining)
        if ready:
            chunk = os.read(pipe.fileno(), 65536)
            if not chunk:
                raise AssertionError(f"the output ended without {needle!r}: {seen!r}")
            seen += chunk
    return seen.decode()


def closed_port_url() -> str:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/bench/"


def test_call_prints_the_output_with_progress_and_log_on_stderr(bench_url: str) -> None:
    done = run("call", bench_url, "count", "n=4")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout) == 4
    lines = done.stderr.splitlines()
    # Progress reports in a burst are coalesced by the server: the last one always arrives.
    assert [line for line in lines if line.startswith("INFO")] == [
        f"INFO: step {step} of 4" for step in range(1, 5)
    ]
    assert f"[{'#' * 30}] 100% step 4 of 4" in lines


def test_a_failed_call_exits_1_with_the_error(bench_url: str) -> None:
    done = run("call", bench_url.rstrip("/"), "fail", "message=the lamp is out")
    assert done.returncode == 1
    assert done.stderr.splitlines()[-1].startswith(
        "labthings-async: action 'fail' failed: ValueError: the lamp is out (invocation "
    )
    assert done.stdout == ""


def test_call_explains_an_unknown_action(bench_url: str) -> None:
    done = run("call", bench_url, "explode")
    assert done.returncode == 2
    assert done.stderr == (
        "labthings-async: Thing 'Bench' has no action 'explode'; "
        "its actions are: count, fail, hold\n"
    )


def test_call_explains_bad_arguments(bench_url: str) -> None:
    wrong_type = run("call", bench_url, "count", "n=many")
    assert wrong_type.returncode == 2
    assert wrong_type.stderr == (
        "labthings-async: invalid input for action 'count': Expected `int`, got `str` - at `$.n`\n"
    )
    not_key_value = run("call", bench_url, "count", "4")
    assert not_key_value.returncode == 2
    assert not_key_value.stderr == ("labthings-async: argument '4' is not of the form key=value\n")


def test_an_unreachable_server_is_one_line(bench_url: str) -> None:
    url = closed_port_url()
    for command in (["call", url, "count"], ["describe", url], ["watch", url]):
        done = run(*command)
        assert done.returncode == 3
        assert done.stderr.startswith(f"labthings-async: cannot reach {url}")
        assert done.stderr.count("\n") == 1


def test_describe(bench_url: str) -> None:
    done = run("describe", bench_url)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        "Bench - A test bench.",
        bench_url,
        "",
        "Properties:",
        "  speed: number (>= 0, <= 10) (read/write, observable)",
        "      How fast it moves.",
        "",
        "Actions:",
        "  count(n: integer = 3) -> integer",
        "      Count to n, reporting each step.",
        '  fail(message: string = "kaboom") -> null',
        "      Always fails.",
        "  hold(seconds: number = 60.0) -> string",
        "      Hold still until the time is up or the invocation is cancelled.",
    ]


def test_describe_json(bench_url: str) -> None:
    done = run("describe", bench_url, "--json")
    assert done.returncode == 0, done.stderr
    description = json.loads(done.stdout)
    assert description["title"] == "Bench"
    assert set(description["actions"]) == {"count", "fail", "hold"}


def test_help_everywhere() -> None:
    for command in ("call", "watch", "describe"):
        done = run(command, "--help")
        assert done.returncode == 0
        assert done.stdout.startswith(f"usage: labthings-async {command}")
        assert "URL" in done.stdout


def test_watch_shows_invocations_as_they_happen(bench_url: str) -> None:
    watcher = start("watch", bench_url)
    try:
        read_until(watcher.stderr, "watching invocations")
        reply = httpx2.post(f"{bench_url}count", json={"n": 2}, timeout=DEADLINE)
        invocation = reply.json()["id"]
        shown = read_until(watcher.stdout, f"completed  /bench/count  {invocation}")
        statuses = [line.split()[1] for line in shown.splitlines() if invocation in line]
        assert statuses == ["pending", "running", "completed"]
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(DEADLINE) == 0
    finally:
        watcher.kill()
        watcher.communicate()


def test_ctrl_c_cancels_the_invocation_on_the_server(bench_url: str) -> None:
    caller = start("call", bench_url, "hold")
    try:
        read_until(caller.stderr, "INFO: holding")
        caller.send_signal(signal.SIGINT)
        out, err = caller.communicate(timeout=DEADLINE)
    finally:
        caller.kill()
    assert caller.returncode == 130
    assert out == b""
    last = err.decode().splitlines()[-1]
    assert last.startswith("labthings-async: cancelled invocation ")
    assert last.endswith(" of 'hold' on the server")
    invocation = last.split()[3]
    root = bench_url.removesuffix("bench/")
    reply = httpx2.get(f"{root}action_invocations/{invocation}", timeout=DEADLINE)
    assert reply.json()["status"] == "cancelled"
