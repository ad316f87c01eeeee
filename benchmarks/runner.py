"""The suite's runner: each topic in its own process, then one table, JSON and chart.

Run: ``python -m benchmarks [--quick] [--json PATH] [--only TOPIC,...]``.

Every topic runs as ``python -m benchmarks.<topic>`` in a new session (so the
runner can kill it and everything it started as one group), writes its JSON
record to a temporary file and its output to a log the runner shows only if
the topic fails. A topic that fails or times out is reported and makes the
exit status 1; a figure that misses its target never does: targets are
reported, not enforced.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from .adapters import from_inprocess
from .affinity import plan
from .environment import describe, summary_line
from .results import Ratio, Series, TopicResult
from .servers import labthings_missing
from .table import format_number, ratio_table, series_table

__all__ = ("TOPICS", "main")

RESULTS_DIR = Path(__file__).resolve().parent / "results"


@dataclass(frozen=True)
class Topic:
    """A topic module and how to run it."""

    name: str
    title: str
    common_options: bool = True
    adapt: Callable[[dict[str, Any]], TopicResult] | None = None


TOPICS = (
    Topic("ceiling", "0 load generator ceiling"),
    Topic("latency", "1 invoke→completed latency"),
    Topic("throughput", "2 throughput and server CPU"),
    Topic("burst", "3 slow invocations at once"),
    Topic("retention", "4 retained invocations"),
    Topic("fanout", "5 SSE fan-out (sse_fanout.py) and property notifications"),
    Topic("log_capture", "6 logging"),
    Topic("property_reads", "7 property GET"),
    Topic("inprocess", "8 in-process", common_options=False, adapt=from_inprocess),
    Topic("settings", "9 settings saves and kill -9"),
    Topic("camera_stream", "10 camera stream to 1, 10 and 100 viewers"),
    Topic("blob_download", "11 blob download against FileResponse"),
    Topic("stalled_streams", "12 event-stream clients that stop reading"),
    Topic("sse_subscribers", "13 10,000 event-stream subscribers on one server"),
)


@dataclass
class Outcome:
    """How one topic's run went."""

    topic: Topic
    seconds: float
    result: TopicResult | None
    error: str | None


def _command(topic: Topic, args: argparse.Namespace, json_path: Path) -> list[str]:
    command = [sys.executable, "-m", f"benchmarks.{topic.name}", "--json", str(json_path)]
    if args.quick:
        command.append("--quick")
    if topic.common_options:
        if args.no_pin:
            command.append("--no-pin")
        if args.ours_only:
            command.append("--ours-only")
        if args.repeats:
            command += ["--repeats", str(args.repeats)]
    return command


def _kill_group(process: subprocess.Popen[bytes]) -> None:
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(10)
            return
        except subprocess.TimeoutExpired:
            continue


def _run_topic(topic: Topic, args: argparse.Namespace, workdir: Path) -> Outcome:
    json_path = workdir / f"{topic.name}.json"
    log_path = workdir / f"{topic.name}.log"
    started = time.monotonic()
    timeout = args.timeout or (900.0 if args.quick else 7200.0)
    error = None
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            _command(topic, args, json_path),
            cwd=Path(__file__).resolve().parent.parent,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            status = process.wait(timeout)
            if status != 0:
                error = f"exited with status {status}"
        except subprocess.TimeoutExpired:
            error = f"timed out after {timeout:g} s"
        finally:
            _kill_group(process)  # Whatever it started goes too, even on Ctrl-C.
    seconds = time.monotonic() - started
    result = None
    if json_path.exists() and json_path.stat().st_size:
        try:
            record = json.loads(json_path.read_text())
            result = topic.adapt(record) if topic.adapt else TopicResult.from_json(record)
        except (ValueError, KeyError, TypeError) as problem:
            error = error or f"its JSON record could not be read: {problem}"
    elif error is None:
        error = "it wrote no results"
    if error:
        tail = "\n".join(log_path.read_text(errors="replace").splitlines()[-25:])
        error = f"{error}\n{tail}"
    return Outcome(topic, seconds, result, error)


def _headroom(results: Sequence[TopicResult]) -> Ratio | None:
    """The load generator's ceiling over the fastest server rate measured (medians)."""
    ceiling = None
    fastest = 0.0
    for result in results:
        for series in result.series:
            if series.side == "loadgen" and "raw" in series.case and "64" in series.case:
                ceiling = series.median
            elif series.unit.endswith("/s") and series.side != "loadgen":
                fastest = max(fastest, series.median if math.isfinite(series.median) else 0.0)
    if ceiling is None or not fastest:
        return None
    return Ratio(
        "load generator ceiling (raw client, 64) / fastest server rate measured",
        [ceiling / fastest],
        note="medians from different topics",
    )


def _print_report(
    outcomes: Sequence[Outcome], environment: dict[str, Any], ratios: Sequence[Ratio]
) -> None:
    results = [o.result for o in outcomes if o.result is not None]
    series: list[Series] = [s for r in results for s in r.series]
    print()
    print(f"Machine: {summary_line(environment)}; {environment['pinning']}")
    print(f"Commit: {environment['commit']}")
    print()
    print(series_table(series))
    print()
    print(ratio_table(ratios))
    notes = [f"{r.topic}: {note}" for r in results for note in r.notes]
    if notes:
        print()
        for note in dict.fromkeys(notes):
            print(f"note: {note}")
    print()
    for outcome in outcomes:
        state = "ok" if outcome.error is None else "FAILED"
        print(f"{outcome.topic.name:15s} {outcome.seconds:7.1f} s  {state}")


