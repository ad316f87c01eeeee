"""Settings under ``kill -9``: a process saving settings in a loop, killed again and again.

Run: ``python -m benchmarks.settings_kill [--cycles N] [--writer ours|naive] [--json PATH]``.

Each cycle forks a writer from this process (which has imported the package
once, so a cycle costs milliseconds, not an interpreter start). The writer
is a Thing with 100 settings served by the real settings store: it loads
the file the last writer left, then assigns one setting after another
(``s{n % 100} = n``), each assignment saving the whole file, and after each
one reports ``n`` down a pipe. This process kills it with SIGKILL at a
random moment, then reads the file as plain JSON and checks it:

- *broken*: it is not JSON, or not every setting is in it;
- *lost*: it lacks a value the writer reported saved;
- *mixed*: its values are not all from one save (a torn write);
- *mid-write*: the kill left a temporary file behind, so it landed inside a
  write (these are the cycles that test atomicity).

``--writer naive`` writes as LabThings-FastAPI 0.3.0 does (``open(path, "w")``
then ``write``), for comparison: its files break when the kill lands between
the truncation and the write.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import random
import signal
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import labthings_async as lt
from labthings_async.settings_store import SettingsStore, encode_settings, settings_path

__all__ = ("COUNT", "KillReport", "make_rig", "run_cycles")

COUNT = 100
"""Settings of the Thing that is saved."""


def make_rig() -> lt.Thing:
    """A Thing with ``COUNT`` integer settings, ``s0`` to ``s99``, all 0 by default."""
    namespace: dict[str, Any] = {"__annotations__": {}}
    for index in range(COUNT):
        namespace["__annotations__"][f"s{index}"] = int
        namespace[f"s{index}"] = lt.setting(default=0)
    rig: lt.Thing = type("Rig", (lt.Thing,), namespace)()
    rig.name = "rig"
    return rig


def expected(last: int) -> dict[str, int]:
    """What every setting holds once the writer has saved ``1..last`` (0: never set)."""
    values = {f"s{index}": 0 for index in range(COUNT)}
    for number in range(max(0, last - COUNT + 1), last + 1):
        if number:
            values[f"s{number % COUNT}"] = number
    return values


def _write_loop(folder: Path, writer: str, report: int) -> None:
    """The child: load what the last one left, then save ``n = last + 1, + 2, ...`` until killed."""
    logging.getLogger("labthings_async").setLevel(logging.ERROR)  # "No file yet", and such.
    rig = make_rig()
    path = settings_path(folder, rig.name, "Rig")
    store = SettingsStore(rig, path)
    store.load()
    rig._settings_store = store if writer == "ours" else None
    path.parent.mkdir(parents=True, exist_ok=True)  # LabThings makes it when the server starts.
    number = max(getattr(rig, f"s{index}") for index in range(COUNT))
    while True:
        number += 1
        setattr(rig, f"s{number % COUNT}", number)
        if writer == "naive":
            # LabThings-FastAPI 0.3.0's Thing.save_settings: truncate, then write.
            data = encode_settings({f"s{i}": getattr(rig, f"s{i}") for i in range(COUNT)})
            with open(path, "w", encoding="utf-8") as file:
                file.write(data.decode())
        os.write(report, f"{number}\n".encode())


@dataclass
class KillReport:
    """What the kills did to the file."""

    writer: str
    cycles: int = 0
    saves: int = 0
    mid_write: int = 0
    broken: int = 0
    lost: int = 0
    mixed: int = 0
    set_aside: int = 0
    seconds: float = 0.0


def _acknowledged(read_end: int, data: bytes) -> int:
    """The last number a writer reported saved before it died (0 if none)."""
    while chunk := os.read(read_end, 65536):
        data += chunk
    lines = [line for line in data.split(b"\n") if line]
    return int(lines[-1]) if lines else 0


def _check(path: Path, acknowledged: int, report: KillReport) -> int:
    """Count what is wrong with the file after a kill; returns the last number it holds."""
    try:
        values = json.loads(path.read_text(encoding="utf-8"))
        numbers = [values[f"s{index}"] for index in range(COUNT)]
    except (OSError, ValueError, KeyError, TypeError):
        report.broken += 1
        # The next writer starts afresh, as ours would after its warning.
        path.unlink(missing_ok=True)
        return 0
    last = max(numbers)
    if last < acknowledged:
        report.lost += 1
    if values != expected(last):
        report.mixed += 1
    return last


def run_cycles(cycles: int, writer: str, folder: Path, *, longest_kill: float = 0.02) -> KillReport:
    """Fork and kill ``cycles`` writers; returns what happened to the file.

    Args:
        cycles: How many writers to kill.
        writer: ``ours`` (the settings store) or ``naive`` (LabThings' way).
        folder: The settings folder (a real file system: fsync must mean something).
        longest_kill: The longest wait, after the writer's first save, before the kill.
    """
    report = KillReport(writer)
    path = settings_path(folder, "rig", "Rig")
    began = time.monotonic()
    last = 0
    for _ in range(cycles):
        read_end, write_end = os.pipe()
        pid = os.fork()
        if pid == 0:  # The writer.
            os.close(read_end)
            try:
                _write_loop(folder, writer, write_end)
            finally:
                os._exit(1)
        os.close(write_end)
        # Wait for its first save (it is in its loop then), then kill it at a random moment.
        first = os.read(read_end, 1)
        if not first:
            os.waitpid(pid, 0)
            raise RuntimeError("a writer died before it saved anything (its error is above)")
        time.sleep(random.uniform(0, longest_kill))
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        acknowledged = _acknowledged(read_end, first)
        os.close(read_end)
        report.cycles += 1
        report.mid_write += any(path.parent.glob(f".{path.name}.*.tmp"))
        report.saves += max(0, acknowledged - last)
        last = _check(path, acknowledged, report)
    report.set_aside = len(list(path.parent.glob(f"{path.name}.invalid-*")))
    report.seconds = time.monotonic() - began
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the cycles and print (or write) the report."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.settings_kill")
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--writer", choices=("ours", "naive"), default="ours")
    parser.add_argument("--folder", help="the settings folder (default: a new temporary one)")
    parser.add_argument("--json", metavar="PATH", help="write the report as JSON")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(dir=args.folder) as folder:
        report = run_cycles(args.cycles, args.writer, Path(folder))
    text = json.dumps(asdict(report))
    if args.json:
        Path(args.json).write_text(text)
    print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
