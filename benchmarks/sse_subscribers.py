"""Workload 13: 10,000 event-stream subscribers on one server, and everyone else's requests.

Run: ``python -m benchmarks.sse_subscribers [--quick] [--json PATH]``.

On a fresh server (ours) per repeat, started with room for the streams
(``max_streams`` and ``max_connections`` above the count; the server raises
its own open-file limit to the hard one, and so does this process):

1. idle: the server's resident memory, and ``GET /bench/value`` one at a
   time on a keep-alive connection (``GETS`` of them): p50 and p99;
2. ``subscribers`` clients open ``GET /bench/value/events`` (lean readers,
   ``followers.py``, a batch at a time) and stay connected; memory again:
   the rise over idle, per open subscription; then the same GETs with them
   all connected and quiet;
3. ``value`` is written ``WRITES`` times, ``INTERVAL`` s apart, while another
   client keeps sending the same GETs: every write must reach every
   subscriber (delivered over expected), with the latency from sending the
   write to its arrival, and the GET latency during the fan-out.

Ratios, repeat by repeat: GET p99 with the subscribers connected over GET
p99 idle (target at most 5), and delivered over expected (target 1). The
load generator's own CPU over the writes is reported beside them: near 100%,
the delivery latencies are partly its own.
"""

from __future__ import annotations

import asyncio
import resource
import sys
import time

import msgspec

from .followers import Follower, SSEFollower, open_followers
from .http_client import Connection
from .procstat import status
from .results import Ratio, Series, Target, TopicResult
from .servers import Server, serve
from .stats import percentile
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "13 SSE subscribers"
STREAM = "/bench/value/events"
VALUE = "/bench/value"
GETS = 500
WRITES = 10
INTERVAL = 0.5
SPARE = 200
"""Connections beyond the subscribers: the measuring clients, and a margin."""

_SETTLE = 60.0  # Seconds the last write may take to reach every subscriber.
_QUIET = 0.5


def raise_open_file_limit(needed: int) -> None:
    """Raise this process's open-file soft limit to the hard one.

    Raises:
        RuntimeError: The hard limit is below ``needed`` (raise it: see the README).
    """
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and hard < needed:
        raise RuntimeError(
            f"the open-file hard limit is {hard}; {needed:,} are needed "
            "(raise it: `ulimit -n`, or LimitNOFILE= for a systemd service)"
        )
    if soft != resource.RLIM_INFINITY and soft < needed:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


async def _get_latencies(http: Connection, count: int) -> list[float]:
    times = []
    for _ in range(count):
        started = time.perf_counter()
        reply = await http.request("GET", VALUE)
        times.append(time.perf_counter() - started)
        if reply.status != 200:
            raise RuntimeError(f"GET {VALUE} answered {reply.status}")
    return times


async def _gets_until(http: Connection, done: asyncio.Event) -> list[float]:
    times = []
    while not done.is_set():
        times += await _get_latencies(http, 1)
    return times


async def _until_quiet(members: list[Follower]) -> None:
    """Wait until nothing more has arrived for ``_QUIET`` s (at most ``_SETTLE`` s)."""
    deadline = time.monotonic() + _SETTLE
    count = -1
    while time.monotonic() < deadline:
        now = sum(len(member.chunks) for member in members)
        if now == count:
            return
        count = now
        await asyncio.sleep(_QUIET)


class _Run:
    """The figures of one repeat."""

    def __init__(self) -> None:
        self.figures: dict[tuple[str, str, str], float] = {}

    def add(self, case: str, metric: str, unit: str, value: float) -> None:
        self.figures[(case, metric, unit)] = value


