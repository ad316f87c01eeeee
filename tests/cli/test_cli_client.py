"""``labthings-async call``, ``watch`` and ``describe``, run as a user runs them.

Both the command and the server are processes of their own; the server
listens on a socket the test binds, so its port is known before it starts.
"""

from __future__ import annotations

import contextlib
import json
import os
import pty
import select
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from importlib.metadata import version
from pathlib import Path
from typing import IO

import httpx2
import pytest
from script_server import serve_script

COMMAND = str(Path(sys.executable).with_name("labthings-async"))
SERVER = Path(__file__).parents[1] / "bench_server.py"
DEADLINE = 45.0
"""Seconds a command may take: it starts a Python process, on a machine that may be shared."""

# Each test starts processes and waits on them: more than the default per-test limit
# when the machine is busy.
pytestmark = pytest.mark.timeout(4 * DEADLINE)


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
        "its actions are: count, fail, hold, stubborn\n"
    )
    near_miss = run("call", bench_url, "cuont")
    assert near_miss.returncode == 2
    assert near_miss.stderr.startswith(
        "labthings-async: Thing 'Bench' has no action 'cuont' (did you mean 'count'?); "
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
        '  lamp: "bright" | "dim" | "off" (read/write, observable)',
        "      The lamp.",
        "",
        "Actions:",
        "  count(n: integer = 3) -> integer",
        "      Count to n, reporting each step.",
        '  fail(message: string = "kaboom") -> null',
        "      Always fails.",
        "  hold(seconds: number = 60.0) -> string",
        "      Hold still until the time is up or the invocation is cancelled.",
        "  stubborn() -> string",
        "      Take no notice of a cancel: finish as soon as one comes.",
    ]


def test_describe_json(bench_url: str) -> None:
    done = run("describe", bench_url, "--json")
    assert done.returncode == 0, done.stderr
    description = json.loads(done.stdout)
    assert description["title"] == "Bench"
    assert set(description["actions"]) == {"count", "fail", "hold", "stubborn"}


def test_help_everywhere() -> None:
    for command in ("call", "get", "set", "watch", "describe"):
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


def invocation_status(bench_url: str, invocation: str) -> str:
    root = bench_url.removesuffix("bench/")
    reply = httpx2.get(f"{root}action_invocations/{invocation}", timeout=DEADLINE)
    status: str = reply.json()["status"]
    return status


