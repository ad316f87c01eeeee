"""What every topic module shares: its command line, settings and record.

A topic is one module with an ``async def measure(settings, result)``; run as
``python -m benchmarks.<topic> [--quick] [--json PATH]`` it pins itself as
the load generator, measures, prints its tables and writes its JSON record,
which is how the runner (``python -m benchmarks``) collects it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import signal
import sys
from collections.abc import Callable, Coroutine, Sequence
from dataclasses import dataclass
from types import FrameType
from typing import Any, TypeVar

from .affinity import CPUPlan, plan
from .results import Ratio, Series, Target, TopicResult
from .servers import labthings_missing
from .table import ratio_table, series_table

__all__ = ("Settings", "paired_ratio", "run_topic")

T = TypeVar("T")
Measure = Callable[["Settings", TopicResult], Coroutine[Any, Any, None]]


@dataclass(frozen=True)
class Settings:
    """How big a run is and where things run.

    Attributes:
        quick: A smoke-sized run.
        repeats: How many times each figure is measured.
        cpus: The CPU plan.
        labthings_missing: Why LabThings-FastAPI is not measured, or None.
    """

    quick: bool
    repeats: int
    cpus: CPUPlan
    labthings_missing: str | None

    def size(self, full: T, quick: T) -> T:
        """``full`` for a full run, ``quick`` for a smoke run."""
        return quick if self.quick else full

    @property
    def labthings(self) -> bool:
        """Whether LabThings-FastAPI is measured."""
        return self.labthings_missing is None


def paired_ratio(
    name: str,
    numerator: Series | None,
    denominator: Series | None,
    target: Target | None = None,
    note: str = "",
) -> Ratio:
    """Ratio of two series, repeat by repeat (both measured in the same run)."""
    if numerator is None or denominator is None:
        return Ratio(name, [], target, note or "not measured")
    samples = [
        a / b if b and math.isfinite(a) and math.isfinite(b) else math.nan
        for a, b in zip(numerator.samples, denominator.samples, strict=False)
    ]
    return Ratio(name, samples, target, note)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise SystemExit(128 + signum)  # So every `finally` (and server stop) runs.


def run_topic(name: str, measure: Measure, argv: Sequence[str] | None = None) -> int:
    """Run one topic from the command line; returns the exit status."""
    parser = argparse.ArgumentParser(prog=f"python -m benchmarks.{name}")
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run")
    parser.add_argument("--json", metavar="PATH", help="write the results as JSON")
    parser.add_argument("--repeats", type=int, help="repeats per figure (default 3, quick 2)")
    parser.add_argument("--no-pin", action="store_true", help="do not pin CPUs")
    parser.add_argument("--ours-only", action="store_true", help="skip LabThings-FastAPI")
    args = parser.parse_args(argv)
    signal.signal(signal.SIGTERM, _terminate)
    settings = Settings(
        quick=args.quick,
        repeats=args.repeats or (2 if args.quick else 3),
        cpus=plan(not args.no_pin),
        labthings_missing=(
            "LabThings-FastAPI skipped (--ours-only)" if args.ours_only else labthings_missing()
        ),
    )
    settings.cpus.pin_client()
    result = TopicResult(name, parameters={"quick": settings.quick, "repeats": settings.repeats})
    if settings.labthings_missing:
        result.notes.append(settings.labthings_missing)
    try:
        asyncio.run(measure(settings, result))
    finally:
        if args.json:
            with open(args.json, "w") as file:
                json.dump(result.to_json(), file, indent=1)
    print(series_table(result.series))
    if result.ratios:
        print()
        print(ratio_table(result.ratios))
    for note in result.notes:
        print(f"note: {note}")
    sys.stdout.flush()
    return 0
