"""Instructions per request, counted by callgrind: a figure the machine's noise leaves alone.

Run: ``python -m benchmarks.instructions [--quick] [--json PATH]`` (needs
``valgrind``; about 5 minutes, not part of the suite).

CPU time on a shared machine moves by tens of percent from run to run;
the number of instructions a server executes for a request barely moves.
Each server runs under ``valgrind --tool=callgrind`` with instrumentation
off while it starts; once it answers, this process sends warm-up requests,
turns instrumentation on (``callgrind_control -i on``), sends a few more,
zeroes the counters (``-z``), sends ``requests`` more on ``clients``
keep-alive connections, and dumps (``-d``). Instructions per request are the
dump's total (every thread of the process) over the requests. Cases: a
threaded and an async noop invoked with ``Prefer: wait``, a property GET,
and the hello-world floor's POST and GET on the same hypercorn. Counts
include the Python interpreter's own work; valgrind runs the threads one at
a time, so wake-ups between threads are counted but not their waiting.
"""

from __future__ import annotations

import asyncio
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from .http_client import Connection
from .results import Series, Target, TopicResult
from .servers import Kind, Server, serve
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "14 instructions"
_WARMUP = 300
_SETTLE = 50
_WAIT = {"Prefer": "wait=30"}


@dataclass(frozen=True)
class Case:
    """One request, repeated, on one server."""

    kind: Kind
    label: str
    method: str
    path: str
    options: tuple[tuple[str, object], ...] = ()
    loop: str = "asyncio"


CASES = (
    Case("floor", "hello-world POST", "POST", "/hello"),
    Case("ours", "noop, Prefer: wait", "POST", "/bench/noop"),
    Case("ours", "async_noop, Prefer: wait", "POST", "/bench/async_noop"),
    Case("ours", "noop, Prefer: wait, uvloop", "POST", "/bench/noop", loop="uvloop"),
    Case("ours", "async_noop, Prefer: wait, uvloop", "POST", "/bench/async_noop", loop="uvloop"),
    Case("floor", "hello-world GET", "GET", "/hello"),
    Case("ours", "property GET", "GET", "/bench/value"),
)