@pytest.mark.parametrize(("signum", "status"), [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_ctrl_c_or_sigterm_cancels_the_invocation_on_the_server(
    bench_url: str, signum: signal.Signals, status: int
) -> None:
    caller = start("call", bench_url, "hold")
    try:
        read_until(caller.stderr, "INFO: holding")
        caller.send_signal(signum)
        out, err = caller.communicate(timeout=DEADLINE)
    finally:
        caller.kill()
    assert caller.returncode == status
    assert out == b""
    last = err.decode().splitlines()[-1]
    assert last.startswith("labthings-async: cancelled invocation ")
    assert last.endswith(" of 'hold' on the server")
    assert invocation_status(bench_url, last.split()[3]) == "cancelled"


def test_version() -> None:
    done = run("--version")
    assert done.returncode == 0
    assert done.stdout == f"labthings-async {version('labthings-async')}\n"


def test_get_and_set_properties(bench_url: str) -> None:
    assert run("set", bench_url, "speed", "2.5").returncode == 0
    speed = run("get", bench_url, "speed")
    assert (speed.returncode, json.loads(speed.stdout)) == (0, 2.5)
    # A string property takes the text as written, even text that reads as JSON.
    assert run("set", bench_url, "lamp", "dim").returncode == 0
    every = run("get", bench_url)
    assert json.loads(every.stdout) == {"speed": 2.5, "lamp": "dim"}


def test_set_explains_an_invalid_value_naming_what_is_allowed(bench_url: str) -> None:
    too_fast = run("set", bench_url, "speed", "11")
    assert (too_fast.returncode, too_fast.stderr) == (
        2,
        "labthings-async: invalid input for property 'speed': Expected `float` <= 10.0\n",
    )
    no_such_setting = run("set", bench_url, "lamp", "blinding")
    assert (no_such_setting.returncode, no_such_setting.stderr) == (
        2,
        "labthings-async: invalid input for property 'lamp': "
        "Invalid enum value 'blinding' (expected one of 'bright', 'dim', 'off')\n",
    )
    unknown = run("get", bench_url, "sped")
    assert unknown.returncode == 2
    assert unknown.stderr.startswith(
        "labthings-async: Thing 'Bench' has no property 'sped' (did you mean 'speed'?); "
    )


def test_call_of_a_property_says_to_use_get_or_set(bench_url: str) -> None:
    done = run("call", bench_url, "speed")
    assert (done.returncode, done.stderr) == (
        2,
        f"labthings-async: 'speed' is a property, not an action: read it with "
        f"`labthings-async get {bench_url} speed`, set it with "
        f"`labthings-async set {bench_url} speed VALUE`\n",
    )


def test_describe_of_a_server_lists_its_things(bench_url: str) -> None:
    root = bench_url.removesuffix("bench/")
    done = run("describe", root)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [
        f"The server at {root} serves 1 Thing:",
        "",
        "bench: Bench - A test bench.",
        f"  {bench_url}",
        "  properties: speed, lamp",
        "  actions: count, fail, hold, stubborn",
        "",
        "Describe a Thing's URL for its properties' and actions' details.",
    ]
    as_json = run("describe", root, "--json")
    assert json.loads(as_json.stdout)["bench"]["title"] == "Bench"


def test_describe_of_something_else_says_what_to_give(bench_url: str) -> None:
    elsewhere = bench_url.replace("/bench/", "/nothing/here/")
    done = run("describe", elsewhere)
    assert done.returncode == 2
    assert done.stderr == (
        f"labthings-async: {elsewhere} is neither a Thing (no Thing Description) nor a "
        "server (no things/ index); give a Thing's URL, such as "
        "http://host:5000/my_thing/, or a server's, such as http://host:5000/\n"
    )


def test_a_url_without_a_scheme_is_taken_as_http(bench_url: str) -> None:
    done = run("describe", bench_url.removeprefix("http://"))
    assert done.returncode == 0, done.stderr
    assert done.stdout == run("describe", bench_url).stdout
    other = run("get", bench_url.replace("http://", "ftp://"), "speed")
    assert other.returncode == 2
    assert other.stderr.splitlines()[-1] == (
        "labthings-async get: error: argument URL: "
        f"'{bench_url.replace('http://', 'ftp://')}' is not an http:// or https:// URL"
    )


def test_a_closed_pipe_ends_quietly(bench_url: str) -> None:
    # The reader has gone before anything is written, as `| head -1` is gone
    # once it has its line.
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run(
            [COMMAND, "describe", bench_url],
            stdout=write_end,
            stderr=subprocess.PIPE,
            timeout=DEADLINE,
            check=False,
        )
    finally:
        os.close(write_end)
    assert done.returncode == 1
    assert done.stderr == b""


def test_watch_of_a_server_root(bench_url: str) -> None:
    root = bench_url.removesuffix("bench/")
    watcher = start("watch", root)
    try:
        read_until(watcher.stderr, "watching invocations")
        reply = httpx2.post(f"{bench_url}count", json={"n": 1}, timeout=DEADLINE)
        invocation = reply.json()["id"]
        read_until(watcher.stdout, f"completed  /bench/count  {invocation}")
        watcher.send_signal(signal.SIGINT)
        assert watcher.wait(DEADLINE) == 0
    finally:
        watcher.kill()
        watcher.communicate()
    refused = run("watch", root, "--only-this-thing")
    assert (refused.returncode, refused.stderr) == (
        2,
        f"labthings-async: --only-this-thing needs a Thing's URL; {root} is a server's\n",
    )


# -- on a terminal --------------------------------------------------------------------------


class Terminal:
    """The command run on a pseudo-terminal, as a user runs it: Ctrl-C is the terminal's."""

    def __init__(self, *args: str) -> None:
        self.pid, self.fd = pty.fork()
        if self.pid == 0:  # The child: the terminal is its controlling terminal.
            try:
                os.execv(COMMAND, [COMMAND, *args])
            finally:
                os._exit(127)
        self.screen = b""

    def read_until(self, needle: str, timeout: float = DEADLINE) -> str:
        """Read what the terminal shows until ``needle`` appears; all it has shown."""
        deadline = time.monotonic() + timeout
        while needle.encode() not in self.screen:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AssertionError(f"waited {timeout} s for {needle!r}; got {self.screen!r}")
            if not self._read(remaining):
                raise AssertionError(f"the terminal closed without {needle!r}: {self.screen!r}")
        return self.screen.decode()

    def type(self, keys: bytes) -> None:
        os.write(self.fd, keys)

    def wait(self) -> tuple[int, str]:
        """The exit status, and everything the terminal showed."""
        while self._read(DEADLINE):
            pass
        _, status = os.waitpid(self.pid, 0)
        return os.waitstatus_to_exitcode(status), self.screen.decode()

    def close(self) -> None:
        with contextlib.suppress(ProcessLookupError, ChildProcessError):
            os.kill(self.pid, signal.SIGKILL)
            os.waitpid(self.pid, 0)
        os.close(self.fd)

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.fd], [], [], timeout)
        if not ready:
            return False
        try:
            chunk = os.read(self.fd, 65536)
        except OSError:  # EIO: the child has closed the terminal.
            return False
        self.screen += chunk
        return bool(chunk)


