"""Workload 9: saving settings, and what ``kill -9`` during saves does to the file.

Run: ``python -m benchmarks.settings [--quick]``.

A Thing with 100 integer settings (``settings_kill.make_rig``), its store on
a real file system (the temporary folder's). One change is one assignment,
``rig.s7 = n``, which writes every setting, atomically and durably, before it
returns. The baseline, timed the same way in the same run, writes the same
100 values in the same bytes (``json.dump(values, file, indent=4,
sort_keys=True)`` to a temporary file, then ``os.replace``), with no fsync:
the least a save can cost. Between them, the same with an fsync of the file,
to show where the time goes. Wall time and this process's CPU per save.

Then the kill cycles (``settings_kill``, in its own process): a writer
killed with SIGKILL at a random moment 1,000 times (30 with ``--quick``),
the file checked after each; and the same for LabThings-FastAPI 0.3.0's way
of writing (truncate, then write), for comparison.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from labthings_async.settings_store import SettingsStore, settings_path

from .results import Series, TopicResult
from .settings_kill import COUNT, make_rig
from .topic import Settings, paired_ratio, run_topic

__all__ = ("measure",)

WORKLOAD = "9 settings"
SAVE = f"save one change, {COUNT} settings"
BASELINE = "json.dump + os.replace (no fsync)"
SYNCED = "json.dump + fsync + os.replace"
OURS = "assignment (atomic, durable)"


def _add(result: TopicResult, case: str, side: str, metric: str, unit: str, value: float) -> None:
    series = result.find(case, side, metric) or result.add(
        Series(WORKLOAD, case, side, metric, unit)
    )
    series.samples.append(value)


def _timed(save: Callable[[int], None], count: int) -> tuple[float, float]:
    """Wall and CPU seconds per call of ``save(n)``, after a few to warm up."""
    for number in range(5):
        save(number)
    wall, cpu = time.perf_counter(), time.process_time()
    for number in range(count):
        save(number)
    return (time.perf_counter() - wall) / count, (time.process_time() - cpu) / count


def _ours(folder: Path) -> Callable[[int], None]:
    rig = make_rig()
    store = SettingsStore(rig, settings_path(folder, rig.name, "Rig"))
    rig._settings_store = store

    def save(number: int) -> None:
        setattr(rig, f"s{number % COUNT}", number)

    return save


def _plain(folder: Path, *, fsync: bool) -> Callable[[int], None]:
    values = {f"s{index}": 0 for index in range(COUNT)}
    path = folder / "plain.json"
    temporary = folder / "plain.json.tmp"

    def save(number: int) -> None:
        values[f"s{number % COUNT}"] = number
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(values, file, indent=4, sort_keys=True, ensure_ascii=False)
            if fsync:
                file.flush()
                os.fsync(file.fileno())
        os.replace(temporary, path)

    return save


def _kill_cycles(cycles: int, writer: str, folder: Path) -> dict[str, float]:
    report = folder / f"kill-{writer}.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.settings_kill",
            *("--cycles", str(cycles), "--writer", writer),
            *("--folder", str(folder), "--json", str(report)),
        ],
        check=True,
        stdout=subprocess.DEVNULL,
        cwd=Path(__file__).resolve().parent.parent,
    )
    counts: dict[str, float] = json.loads(report.read_text())
    return counts


async def measure(settings: Settings, result: TopicResult) -> None:
    """Time saves ``settings.repeats`` times, then run the kill cycles once per writer."""
    count = settings.size(300, 30)
    with tempfile.TemporaryDirectory(prefix="labthings-settings-") as tmp:
        folder = Path(tmp)
        for _ in range(settings.repeats):
            for side, save in [
                (BASELINE, _plain(folder, fsync=False)),
                (SYNCED, _plain(folder, fsync=True)),
                (OURS, _ours(folder)),
            ]:
                wall, cpu = _timed(save, count)
                _add(result, SAVE, side, "wall/save", "ms", wall * 1000)
                _add(result, SAVE, side, "CPU/save", "µs", cpu * 1e6)
        cycles = settings.size(1000, 30)
        for writer, side in [("ours", OURS), ("naive", "LabThings 0.3.0's way (truncate, write)")]:
            counts = _kill_cycles(cycles, writer, folder)
            case = f"kill -9 during saves, {cycles} cycles"
            for metric in ("broken", "lost", "mixed", "mid_write", "saves"):
                _add(result, case, side, metric, "count", counts[metric])
    result.parameters["folder"] = "a temporary folder (same file system as /tmp)"
    result.ratios += [
        paired_ratio(
            f"save one change with {COUNT} settings, wall: ours / json.dump + os.replace",
            result.find(SAVE, OURS, "wall/save"),
            result.find(SAVE, BASELINE, "wall/save"),
        ),
        paired_ratio(
            f"save one change with {COUNT} settings, wall: ours / the same with fsync",
            result.find(SAVE, OURS, "wall/save"),
            result.find(SAVE, SYNCED, "wall/save"),
        ),
        paired_ratio(
            f"save one change with {COUNT} settings, CPU: ours / json.dump + os.replace",
            result.find(SAVE, OURS, "CPU/save"),
            result.find(SAVE, BASELINE, "CPU/save"),
        ),
    ]


if __name__ == "__main__":
    sys.exit(run_topic("settings", measure))
