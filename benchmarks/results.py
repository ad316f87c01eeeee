"""The shape of results: measured series, ratios against targets, and a topic's record.

A ``Series`` is one figure (say, p50 latency of one case on one server) with a
sample per repeat. A ``Ratio`` is a headline figure: one series over a baseline
measured in the same run, also one sample per repeat, and optionally a target.
Topics write a ``TopicResult`` as JSON; the runner reads them back.
"""

from __future__ import annotations

import math
import operator
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

from .stats import spread

__all__ = ("Ratio", "Series", "Target", "TopicResult")

_COMPARE: dict[str, Callable[[float, float], bool]] = {
    "<=": operator.le,
    "<": operator.lt,
    ">=": operator.ge,
    ">": operator.gt,
    "==": operator.eq,
}


@dataclass
class Series:
    """One measured figure, one sample per repeat.

    Attributes:
        workload: The workload it belongs to, e.g. ``"2 throughput"``.
        case: What was measured, e.g. ``"noop, Prefer: wait, 8 clients"``.
        side: ``ours``, ``labthings``, ``floor`` or ``loadgen``.
        metric: What the number is, e.g. ``"p50"`` or ``"invocations/s"``.
        unit: Its unit.
        samples: One value per repeat.
        note: Anything the reader needs to interpret it.
    """

    workload: str
    case: str
    side: str
    metric: str
    unit: str
    samples: list[float] = field(default_factory=list)
    note: str = ""

    @property
    def median(self) -> float:
        """The median of the repeats."""
        return spread(self.samples)[0]

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, with median and spread added."""
        median, low, high = spread(self.samples)
        return {**asdict(self), "median": median, "min": low, "max": high}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Series:
        """Read back what ``to_json`` wrote."""
        return cls(**{key: data[key] for key in cls.__dataclass_fields__ if key in data})


@dataclass
class Target:
    """What a ratio should be: ``op`` and ``bound``, e.g. ``<=`` 0.2."""

    op: str
    bound: float

    def met(self, value: float) -> bool | None:
        """Whether ``value`` meets it (None if the value is unknown)."""
        if not math.isfinite(value):
            return None
        return _COMPARE[self.op](value, self.bound)

    def __str__(self) -> str:
        return f"{self.op} {self.bound:g}"


@dataclass
class Ratio:
    """A headline figure: a series over a baseline from the same run, per repeat.

    Attributes:
        name: What it compares, e.g. ``"server CPU per noop: ours / LabThings"``.
        samples: One ratio per repeat (or per pairing of repeats).
        target: What it should be, if there is a target.
        note: How it was paired or why it is missing.
    """

    name: str
    samples: list[float] = field(default_factory=list)
    target: Target | None = None
    note: str = ""

    @property
    def median(self) -> float:
        """The median ratio."""
        return spread(self.samples)[0]

    def met(self) -> bool | None:
        """Whether the median meets the target (None: no target or no value)."""
        return None if self.target is None else self.target.met(self.median)

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict, with median, spread and verdict added."""
        median, low, high = spread(self.samples)
        return {
            "name": self.name,
            "samples": self.samples,
            "median": median,
            "min": low,
            "max": high,
            "target": None if self.target is None else asdict(self.target),
            "met": self.met(),
            "note": self.note,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Ratio:
        """Read back what ``to_json`` wrote."""
        target = data.get("target")
        return cls(
            name=data["name"],
            samples=list(data.get("samples", [])),
            target=Target(**target) if target else None,
            note=data.get("note", ""),
        )


@dataclass
class TopicResult:
    """Everything one topic measured."""

    topic: str
    series: list[Series] = field(default_factory=list)
    ratios: list[Ratio] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    parameters: dict[str, Any] = field(default_factory=dict)

    def add(self, series: Series) -> Series:
        """Add a series and return it."""
        self.series.append(series)
        return series

    def find(self, case: str, side: str, metric: str) -> Series | None:
        """The series with this case, side and metric, if any."""
        for series in self.series:
            if (series.case, series.side, series.metric) == (case, side, metric):
                return series
        return None

    def to_json(self) -> dict[str, Any]:
        """A JSON-ready dict."""
        return {
            "topic": self.topic,
            "parameters": self.parameters,
            "notes": self.notes,
            "series": [series.to_json() for series in self.series],
            "ratios": [ratio.to_json() for ratio in self.ratios],
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> TopicResult:
        """Read back what ``to_json`` wrote."""
        return cls(
            topic=data["topic"],
            series=[Series.from_json(item) for item in data.get("series", [])],
            ratios=[Ratio.from_json(item) for item in data.get("ratios", [])],
            notes=list(data.get("notes", [])),
            parameters=dict(data.get("parameters", {})),
        )