@contextlib.contextmanager
def terminal(*args: str) -> Iterator[Terminal]:
    session = Terminal(*args)
    try:
        yield session
    finally:
        session.close()


def test_call_on_a_terminal_draws_a_progress_bar_in_place(bench_url: str) -> None:
    with terminal("call", bench_url, "count", "n=3") as screen:
        status, shown = screen.wait()
    assert status == 0, shown
    # Redrawn in place (carriage return, erase line); the log lines above it.
    assert f"\r\x1b[2K[{'#' * 30}] 100% step 3 of 3" in shown
    assert "INFO: step 3 of 3\r\n" in shown
    assert shown.rstrip().endswith("3")


def test_ctrl_c_on_a_terminal_cancels_the_invocation(bench_url: str) -> None:
    with terminal("call", bench_url, "hold") as screen:
        screen.read_until("half way")
        screen.type(b"\x03")
        status, shown = screen.wait()
    assert status == 130, shown
    *_, cancelled, _ = shown.split("\r\n")
    invocation = cancelled.split()[3]
    # The bar is wiped before the command speaks, and not drawn again after it.
    assert (
        f"half way^C\r\x1b[2Klabthings-async: cancelling invocation {invocation} of 'hold'...\r\n"
    ) in shown
    assert shown.endswith(
        f"\nlabthings-async: cancelled invocation {invocation} of 'hold' on the server\r\n"
    )
    assert invocation_status(bench_url, invocation) == "cancelled"


def test_an_action_that_ignores_ctrl_c_is_reported_with_exit_status_4(bench_url: str) -> None:
    with terminal("call", bench_url, "stubborn") as screen:
        screen.read_until("INFO: holding")
        screen.type(b"\x03")
        status, shown = screen.wait()
    assert status == 4, shown
    said = [line for line in shown.splitlines() if "ignored the cancel" in line]
    assert len(said) == 1
    assert said[0].startswith("labthings-async: invocation ")
    assert said[0].endswith(" of 'stubborn' ignored the cancel and completed")
    # It did finish, so its output is printed.
    assert shown.rstrip().endswith('"held anyway"')
    assert invocation_status(bench_url, said[0].split()[2]) == "completed"
