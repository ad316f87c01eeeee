"""A settings file LabThings-FastAPI 0.3.0 wrote loads here, and ours is the file it writes.

``labthings_settings.py`` runs a Thing on LabThings in a subprocess and sets
three settings; the same module, its import line changed, runs here and
loads them.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import anyio
import pytest

import labthings_async as lt
from labthings_async.settings_store import settings_path

WRITER = Path(__file__).with_name("labthings_settings.py")


def ported(module: Path, monkeypatch: pytest.MonkeyPatch) -> types.ModuleType:
    """The LabThings module with only its import line changed, imported here."""
    labthings, ours = "import labthings_fastapi as lt\n", "import labthings_async as lt\n"
    source = module.read_text()
    assert source.count(labthings) == 1
    port = types.ModuleType(f"{module.stem}_ported")
    monkeypatch.setitem(sys.modules, port.__name__, port)  # Where its annotations resolve.
    exec(compile(source.replace(labthings, ours), str(module), "exec"), vars(port))
    return port


async def test_a_file_labthings_wrote_loads_and_is_written_back_the_same(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with anyio.fail_after(120):  # LabThings imports FastAPI and pydantic: seconds.
        await anyio.run_process([sys.executable, str(WRITER), str(tmp_path)], check=True)
    path = settings_path(tmp_path, "cal", "Calibration")
    written_by_labthings = path.read_bytes()

    calibration = ported(WRITER, monkeypatch).Calibration()
    async with lt.ThingServer({"cal": calibration}, settings_folder=tmp_path).lifespan():
        assert (calibration.gain, calibration.step) == (2.5, 7)
        assert calibration.offsets == {"x": 1.5, "é": -2.0}
        assert (calibration.label, calibration.points) == ("x", [])
        calibration.gain = 2.5  # Saves every setting again.

    assert path.read_bytes() == written_by_labthings
    assert sorted(p.name for p in path.parent.iterdir()) == ["Settings-Calibration.json"]
