"""LabThings-FastAPI 0.3.0 writing a settings file, for the test that loads it here.

Run as ``python labthings_settings.py FOLDER``: it serves the Thing ``cal``,
sets three of its settings over HTTP, and stops. ``test_settings_labthings.py``
runs this same module on labthings_async, its import line changed, so it
never imports FastAPI itself.
"""

from __future__ import annotations

import sys

import labthings_fastapi as lt


class Calibration(lt.Thing):
    """A stage calibration that must survive a restart."""

    gain: float = lt.setting(default=1.0)
    offsets: dict[str, float] = lt.setting(default_factory=dict)
    label: str = lt.setting(default="x", readonly=True)
    points: list[int] = lt.setting(default_factory=list)
    _step: int = 3

    @lt.setting
    def step(self) -> int:
        """A functional setting."""
        return self._step

    @step.setter
    def _set_step(self, value: int) -> None:
        self._step = value


def main() -> None:
    """Set ``gain``, ``offsets`` and ``step`` of ``cal``, its settings under the folder given."""
    server = lt.ThingServer.from_things({"cal": Calibration}, settings_folder=sys.argv[1])
    with server.test_client() as client:
        for name, value in [("gain", 2.5), ("offsets", {"x": 1.5, "é": -2.0}), ("step", 7)]:
            client.put(f"/cal/{name}", json=value).raise_for_status()


if __name__ == "__main__":
    main()
