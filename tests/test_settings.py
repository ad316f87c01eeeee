"""Tests for lt.setting and the settings store: saved on assignment, loaded before setup.

Files are read back as a user would read them (plain ``json``), and every
problem with a file must be logged naming the file and the setting, the file
kept aside, never overwritten silently.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from pathlib import Path
from typing import Any

import pytest
from things import TIMEOUT

import labthings_async as lt
from labthings_async.setting import DataSetting, FunctionalSetting
from labthings_async.settings_store import SettingsStore, settings_path


class Calibration(lt.Thing):
    """A stage calibration that must survive a restart."""

    gain: float = lt.setting(default=1.0, ge=0)
    offsets: dict[str, float] = lt.setting(default_factory=dict)
    label: str = lt.setting(default="x", readonly=True)
    points: list[int] = lt.setting(default_factory=list)
    plain: int = lt.property(default=0)

    def __init__(self) -> None:
        self._step = 3
        self.seen_in_setup: dict[str, Any] = {}

    @lt.setting
    def step(self) -> int:
        """A functional setting: its getter is saved, its setter loads it."""
        return self._step

    @step.setter
    def _set_step(self, value: int) -> None:
        self._step = value

    def setup(self) -> None:
        self.seen_in_setup = {"gain": self.gain, "step": self.step, "offsets": dict(self.offsets)}


def saved(folder: Path, thing: str = "cal", cls: str = "Calibration") -> Any:
    return json.loads(settings_path(folder, thing, cls).read_text(encoding="utf-8"))


def write_file(folder: Path, text: str, thing: str = "cal", cls: str = "Calibration") -> Path:
    path = settings_path(folder, thing, cls)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.levelno >= logging.WARNING]


# -- declaring -------------------------------------------------------------------------


def test_settings_are_properties_and_are_listed_apart() -> None:
    assert set(Calibration.settings) == {"gain", "offsets", "label", "points", "step"}
    assert set(Calibration.properties) == {*Calibration.settings, "plain"}
    assert isinstance(Calibration.settings["gain"], DataSetting)
    assert isinstance(Calibration.settings["step"], FunctionalSetting)
    assert Calibration.settings["step"].observable and Calibration.settings["gain"].observable
    assert Calibration.settings["label"].readonly


def test_a_functional_setting_without_a_setter_fails_at_class_definition() -> None:
    def level(self: Any) -> int:
        return 1

    with pytest.raises(lt.ActionDefinitionError) as refused:
        type("Lamp", (lt.Thing,), {"level": lt.setting(level)})
    assert str(refused.value) == (
        "setting Lamp.level has a getter and no setter, so its saved value could never be "
        "loaded; add `@level.setter`, or make it an lt.property"
    )


def test_without_a_server_a_setting_is_a_plain_attribute_and_saves_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    calibration = Calibration()
    calibration.gain = 2.0
    calibration.save_settings()
    assert calibration.gain == 2.0
    assert os.listdir(tmp_path) == []


# -- saving ----------------------------------------------------------------------------


async def test_assigning_a_setting_saves_every_setting_in_labthings_layout(tmp_path: Path) -> None:
    calibration = Calibration()
    async with lt.ActionManager({"cal": calibration}, settings_folder=tmp_path):
        calibration.gain = 2.5
        calibration.offsets = {"x": 1.5, "é": -2.0}
    path = settings_path(tmp_path, "cal", "Calibration")
    assert path == tmp_path / "cal" / "Settings-Calibration.json"
    # LabThings-FastAPI's format: every setting, keys sorted, four-space indent, UTF-8.
    assert path.read_text(encoding="utf-8") == (
        "{\n"
        '    "gain": 2.5,\n'
        '    "label": "x",\n'
        '    "offsets": {\n'
        '        "x": 1.5,\n'
        '        "é": -2.0\n'
        "    },\n"
        '    "points": [],\n'
        '    "step": 3\n'
        "}"
    )


async def test_a_functional_setting_is_saved_through_its_setter_and_getter(tmp_path: Path) -> None:
    calibration = Calibration()
    async with lt.ActionManager({"cal": calibration}, settings_folder=tmp_path):
        calibration.step = 7
    assert saved(tmp_path)["step"] == 7


async def test_a_change_in_place_is_saved_only_by_assignment_or_save_settings(
    tmp_path: Path,
) -> None:
    calibration = Calibration()
    async with lt.ActionManager({"cal": calibration}, settings_folder=tmp_path):
        calibration.points = [1]
        calibration.points.append(2)  # In place: nothing announces it (as in LabThings).
        assert saved(tmp_path)["points"] == [1]
        calibration.save_settings()
        assert saved(tmp_path)["points"] == [1, 2]


async def test_settings_assigned_from_many_threads_end_up_all_saved(tmp_path: Path) -> None:
    class Many(lt.Thing):
        a: int = lt.setting(default=0)
        b: int = lt.setting(default=0)
        c: int = lt.setting(default=0)
        d: int = lt.setting(default=0)

    many = Many()
    start = threading.Barrier(4)

    def count(name: str) -> None:
        start.wait(TIMEOUT)
        for value in range(1, 21):
            setattr(many, name, value)

    async with lt.ActionManager({"many": many}, settings_folder=tmp_path):
        threads = [threading.Thread(target=count, args=(name,)) for name in "abcd"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(TIMEOUT)
    assert saved(tmp_path, "many", "Many") == {"a": 20, "b": 20, "c": 20, "d": 20}


async def test_a_save_that_fails_says_which_file_and_why(tmp_path: Path) -> None:
    calibration = Calibration()
    async with lt.ActionManager({"cal": calibration}, settings_folder=tmp_path):
        calibration.gain = 2.0
        # Something put a folder where the file was: no rename can replace it.
        path = settings_path(tmp_path, "cal", "Calibration")
        path.unlink()
        path.mkdir()
        (path / "keep").write_text("kept")
        with pytest.raises(lt.SettingsError) as failed:
            calibration.gain = 3.0
    assert str(failed.value) == f"settings of Thing 'cal' not saved to {path}: Is a directory"
    assert failed.value.http_status == 500
    assert calibration.gain == 3.0  # In memory it changed; nothing on disk did.
    assert sorted(p.name for p in path.parent.iterdir()) == ["Settings-Calibration.json"]
    assert (path / "keep").read_text() == "kept"


async def test_no_settings_folder_keeps_settings_in_memory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    calibration = Calibration()
    async with lt.ActionManager({"cal": calibration}, settings_folder=None):
        calibration.gain = 2.0
    assert os.listdir(tmp_path) == []


async def test_the_default_folder_is_labthings_settings_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    calibration = Calibration()
    async with lt.ThingServer({"cal": calibration}).lifespan():
        calibration.gain = 4.0
    assert saved(tmp_path / "settings")["gain"] == 4.0


async def test_a_thing_without_settings_gets_no_file(tmp_path: Path) -> None:
    class Plain(lt.Thing):
        value: int = lt.property(default=0)

    plain = Plain()
    async with lt.ActionManager({"plain": plain}, settings_folder=tmp_path):
        plain.value = 1
    assert os.listdir(tmp_path) == []


# -- loading ---------------------------------------------------------------------------


async def test_saved_values_are_loaded_before_setup(tmp_path: Path) -> None:
    write_file(tmp_path, json.dumps({"gain": 2.5, "offsets": {"x": 1.0}, "step": 9}))
    calibration = Calibration()
    async with lt.ActionManager({"cal": calibration}, settings_folder=tmp_path):
        assert calibration.seen_in_setup == {"gain": 2.5, "step": 9, "offsets": {"x": 1.0}}
        assert (calibration.label, calibration.points) == ("x", [])  # Absent: defaults.


async def test_loading_sends_no_events_and_saves_nothing(tmp_path: Path) -> None:
    path = write_file(tmp_path, '{"gain": 2.5}')
    calibration = Calibration()
    async with lt.ActionManager({"cal": calibration}, settings_folder=tmp_path) as manager:
        async with manager.subscribe_properties(after=0) as changes:
            assert changes.next_nowait() is None
        assert calibration.gain == 2.5
    assert path.read_text() == '{"gain": 2.5}'


async def test_a_restart_gets_back_what_was_set(tmp_path: Path) -> None:
    first = Calibration()
    async with lt.ActionManager({"cal": first}, settings_folder=tmp_path):
        first.gain = 0.25
        first.offsets = {"y": 3.0}
        first.step = 11
    second = Calibration()
    async with lt.ActionManager({"cal": second}, settings_folder=tmp_path):
        assert (second.gain, second.offsets, second.step) == (0.25, {"y": 3.0}, 11)


async def test_a_missing_file_is_a_warning_naming_it(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    calibration = Calibration()
    with caplog.at_level(logging.WARNING):
        async with lt.ActionManager({"cal": calibration}, settings_folder=tmp_path):
            pass
    path = settings_path(tmp_path, "cal", "Calibration")
    assert warnings_of(caplog) == [
        f"settings file {path} does not exist (yet); every setting of Thing 'cal' keeps its "
        "default until one is set"
    ]
    assert not path.exists()


async def test_a_file_that_is_not_json_is_kept_aside_and_defaults_are_used(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_file(tmp_path, '{"gain": 2.5,')  # Cut short, as a non-atomic write leaves it.
    calibration = Calibration()
    with caplog.at_level(logging.WARNING):
        async with lt.ActionManager({"cal": calibration}, settings_folder=tmp_path):
            assert calibration.gain == 1.0
            calibration.gain = 3.0
    (aside,) = path.parent.glob("Settings-Calibration.json.invalid-*")
    assert aside.read_text() == '{"gain": 2.5,'  # Never overwritten.
    assert saved(tmp_path)["gain"] == 3.0
    first, second = warnings_of(caplog)
    assert first.startswith(f"settings file {path} is not a JSON object (")
    assert first.endswith("every setting of Thing 'cal' keeps its default")
    assert second == f"settings file {path} is kept as {aside}"


async def test_a_file_that_is_not_an_object_is_kept_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_file(tmp_path, "[1, 2]")
    with caplog.at_level(logging.WARNING):
        async with lt.ActionManager({"cal": Calibration()}, settings_folder=tmp_path):
            pass
    assert "Expected `object`, got `array`" in warnings_of(caplog)[0]
    assert not path.exists()
    assert len(list(path.parent.glob("Settings-Calibration.json.invalid-*"))) == 1


async def test_an_unreadable_file_is_kept_aside(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = settings_path(tmp_path, "cal", "Calibration")
    path.mkdir(parents=True)  # Reading it fails (a folder), as a file with no permission would.
    with caplog.at_level(logging.WARNING):
        async with lt.ActionManager({"cal": Calibration()}, settings_folder=tmp_path):
            pass
    assert warnings_of(caplog)[0].startswith(f"settings file {path} cannot be read (")
    (aside,) = path.parent.glob("Settings-Calibration.json.invalid-*")
    assert aside.is_dir()


async def test_a_bad_value_is_named_with_its_file_and_the_rest_loads(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = write_file(
        tmp_path,
        json.dumps({"gain": -1, "offsets": {"x": "far"}, "step": 4, "points": [5], "old": 1}),
    )
    original = path.read_text()
    calibration = Calibration()
    with caplog.at_level(logging.WARNING):
        async with lt.ActionManager({"cal": calibration}, settings_folder=tmp_path):
            assert (calibration.gain, calibration.offsets) == (1.0, {})
            assert (calibration.step, calibration.points) == (4, [5])
    (aside,) = path.parent.glob("Settings-Calibration.json.invalid-*")
    assert aside.read_text() == original
    # What loaded is written back at once, so it survives a stop before the next save.
    assert saved(tmp_path) == {"points": [5], "step": 4}
    assert warnings_of(caplog) == [
        f"settings file {path}: setting 'gain': Expected `float` >= 0.0 - at `$.gain`; "
        "it keeps its default, 1.0",
        f"settings file {path}: setting 'offsets': Expected `float`, got `str` - at "
        "`$.offsets[...]`; it keeps its default",
        f"settings file {path}: 'old' is not a setting of Calibration (its settings are "
        "['gain', 'label', 'offsets', 'points', 'step']); the value is not loaded",
        f"settings file {path} is kept as {aside}",
    ]


async def test_a_setter_that_fails_on_load_keeps_the_file(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    class Fussy(lt.Thing):
        @lt.setting
        def mode(self) -> str:
            return "a"

        @mode.setter  # type: ignore[no-redef]
        def mode(self, value: str) -> None:
            raise RuntimeError("the controller is not connected")

    path = write_file(tmp_path, '{"mode": "b"}', "fussy", "Fussy")
    with caplog.at_level(logging.WARNING):
        async with lt.ActionManager({"fussy": Fussy()}, settings_folder=tmp_path):
            pass
    assert warnings_of(caplog) == [
        f"settings file {path}: setting 'mode': its setter raised RuntimeError: the "
        "controller is not connected; its setter is not called"
    ]
    assert path.read_text() == '{"mode": "b"}'


async def test_leftovers_of_a_killed_save_are_cleaned_up_at_start(tmp_path: Path) -> None:
    path = write_file(tmp_path, '{"gain": 2.0}')
    leftover = path.parent / ".Settings-Calibration.json.5f2a.tmp"
    leftover.write_text('{"gain": 3')
    calibration = Calibration()
    async with lt.ActionManager({"cal": calibration}, settings_folder=tmp_path):
        assert calibration.gain == 2.0
    assert not leftover.exists()


def test_a_file_that_cannot_be_kept_aside_is_never_overwritten(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # A file no rename can move (sysfs refuses, even for root): loading it fails,
    # keeping it aside fails, so saving must refuse rather than overwrite it.
    unmovable = Path("/sys/kernel/mm/transparent_hugepage/enabled")
    if not unmovable.exists():
        pytest.skip(f"{unmovable} is not on this system")
    calibration = Calibration()
    store = SettingsStore(calibration, unmovable)
    with caplog.at_level(logging.WARNING):
        store.load()
    assert "could not be kept aside" in caplog.text
    with pytest.raises(lt.SettingsError, match="it is not overwritten until it is moved away"):
        store.save()
