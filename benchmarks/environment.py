"""The machine and software a run was taken on, recorded with its results.

Absolute figures only mean something next to this: CPU model and count,
Python, the library versions on both sides, the CPU pinning, the commit.
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

__all__ = ("LIBRARIES", "cpu_model", "describe", "summary_line")

LIBRARIES = (
    "labthings-async",
    "starlette",
    "hypercorn",
    "msgspec",
    "anyio",
    "httpx2",
    "labthings-fastapi",
    "fastapi",
    "uvicorn",
    "pydantic",
    "uvloop",
    "h11",
    "httpx",
    "matplotlib",
)


def cpu_model() -> str:
    """The CPU's model name, from /proc/cpuinfo (or the platform's guess)."""
    try:
        with open("/proc/cpuinfo") as file:
            for line in file:
                if line.startswith("model name"):
                    return line.partition(":")[2].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _version(distribution: str) -> str:
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def _git(*args: str) -> str:
    root = Path(__file__).resolve().parent.parent
    return subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=10
    ).stdout.strip()


def _commit() -> str:
    try:
        commit = _git("rev-parse", "--short", "HEAD")
        dirty = _git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return f"{commit}{' (with uncommitted changes)' if dirty else ''}"


def describe(pinning: str) -> dict[str, Any]:
    """Everything about this machine and its software that a reader needs."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    return {
        "taken": datetime.now(UTC).isoformat(timespec="seconds"),
        "python": sys.version.split()[0],
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "usable_cpus": usable,
        "pinning": pinning,
        "commit": _commit(),
        "versions": {name: _version(name) for name in LIBRARIES},
    }


def summary_line(environment: dict[str, Any]) -> str:
    """One line: CPU, cores, Python, platform."""
    return (
        f"{environment['cpu_model']}, {environment['cpu_count']} CPUs, "
        f"Python {environment['python']} ({environment['implementation']}), "
        f"{environment['platform']}"
    )
