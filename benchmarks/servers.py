"""Starting each server in its own process, the way a user would, and stopping it for sure.

- ours: ``labthings-async serve bench_things:BenchThing --name bench --port N``
  (or ``labthings-async serve CONFIG.json`` when options are set);
- labthings: ``python lt_serve.py CONFIG --port N`` (LabThings-FastAPI's own
  server and config on uvicorn, as ``labthings-server`` starts it);
- floor: a hello-world Starlette route on hypercorn (``floor_app.py``);
- null: a do-nothing HTTP server (``null_server.py``), for the load generator.

Every server runs in a new session (its own process group), dies with the
process that started it (``PR_SET_PDEATHSIG``), and is stopped by
``serve``'s ``finally``: SIGTERM to the group, then SIGKILL.
"""

from __future__ import annotations

import ctypes
import http.client
import importlib.util
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from . import procstat
from .affinity import CPUPlan

__all__ = ("Kind", "Server", "ServerStartError", "labthings_missing", "serve")

Kind = Literal["ours", "labthings", "floor", "null"]

BENCH_DIR = Path(__file__).resolve().parent
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform == "linux" else None
_START_TIMEOUT = 60.0
_STOP_TIMEOUT = 5.0


class ServerStartError(RuntimeError):
    """A server process exited or never answered while starting."""


@dataclass
class Server:
    """A running server process.

    Attributes:
        kind: Which server it is.
        process: The process.
        port: Its loopback port.
        log_path: Where its stdout and stderr go.
        thing_path: The bench Thing's path (``/bench/``), or the floor's route.
    """

    kind: Kind
    process: subprocess.Popen[bytes]
    port: int
    log_path: Path
    thing_path: str

    @property
    def pid(self) -> int:
        """The server's process ID."""
        return self.process.pid

    @property
    def origin(self) -> str:
        """``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.port}"

    def cpu_seconds(self) -> float:
        """CPU seconds the server has used so far (all threads)."""
        return procstat.cpu_seconds(self.pid)

    def status(self) -> procstat.ProcessStatus:
        """Its threads and memory now."""
        return procstat.status(self.pid)

    def log_tail(self, lines: int = 15) -> str:
        """The last lines it wrote."""
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return ""
        return "\n".join(text.splitlines()[-lines:])


def labthings_missing() -> str | None:
    """Why LabThings-FastAPI cannot be benchmarked here, or None if it can."""
    for module in ("labthings_fastapi", "uvicorn"):
        if importlib.util.find_spec(module) is None:
            return (
                f"LabThings-FastAPI is not installed ({module} is not importable); "
                "`pip install -e '.[bench]'` to compare against it"
            )
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _ours_command(port: int, options: dict[str, Any] | None, workdir: Path, loop: str) -> list[str]:
    script = Path(sys.executable).with_name("labthings-async")
    command = (
        [str(script)] if script.exists() else [sys.executable, "-m", "labthings_async.cli.serve"]
    )
    # Named only when not the default, so the same command serves a tree before --loop.
    where = ["--port", str(port), *(["--loop", loop] if loop != "asyncio" else [])]
    if not options:
        return [*command, "serve", "bench_things:BenchThing", "--name", "bench", *where]
    config = {"things": {"bench": "bench_things:BenchThing"}, "options": options}
    path = workdir / "config.json"
    path.write_text(json.dumps(config))
    return [*command, "serve", str(path), *where]


def _command(
    kind: Kind, port: int, options: dict[str, Any] | None, workdir: Path, loop: str
) -> list[str]:
    if kind == "ours":
        return _ours_command(port, options, workdir, loop)
    if kind == "labthings":
        config = {
            "things": {"bench": "lt_bench_things:LTBenchThing"},
            "settings_folder": str(workdir / "settings"),
        }
        return [sys.executable, "lt_serve.py", json.dumps(config), "--port", str(port)]
    script = {"floor": "floor_app.py", "null": "null_server.py"}[kind]
    return [sys.executable, script, "--port", str(port)]


def _child_setup(cpus: frozenset[int] | None) -> None:
    """Runs in the child before exec: die with the parent; pin the CPU."""
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)
    if cpus is not None:
        os.sched_setaffinity(0, cpus)


def _answers(port: int) -> bool:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        connection.request("GET", "/things/")
        return connection.getresponse().status == 200
    except OSError:
        return False
    finally:
        connection.close()


def _wait_ready(server: Server) -> None:
    deadline = time.monotonic() + _START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise ServerStartError(
                f"{server.kind} server exited with status {server.process.returncode}:\n"
                f"{server.log_tail()}"
            )
        if _answers(server.port):
            return
        time.sleep(0.02)
    raise ServerStartError(
        f"{server.kind} server did not answer within {_START_TIMEOUT:g} s:\n{server.log_tail()}"
    )


def _stop(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM the process group, then SIGKILL it if it lingers."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            break
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            break
        try:
            process.wait(_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            continue
    # The group may hold children that outlived the leader.
    with suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)
    if process.poll() is None:
        process.wait()


@contextmanager
def serve(
    kind: Kind,
    cpus: CPUPlan,
    *,
    options: dict[str, Any] | None = None,
    wrapper: Sequence[str] = (),
    loop: str = "asyncio",
) -> Iterator[Server]:
    """Start a server, wait until it answers, and stop it when done.

    Args:
        kind: Which server.
        cpus: Where to pin it.
        options: ThingServer options for ours (written to a config file).
        wrapper: A command the server runs under (``valgrind --tool=callgrind``).
        loop: Ours: the event loop (``asyncio``, or ``uvloop``).

    Raises:
        ServerStartError: It exited or never answered.
    """
    with tempfile.TemporaryDirectory(prefix=f"bench-{kind}-") as tmp:
        workdir = Path(tmp)
        port = _free_port()
        log_path = workdir / "server.log"
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(log_path, "wb") as log:
            process = subprocess.Popen(
                [*wrapper, *_command(kind, port, options, workdir, loop)],
                cwd=BENCH_DIR,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
                start_new_session=True,
                preexec_fn=lambda: _child_setup(cpus.server),
            )
        try:
            thing_path = "/hello" if kind == "floor" else "/bench/"
            server = Server(kind, process, port, log_path, thing_path)
            _wait_ready(server)
            yield server
        finally:
            _stop(process)
