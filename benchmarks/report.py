"""Markdown tables from a suite's JSON record, for pasting into benchmarks/README.md.

Run: ``python -m benchmarks.report RESULTS.json``.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from typing import Any

from .environment import summary_line
from .results import Ratio, Series
from .table import ratio_table, series_table

__all__ = ("markdown", "report_main")


def markdown(record: dict[str, Any]) -> str:
    """The machine, the headline ratios and every series, as markdown."""
    environment = record["environment"]
    versions = ", ".join(f"{name} {version}" for name, version in environment["versions"].items())
    series = [
        Series.from_json(item)
        for topic in record["topics"]
        if topic["result"]
        for item in topic["result"]["series"]
    ]
    ratios = [Ratio.from_json(item) for item in record["ratios"]]
    commit = environment["commit"]
    lines = [
        f"Taken {environment['taken']} on {summary_line(environment)}; "
        f"{environment['pinning']}; {f'commit {commit}; ' if commit != 'unknown' else ''}"
        f"{'quick' if record['quick'] else 'full'} run, {record['seconds'] / 60:.0f} min."
        + (f" {record['label']}" if record.get("label") else ""),
        "",
        f"Versions: {versions}.",
        "",
        ratio_table(ratios, markdown=True),
        "",
        series_table(series, markdown=True),
    ]
    failed = [topic["name"] for topic in record["topics"] if topic["error"]]
    if failed:
        lines += ["", f"Failed topics: {', '.join(failed)}."]
    return "\n".join(lines)


def report_main(argv: Sequence[str] | None = None) -> int:
    """Print the markdown report of a JSON record."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks.report", description=__doc__)
    parser.add_argument("record", help="the JSON written by `python -m benchmarks --json`")
    args = parser.parse_args(argv)
    with open(args.record) as file:
        print(markdown(json.load(file)))
    return 0


if __name__ == "__main__":
    sys.exit(report_main())