async def _one_repeat(server: Server, subscribers: int, writes: int) -> _Run:
    run = _Run()
    pid = server.process.pid
    host = f"127.0.0.1:{server.port}"
    # A fresh connection for each step: hypercorn closes a keep-alive
    # connection left idle for 5 s, as opening the subscribers takes longer.
    async with Connection(server.port) as http:
        await _get_latencies(http, 50)  # Warm-up.
        idle_rss = status(pid).rss
        idle = await _get_latencies(http, GETS)
    run.add("GET /bench/value, no subscribers", "p50", "ms", percentile(idle, 50) * 1e3)
    run.add("GET /bench/value, no subscribers", "p99", "ms", percentile(idle, 99) * 1e3)

    opened = time.perf_counter()
    members = await open_followers(
        server.port, subscribers, lambda: SSEFollower(host, STREAM), batch=100
    )
    try:
        connected = f"{subscribers:,} subscribers connected"
        run.add(connected, "time to open them all", "s", time.perf_counter() - opened)
        await asyncio.sleep(1.0)  # Let the server settle before its memory is read.
        rise = status(pid).rss - idle_rss
        run.add(connected, "RSS per open subscription", "KiB", rise / subscribers / 1024)
        async with Connection(server.port) as http:
            await _get_latencies(http, 50)  # Warm-up of this connection.
            quiet = await _get_latencies(http, GETS)
        case = f"GET /bench/value, {connected}"
        run.add(case, "p50", "ms", percentile(quiet, 50) * 1e3)
        run.add(case, "p99", "ms", percentile(quiet, 99) * 1e3)
        for member in members:
            member.forget()

        sent: dict[int, float] = {}
        done = asyncio.Event()
        async with Connection(server.port) as http, Connection(server.port) as other:
            during = asyncio.create_task(_gets_until(other, done))
            client_before = time.process_time()
            started = time.perf_counter()
            for value in range(writes):
                sent[value] = time.perf_counter()
                reply = await http.request("PUT", VALUE, msgspec.json.encode(value))
                if reply.status >= 300:
                    raise RuntimeError(f"PUT {VALUE} answered {reply.status}")
                await asyncio.sleep(INTERVAL)
            await _until_quiet(members)
            done.set()
            busy = await during
            wall = time.perf_counter() - started
            client_cpu = time.process_time() - client_before
    finally:
        for member in members:
            member.close()

    delivered = 0
    latencies: list[float] = []
    for member in members:
        arrivals: dict[object, float] = {}
        for stamp, value in member.notifications():
            arrivals.setdefault(value, stamp)
        got = [value for value in sent if value in arrivals]
        delivered += len(got)
        latencies += [arrivals[value] - sent[value] for value in got]
    fanout = f"{subscribers:,} subscribers x {writes} writes, {INTERVAL:g} s apart"
    run.add(fanout, "delivered / expected", "%", 100 * delivered / (subscribers * writes))
    run.add(fanout, "delivery p50", "ms", percentile(latencies, 50) * 1e3)
    run.add(fanout, "delivery p99", "ms", percentile(latencies, 99) * 1e3)
    run.add(fanout, "load generator busy", "%", 100 * client_cpu / wall)
    case = f"GET /bench/value, during the {writes} writes to {subscribers:,} subscribers"
    run.add(case, "p50", "ms", percentile(busy, 50) * 1e3)
    run.add(case, "p99", "ms", percentile(busy, 99) * 1e3)
    return run


async def measure(settings: Settings, result: TopicResult) -> None:
    """Open the subscribers on a fresh server per repeat; memory, delivery, others' latency."""
    subscribers = settings.size(10_000, 1_000)
    writes = settings.size(WRITES, 4)
    raise_open_file_limit(subscribers + SPARE + 100)
    options = {"max_streams": subscribers + SPARE, "max_connections": subscribers + SPARE}
    for _ in range(settings.repeats):
        with serve("ours", settings.cpus, options=options) as server:
            run = await _one_repeat(server, subscribers, writes)
        for (case, metric, unit), value in run.figures.items():
            series = result.find(case, "ours", metric) or result.add(
                Series(WORKLOAD, case, "ours", metric, unit)
            )
            series.samples.append(value)
    result.notes.append(
        f"{subscribers:,} subscribers on GET {STREAM}, server options {options}; the load "
        "generator and the server each raise their open-file soft limit to the hard one"
    )
    idle = result.find("GET /bench/value, no subscribers", "ours", "p99")
    connected = f"{subscribers:,} subscribers connected"
    fanout = f"{subscribers:,} subscribers x {writes} writes, {INTERVAL:g} s apart"
    delivered = result.find(fanout, "ours", "delivered / expected")
    result.ratios += [
        paired_ratio(
            f"property GET p99, {connected} / no subscribers",
            result.find(f"GET /bench/value, {connected}", "ours", "p99"),
            idle,
            Target("<=", 5.0),
        ),
        paired_ratio(
            f"property GET p99, during the writes to {subscribers:,} subscribers / no subscribers",
            result.find(
                f"GET /bench/value, during the {writes} writes to {subscribers:,} subscribers",
                "ours",
                "p99",
            ),
            idle,
        ),
    ]
    if delivered is not None:
        result.ratios.append(
            Ratio(
                f"{fanout}: delivered / expected",
                [value / 100 for value in delivered.samples],
                Target(">=", 1.0),
            )
        )


if __name__ == "__main__":
    sys.exit(run_topic("sse_subscribers", measure))
