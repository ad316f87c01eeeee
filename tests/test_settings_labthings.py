"""A settings file LabThings-FastAPI 0.3.0 wrote loads here, and ours is the file it writes.

``labthings_settings.py`` runs the same Thing on LabThings in a subprocess and
sets three settings; the Thing below, its import line changed, loads them.
"""

from __future__ import annotations

import sys
from pathlib import Path

import anyio

import labthings_async as lt
from labthings_async.settings_store import settings_path

WRITER = Path(__file__).with_name("labthings_settings.py")


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


async def test_a_file_labthings_wrote_loads_and_is_written_back_the_same(tmp_path: Path) -> None:
    with anyio.fail_after(120):  # LabThings imports FastAPI and pydantic: seconds.
        await anyio.run_process([sys.executable, str(WRITER), str(tmp_path)], check=True)
    path = settings_path(tmp_path, "cal", "Calibration")
    written_by_labthings = path.read_bytes()

    calibration = Calibration()
    async with lt.ThingServer({"cal": calibration}, settings_folder=tmp_path).lifespan():
        assert (calibration.gain, calibration.step) == (2.5, 7)
        assert calibration.offsets == {"x": 1.5, "é": -2.0}
        assert (calibration.label, calibration.points) == ("x", [])
        calibration.gain = 2.5  # Saves every setting again.

    assert path.read_bytes() == written_by_labthings
    assert sorted(p.name for p in path.parent.iterdir()) == ["Settings-Calibration.json"]