def _write_json(
    path: str,
    args: argparse.Namespace,
    environment: dict[str, Any],
    outcomes: Sequence[Outcome],
    ratios: Sequence[Ratio],
    seconds: float,
    chart_path: str,
) -> None:
    record = {
        "suite": "labthings_async benchmarks",
        "quick": args.quick,
        "label": args.label,
        "seconds": seconds,
        "environment": environment,
        "chart": chart_path,
        "ratios": [ratio.to_json() for ratio in ratios],
        "topics": [
            {
                "name": o.topic.name,
                "title": o.topic.title,
                "seconds": o.seconds,
                "error": o.error,
                "result": None if o.result is None else o.result.to_json(),
            }
            for o in outcomes
        ],
    }
    with open(path, "w") as file:
        json.dump(record, file, indent=1, allow_nan=True)


def _draw_chart(
    args: argparse.Namespace,
    results: Sequence[TopicResult],
    ratios: Sequence[Ratio],
    environment: dict[str, Any],
) -> str:
    """Save the run's PNG chart under benchmarks/results/; its path, or "" without matplotlib."""
    try:
        from . import chart
    except ImportError:
        print("note: matplotlib is not installed, so no chart: `pip install -e '.[bench]'`")
        return ""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    path = RESULTS_DIR / f"bench-{stamp}{'-quick' if args.quick else ''}.png"
    series = [s for r in results for s in r.series]
    title = f"labthings_async benchmarks, {stamp}: {summary_line(environment)}"
    chart.draw(series, ratios, title, path)
    print(f"chart: {path}")
    return str(path)


def _parse(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks",
        description="labthings_async side by side with LabThings-FastAPI, ratios to the floor.",
    )
    parser.add_argument("--quick", action="store_true", help="smoke-sized run (a minute or two)")
    parser.add_argument("--json", metavar="PATH", help="write every result and the environment")
    parser.add_argument("--only", metavar="TOPICS", help="comma-separated topics to run")
    parser.add_argument("--repeats", type=int, help="repeats per figure (default 3, quick 2)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin server and client CPUs")
    parser.add_argument("--ours-only", action="store_true", help="skip LabThings-FastAPI")
    parser.add_argument("--no-chart", action="store_true", help="skip the PNG chart")
    parser.add_argument("--timeout", type=float, help="seconds per topic before it is killed")
    parser.add_argument("--label", default="", help="a note recorded with the results")
    args = parser.parse_args(argv)
    names = [t.name for t in TOPICS]
    args.topics = [t for t in TOPICS if not args.only or t.name in args.only.split(",")]
    unknown = set(args.only.split(",")) - set(names) if args.only else set()
    if unknown:
        parser.error(f"unknown topics {sorted(unknown)}; choose from {', '.join(names)}")
    return args


def _interrupted(signum: int, frame: FrameType | None) -> None:
    raise KeyboardInterrupt  # Unwind through the `finally` that kills the topic's group.


def main(argv: Sequence[str] | None = None) -> int:
    """Run the suite; returns the exit status (1 only if a topic failed)."""
    args = _parse(argv)
    try:
        return _run(args)
    except KeyboardInterrupt:
        print("\ninterrupted: every process the suite started has been stopped", file=sys.stderr)
        return 130


def _run(args: argparse.Namespace) -> int:
    signal.signal(signal.SIGTERM, _interrupted)
    cpus = plan(not args.no_pin)
    environment = describe(cpus.describe())
    print(f"labthings_async benchmarks ({'quick' if args.quick else 'full'} run)")
    print(f"Machine: {summary_line(environment)}; {cpus.describe()}")
    missing = "LabThings-FastAPI skipped (--ours-only)" if args.ours_only else labthings_missing()
    if missing:
        print(f"note: {missing}; measuring ours only")
    started = time.monotonic()
    outcomes: list[Outcome] = []
    with tempfile.TemporaryDirectory(prefix="labthings-bench-") as tmp:
        for index, topic in enumerate(args.topics, 1):
            print(f"[{index}/{len(args.topics)}] {topic.title} …", end=" ", flush=True)
            outcome = _run_topic(topic, args, Path(tmp))
            outcomes.append(outcome)
            print(f"{outcome.seconds:.1f} s {'ok' if outcome.error is None else 'FAILED'}")
            if outcome.error:
                print(f"  {topic.name} failed: {outcome.error}", file=sys.stderr)
    seconds = time.monotonic() - started
    results = [o.result for o in outcomes if o.result is not None]
    ratios = [ratio for result in results for ratio in result.ratios]
    headroom = _headroom(results)
    if headroom is not None:
        ratios.append(headroom)
    _print_report(outcomes, environment, ratios)
    print(f"total {format_number(seconds)} s")
    chart_path = (
        "" if args.no_chart or not results else _draw_chart(args, results, ratios, environment)
    )
    if args.json:
        _write_json(args.json, args, environment, outcomes, ratios, seconds, chart_path)
        print(f"json: {args.json}")
    return 1 if any(o.error for o in outcomes) else 0
