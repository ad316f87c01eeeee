"""The control panel in a real browser: time until usable, and a minute of 200 status events/s.

Not part of the suite's runner (it needs Chromium and the browser extra):

    make .venv/.installed-browser            # or: pip install -e ".[test,browser]"
    .venv/bin/python -m benchmarks.panel [--quick] [--json PATH]

The server runs in its own process, started as a user would
(``labthings-async serve config.json``), with ten Things and a quick async
action; the browser is Debian's Chromium, headless, driven by Playwright.

1. **Time until usable**: with 1,000 retained invocations, load the panel
   and read the ``panel-ready`` mark, which the page sets once every Thing,
   every property value and the invocation list are on screen and its event
   stream is open (milliseconds from navigation start). Target: under 1 s.
2. **A storm of status events**: 67 invocations a second (3 status events
   each: about 200 events/s) for a minute while the panel is open. Every
   10 s: the JavaScript heap after a forced garbage collection and the DOM
   node count (Chrome DevTools Protocol). Then how long after the last
   invocation finished the panel showed it finished. Flat memory and a lag
   of well under a second mean it keeps up.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx2

HERE = Path(__file__).parent
COMMAND = str(Path(sys.executable).with_name("labthings-async"))
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
THINGS = 10
RETAINED = 1000


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Server:
    """``labthings-async serve`` in its own process group, with ten Things and a bench Thing."""

    def __init__(self, workdir: Path) -> None:
        things: dict[str, str] = {
            f"scope{index}": "labthings_async.examples.microscope:Microscope"
            for index in range(THINGS - 1)
        }
        things["bench"] = "bench_things:BenchThing"
        config = {"things": things, "options": {"max_retained": 100_000, "retention": 3600}}
        (workdir / "panel.json").write_text(json.dumps(config))
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "PYTHONPATH": str(HERE)}
        self.process = subprocess.Popen(
            [COMMAND, "serve", "panel.json", "--port", str(self.port)],
            cwd=workdir,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        deadline = time.monotonic() + 30
        while True:
            try:
                httpx2.get(f"{self.url}/things/", timeout=2)
                return
            except httpx2.TransportError:
                if time.monotonic() > deadline or self.process.poll() is not None:
                    self.stop()
                    raise RuntimeError("the server did not start") from None
                time.sleep(0.1)

    def stop(self) -> None:
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


async def _invoke(url: str, count: int, rate: float | None) -> str:
    """POST ``count`` quick invocations, ``rate`` a second (None: as fast as possible)."""
    last = ""
    async with httpx2.AsyncClient(timeout=30) as http:
        began = time.monotonic()
        pending: set[asyncio.Task[httpx2.Response]] = set()
        for index in range(count):
            if rate is not None:
                delay = began + index / rate - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
            pending.add(asyncio.create_task(http.post(f"{url}/bench/async_noop", json={})))
            if len(pending) >= 16:
                done, pending = await asyncio.wait(pending, return_when=asyncio.FIRST_COMPLETED)
                for task in done:
                    task.result().raise_for_status()
        for task in pending:
            response = await task
            response.raise_for_status()
        final = await http.post(f"{url}/bench/async_noop", json={}, headers={"Prefer": "wait=10"})
        last = final.json()["id"]
    return last


def time_until_usable(browser: Any, url: str, runs: int) -> list[float]:
    times = []
    for _ in range(runs):
        context = browser.new_context(viewport={"width": 1600, "height": 1000})
        page = context.new_page()
        page.goto(f"{url}/")
        page.wait_for_selector("body[data-state=ready]", timeout=60_000)
        times.append(page.evaluate("performance.getEntriesByName('panel-ready')[0].startTime"))
        rows = page.locator("#invocation-rows tr").count()
        assert rows == 200, f"the list shows {rows} rows"
        context.close()
    return times


def storm(browser: Any, url: str, seconds: float, rate: float) -> dict[str, Any]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000})
    page = context.new_page()
    page.goto(f"{url}/")
    page.wait_for_selector("body[data-state=ready]", timeout=60_000)
    cdp = context.new_cdp_session(page)
    cdp.send("Performance.enable")

    def sample(elapsed: float) -> dict[str, float]:
        cdp.send("HeapProfiler.collectGarbage")
        metrics = {m["name"]: m["value"] for m in cdp.send("Performance.getMetrics")["metrics"]}
        return {
            "seconds": round(elapsed, 1),
            "heap_mb": round(metrics["JSHeapUsedSize"] / 2**20, 2),
            "dom_nodes": int(metrics["Nodes"]),
            "rows": page.locator("#invocation-rows tr").count(),
        }

    samples = [sample(0.0)]
    result: dict[str, str] = {}
    driver = threading.Thread(
        target=lambda: result.setdefault(
            "last", asyncio.run(_invoke(url, int(seconds * rate), rate))
        )
    )
    began = time.monotonic()
    driver.start()
    next_sample = 10.0
    while driver.is_alive():
        driver.join(0.2)
        elapsed = time.monotonic() - began
        if elapsed >= next_sample:
            samples.append(sample(elapsed))
            next_sample += 10.0
    finished = time.monotonic()
    last = result["last"]
    page.wait_for_selector(
        f"#invocation-rows tr[data-id='{last}'] .status-completed", timeout=60_000
    )
    lag = time.monotonic() - finished
    samples.append(sample(time.monotonic() - began))
    context.close()
    return {"samples": samples, "lag_seconds": round(lag, 3), "invocations": int(seconds * rate)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke-sized run")
    parser.add_argument("--json", type=Path, help="also write the figures here")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    executable = shutil.which("chromium")
    if executable is None:
        sys.exit("benchmarks.panel needs Chromium on PATH (Debian: apt-get install chromium)")
    seconds = 10.0 if args.quick else 60.0
    rate = 200 / 3
    with tempfile.TemporaryDirectory() as workdir:
        server = Server(Path(workdir))
        try:
            asyncio.run(_invoke(server.url, RETAINED - 1, None))
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
                usable = time_until_usable(browser, server.url, 3 if args.quick else 7)
                stormed = storm(browser, server.url, seconds, rate)
                browser.close()
        finally:
            server.stop()
    figures = {
        "things": THINGS,
        "retained_invocations": RETAINED,
        "time_until_usable_ms": [round(value) for value in usable],
        "time_until_usable_median_ms": round(statistics.median(usable)),
        "storm": {"events_per_second": round(rate * 3), "seconds": seconds, **stormed},
        "chromium": subprocess.run(
            [executable, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip(),
    }
    print(f"Time until usable ({THINGS} Things, {RETAINED} retained invocations):")
    print(
        f"  median {figures['time_until_usable_median_ms']} ms, "
        f"runs {figures['time_until_usable_ms']}"
    )
    print(f"Status events: {round(rate * 3)}/s for {seconds:g} s")
    print("  seconds  JS heap (MB, after GC)  DOM nodes  rows")
    for row in stormed["samples"]:
        print(f"  {row['seconds']:7}  {row['heap_mb']:22}  {row['dom_nodes']:9}  {row['rows']:4}")
    print(f"  the last invocation showed completed {stormed['lag_seconds']} s after it finished")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