async def _send(server: Server, case: Case, count: int, clients: int) -> None:
    async def client(share: int) -> None:
        async with Connection(server.port) as connection:
            for _ in range(share):
                if case.method == "POST":
                    reply = await connection.request("POST", case.path, b"{}", _WAIT)
                else:
                    reply = await connection.request("GET", case.path)
                if reply.status >= 300:
                    raise RuntimeError(f"{case.method} {case.path} answered {reply.status}")
                unfinished = b'"status":"completed"' not in reply.body
                if case.kind == "ours" and case.method == "POST" and unfinished:
                    raise RuntimeError(f"POST {case.path} came back unfinished")

    shares = [count // clients + (index < count % clients) for index in range(clients)]
    await asyncio.gather(*(client(share) for share in shares if share))


def _control(server: Server, *arguments: str) -> None:
    subprocess.run(
        ["callgrind_control", *arguments, str(server.pid)],
        check=True,
        stdout=subprocess.DEVNULL,
    )


def _total(folder: Path) -> int:
    """The instruction total of the newest dump in ``folder``."""
    dumps = sorted(folder.glob("callgrind.out.*"), key=lambda path: path.stat().st_mtime)
    for line in dumps[-1].read_text().splitlines():
        if line.startswith(("totals:", "summary:")) and int(line.split()[1]):
            return int(line.split()[1])
    raise RuntimeError(f"no instruction total in {dumps[-1]}")


def _wrapper(folder: Path) -> tuple[str, ...]:
    return (
        "valgrind",
        "--tool=callgrind",
        "--instr-atstart=no",
        f"--callgrind-out-file={folder / 'callgrind.out'}",
    )


async def _count(settings: Settings, case: Case, requests: int, clients: int) -> float:
    """Instructions per request of one case, on a fresh server under callgrind."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        folder = Path(tmp)
        with serve(case.kind, settings.cpus, wrapper=_wrapper(folder), loop=case.loop) as server:
            await _send(server, case, _WARMUP, clients)
            _control(server, "-i", "on")
            await _send(server, case, _SETTLE, clients)
            _control(server, "-z")
            await _send(server, case, requests, clients)
            _control(server, "-d")
            await asyncio.sleep(0.5)
            return _total(folder) / requests


class _Follower:
    """One raw ``GET /bench/value/events`` connection, read until a value's event arrives."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.received = b""

    @classmethod
    async def open(cls, port: int) -> _Follower:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        writer.write(b"GET /bench/value/events HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        follower = cls(reader, writer)
        await follower.read_until(b": connected\n\n")
        return follower

    async def read_until(self, marker: bytes) -> None:
        while marker not in self.received:
            data = await self.reader.read(65536)
            if not data:
                raise ConnectionError("the server closed the stream")
            self.received = self.received[-4096:] + data


async def _count_fanout(settings: Settings, subscribers: int, writes: int) -> float:
    """Instructions per notification delivered: ``writes`` PUTs, each to every subscriber."""
    with tempfile.TemporaryDirectory(prefix="bench-callgrind-") as tmp:
        folder = Path(tmp)
        with serve("ours", settings.cpus, wrapper=_wrapper(folder)) as server:
            followers: list[_Follower] = []
            for _ in range(0, subscribers, 50):
                followers += await asyncio.gather(*(_Follower.open(server.port) for _ in range(50)))
            async with Connection(server.port) as http:

                async def write(value: int) -> None:
                    reply = await http.request("PUT", "/bench/value", b"%d" % value)
                    if reply.status != 204:
                        raise RuntimeError(f"PUT /bench/value answered {reply.status}")
                    marker = b"data: %d\n" % value
                    await asyncio.gather(*(follower.read_until(marker) for follower in followers))

                for value in range(5):
                    await write(value)
                _control(server, "-i", "on")
                for value in range(5, 8):
                    await write(value)
                _control(server, "-z")
                for value in range(8, 8 + writes):
                    await write(value)
                _control(server, "-d")
            for follower in followers:
                follower.writer.close()
            await asyncio.sleep(0.5)
            return _total(folder) / (writes * subscribers)


async def measure(settings: Settings, result: TopicResult) -> None:
    """Count every case at 1 and 8 clients, ``settings.repeats`` times."""
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        result.notes.append("valgrind is not installed: nothing measured")
        return
    requests = settings.size(1000, 100)
    subscribers, writes = settings.size((200, 20), (50, 5))
    result.parameters.update(requests=requests, subscribers=subscribers, writes=writes)
    fanout = f"property change to {subscribers} SSE subscribers, the PUT included"
    for _ in range(settings.repeats):
        series = result.find(fanout, "ours", "instructions/delivery") or result.add(
            Series(WORKLOAD, fanout, "ours", "instructions/delivery", "k")
        )
        series.samples.append(await _count_fanout(settings, subscribers, writes) / 1000)
        print(f"{fanout}: {series.samples[-1]:,.1f} k instructions", flush=True)
        for clients in (1, 8):
            for case in CASES:
                label = f"{case.label}, {clients} client{'s' * (clients > 1)}"
                series = result.find(label, case.kind, "instructions/request") or result.add(
                    Series(WORKLOAD, label, case.kind, "instructions/request", "k")
                )
                series.samples.append(await _count(settings, case, requests, clients) / 1000)
                print(f"{label}: {series.samples[-1]:,.0f} k instructions", flush=True)
    for clients in (1, 8):
        suffix = f"{clients} client{'s' * (clients > 1)}"

        def find(label: str, kind: str, suffix: str = suffix) -> Series | None:
            return result.find(f"{label}, {suffix}", kind, "instructions/request")

        floor_post = find("hello-world POST", "floor")
        result.ratios += [
            paired_ratio(
                f"instructions per noop at {clients}: ours (Prefer: wait) / hello-world POST",
                find("noop, Prefer: wait", "ours"),
                floor_post,
                Target("<=", 2.0),
            ),
            paired_ratio(
                f"instructions per async noop at {clients}: ours (Prefer: wait) / hello-world POST",
                find("async_noop, Prefer: wait", "ours"),
                floor_post,
                Target("<=", 1.5),
            ),
            *(
                paired_ratio(
                    f"instructions per {label} at {clients}: uvloop / asyncio",
                    find(f"{label}, Prefer: wait, uvloop", "ours"),
                    find(f"{label}, Prefer: wait", "ours"),
                )
                for label in ("noop", "async_noop")
            ),
            paired_ratio(
                f"instructions per property GET at {clients}: ours / hello-world GET",
                find("property GET", "ours"),
                find("hello-world GET", "floor"),
            ),
        ]
    result.notes.append(
        "callgrind instruction counts of the whole server process per request, after a "
        "warm-up, counters zeroed; the same requests as the throughput topic"
    )


if __name__ == "__main__":
    sys.exit(run_topic("instructions", measure))
