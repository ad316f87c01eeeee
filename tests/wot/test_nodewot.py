"""node-wot 0.9.2, the W3C reference consumer, drives our server from the TD alone.

The harness (tests/interop/nodewot/wot_client.mjs) runs one JSON script of
WoT operations and prints a JSON line per step. npm installs node-wot from the
lock file the first time. Without Node the tests skip with the reason, except
under CI, where a missing Node is a failure.
"""

import asyncio
import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import msgspec
import pytest

import labthings_async as lt

HARNESS = Path(__file__).parents[1] / "interop" / "nodewot"


@pytest.fixture(scope="session")
def node_wot() -> Path:
    """The harness directory with node-wot installed (npm ci on first use)."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        if os.environ.get("CI"):
            pytest.fail("Node.js and npm are required for the node-wot interop tests in CI")
        pytest.skip("Node.js/npm not installed: node-wot interop tests need them")
    installed = HARNESS / "node_modules" / "@node-wot" / "core" / "package.json"
    if not installed.exists():
        subprocess.run(
            ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=HARNESS,
            check=True,
            timeout=300,
        )
    return HARNESS


class Sample(msgspec.Struct):
    """A measurement."""

    value: float
    unit: str


class Sensor(lt.Thing):
    """A simulated sensor."""

    gain: float = lt.property(default=1.0, ge=0, le=100)
    label: str = lt.property(default="sensor", readonly=True)

    @lt.action
    def measure(self, repeats: int = 1, offset: float = 0.0) -> Sample:
        """Average some readings."""
        for _ in range(repeats):
            lt.raise_if_cancelled()
        return Sample(value=self.gain * 2.0 + offset, unit="V")

    @lt.action
    def calibrate(self) -> None:
        """Set the gain from inside an action (observers see it)."""
        self.gain = 42.0

    @lt.action
    def explode(self) -> None:
        """Always fails."""
        raise RuntimeError("overheated")


async def run_script(
    harness: Path, td_url: str, steps: list[dict[str, Any]], token: str | None = None
) -> list[Any]:
    """Run the harness on ``steps`` (with a bearer token, if given); one result per step."""
    env = {**os.environ, "WOT_CLIENT_TOKEN": token} if token else None
    process = await asyncio.create_subprocess_exec(
        "node",
        str(harness / "wot_client.mjs"),
        td_url,
        json.dumps(steps),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    out, err = await asyncio.wait_for(process.communicate(), 60)
    assert process.returncode == 0, err.decode()
    results = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
    assert len(results) == len(steps), (out.decode(), err.decode())
    return results


async def test_node_wot_reads_writes_and_invokes_from_the_td(
    node_wot: Path, serve_things: Any
) -> None:
    root = await serve_things(lt.ThingServer({"sensor": Sensor()}))
    results = await run_script(
        node_wot,
        f"{root}/sensor/",
        [
            {"op": "fetchTD"},
            {"op": "readProperty", "name": "gain"},
            {"op": "writeProperty", "name": "gain", "value": 2.5},
            {"op": "readProperty", "name": "gain"},
            {"op": "readProperty", "name": "label"},
            {"op": "invokeAction", "name": "measure", "input": {"repeats": 3, "offset": 1.0}},
            {"op": "invokeAction", "name": "measure"},
            {"op": "invokeAction", "name": "explode"},
        ],
    )
    assert all(result["ok"] for result in results[:7]), results
    assert [result["value"] for result in results[1:5]] == [1.0, None, 2.5, "sensor"]
    assert results[5]["value"] == {"value": 6.0, "unit": "V"}
    assert results[6]["value"] == {"value": 5.0, "unit": "V"}
    assert results[7]["ok"] is False
    assert "Server error" in results[7]["error"]


async def test_node_wot_rejects_an_invalid_write(node_wot: Path, serve_things: Any) -> None:
    root = await serve_things(lt.ThingServer({"sensor": Sensor()}))
    results = await run_script(
        node_wot,
        f"{root}/sensor/",
        [
            {"op": "writeProperty", "name": "gain", "value": 1000},
            {"op": "readProperty", "name": "gain"},
        ],
    )
    assert results[0]["ok"] is False
    assert results[1]["value"] == 1.0


async def test_node_wot_observes_a_property_over_sse(node_wot: Path, serve_things: Any) -> None:
    root = await serve_things(lt.ThingServer({"sensor": Sensor()}))
    results = await run_script(
        node_wot,
        f"{root}/sensor/",
        [
            {
                "op": "observeProperty",
                "name": "gain",
                "count": 2,
                "timeoutMs": 10000,
                "then": [
                    {"op": "writeProperty", "name": "gain", "value": 7.0},
                    {"op": "invokeAction", "name": "calibrate"},
                ],
            }
        ],
    )
    assert results[0]["ok"], results
    assert results[0]["value"] == [7.0, 42.0]


async def test_node_wot_given_a_token_drives_a_server_that_wants_one(
    node_wot: Path, serve_things: Any
) -> None:
    """Guards issue 14, point 12: with tokens, W3C consumers still work, given theirs."""
    server = lt.ThingServer({"sensor": Sensor()}, tokens={"operate": ["node-wot-operates"]})
    root = await serve_things(server)
    steps: list[dict[str, Any]] = [
        {"op": "readProperty", "name": "gain"},
        {"op": "writeProperty", "name": "gain", "value": 3.0},
        {"op": "invokeAction", "name": "measure", "input": {"repeats": 1}},
        {
            "op": "observeProperty",
            "name": "gain",
            "count": 1,
            "timeoutMs": 10000,
            "then": [{"op": "invokeAction", "name": "calibrate"}],
        },
    ]
    results = await run_script(node_wot, f"{root}/sensor/", steps, token="node-wot-operates")
    assert all(result["ok"] for result in results), results
    assert results[0]["value"] == 1.0
    assert results[2]["value"] == {"value": 6.0, "unit": "V"}
    assert results[3]["value"] == [42.0]
    # Without the token, node-wot is refused.
    refused = await run_script(node_wot, f"{root}/sensor/", steps[:1])
    assert refused[0]["ok"] is False
