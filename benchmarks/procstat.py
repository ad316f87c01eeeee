"""What a server process costs, read from Linux's /proc: CPU time, threads, memory.

The readings are the kernel's, so they are independent of the load generator:
CPU is ``utime + stime`` of every thread of the process (``/proc/PID/stat``),
threads and resident memory come from ``/proc/PID/status``. ``PeakSampler``
samples the last two from a background thread to catch their peaks.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from types import TracebackType

__all__ = ("PeakSampler", "ProcessStatus", "cpu_seconds", "status")

_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid: int) -> float:
    """User plus system CPU seconds used so far by every thread of ``pid``."""
    with open(f"/proc/{pid}/stat", "rb") as file:
        raw = file.read()
    # The command name (field 2) may hold spaces and parentheses: split after it.
    fields = raw[raw.rindex(b")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


@dataclass(frozen=True, slots=True)
class ProcessStatus:
    """Threads and memory of a process at one moment.

    Attributes:
        threads: Number of threads.
        rss: Resident memory now, in bytes.
        peak_rss: The most resident memory it has had (``VmHWM``), in bytes.
    """

    threads: int
    rss: int
    peak_rss: int


def status(pid: int) -> ProcessStatus:
    """Read ``/proc/PID/status``."""
    values: dict[str, int] = {}
    with open(f"/proc/{pid}/status") as file:
        for line in file:
            key, _, rest = line.partition(":")
            if key in ("Threads", "VmRSS", "VmHWM"):
                values[key] = int(rest.split()[0])
    return ProcessStatus(values["Threads"], values["VmRSS"] * 1024, values["VmHWM"] * 1024)


class PeakSampler:
    """Samples a process's threads and memory every ``interval`` s, keeping the peaks.

    Use as a context manager around the work to watch.
    """

    def __init__(self, pid: int, interval: float = 0.01) -> None:
        self.pid = pid
        self.interval = interval
        self.peak_threads = 0
        self.peak_rss = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="peak-sampler", daemon=True)

    def _sample(self) -> None:
        try:
            now = status(self.pid)
        except (OSError, KeyError, ValueError):
            return  # The process is gone or changing; the next sample will tell.
        self.samples += 1
        self.peak_threads = max(self.peak_threads, now.threads)
        self.peak_rss = max(self.peak_rss, now.rss)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> PeakSampler:
        self._sample()
        self._thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._stop.set()
        self._thread.join()
        self._sample()
