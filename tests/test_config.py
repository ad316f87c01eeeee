"""Server options: a misspelt one is refused helpfully, and the README documents them all."""

from __future__ import annotations

import argparse
import inspect
import json
import re
from pathlib import Path

import msgspec
import pytest

import labthings_async as lt
from labthings_async.cli.serve import add_serve_command
from labthings_async.config import (
    ServerConfig,
    keyword_options,
    load_config,
    reject_unknown_options,
)
from labthings_async.errors import UnknownOptionError

README = Path(__file__).parents[1] / "README.md"


def test_a_misspelt_option_is_refused_naming_the_valid_ones_and_the_nearest() -> None:
    with pytest.raises(UnknownOptionError) as refused:
        lt.ThingServer({}, max_thread=4)
    error = refused.value
    assert isinstance(error, TypeError)  # What Python raises for an unexpected keyword.
    assert (error.option, error.suggestion) == ("max_thread", "max_threads")
    assert str(error).startswith(
        "ThingServer has no option 'max_thread' (did you mean 'max_threads'?); "
        "its options are: allowed_hosts, application_config, body_limit, body_timeout, "
    )
    assert set(error.accepted) == set(
        keyword_options(lt.ThingServer, lt.ActionManager, leave_out=["things"])
    )


def test_an_unknown_option_with_no_near_miss_still_names_the_valid_ones() -> None:
    with pytest.raises(UnknownOptionError, match=r"^ThingServer has no option 'colour'; its"):
        lt.ThingServer({}, colour="red")


def test_every_manager_option_passes_through_the_server() -> None:
    server = lt.ThingServer({}, max_threads=3, retention=7.0, shutdown_grace=1.0)
    assert (server.manager.max_threads, server.manager.retention) == (3, 7.0)


def test_reject_unknown_options_accepts_known_ones() -> None:
    reject_unknown_options({"a": 1}, ["a", "b"], owner="it")
    with pytest.raises(UnknownOptionError, match="it has no key 'c'; its keys are: a, b"):
        reject_unknown_options(["a", "c"], ["b", "a"], owner="it", kind="key")


def test_a_config_file_with_a_misspelt_key(tmp_path: Path) -> None:
    path = tmp_path / "lab.json"
    path.write_text(json.dumps({"things": {}, "prot": 5001}))
    with pytest.raises(UnknownOptionError) as refused:
        load_config(path)
    assert str(refused.value) == (
        f"config file {str(path)!r} has no key 'prot' (did you mean 'port'?); "
        "its keys are: application_config, host, options, port, prefix, things"
    )


# -- LabThings' keys for settings, slots and locks ------------------------------------------


def write_config(tmp_path: Path, config: dict[str, object]) -> Path:
    path = tmp_path / "lab.json"
    path.write_text(json.dumps(config))
    return path


def test_labthings_keys_for_settings_slots_and_locks_become_options(tmp_path: Path) -> None:
    config = {
        "things": {
            "stage": "mylab:Stage",
            "scanner": {"class": "mylab:Scanner", "thing_slots": {"camera": "left", "all": []}},
        },
        "settings_folder": "./lab-settings",
        "enable_global_lock": True,
        "global_lock_log_level": "WARNING",
        "options": {"max_threads": 4},
    }
    loaded = load_config(write_config(tmp_path, config))
    assert loaded.options == {
        "max_threads": 4,
        "settings_folder": "./lab-settings",
        "enable_global_lock": True,
        "global_lock_log_level": "WARNING",
        "thing_slots": {"scanner": {"camera": "left", "all": []}},
    }
    assert lt.ThingServer({}, **loaded.options).manager.settings_folder == "./lab-settings"


@pytest.mark.parametrize(
    ("config", "message"),
    [
        (
            {"things": {}, "enable_global_lock": True, "options": {"enable_global_lock": False}},
            'gives "enable_global_lock" twice, at the top level and in "options"',
        ),
        (
            {
                "things": {"s": {"class": "m:S", "thing_slots": {"a": "b"}}},
                "options": {"thing_slots": {"s": {"a": "c"}}},
            },
            "gives the thing_slots of Thing 's' twice, in the Thing and in \"options\"",
        ),
        (
            {"things": {"s": {"class": "m:S", "thing_slots": {"camera": 3}}}},
            "thing_slots gives slot 'camera' of Thing 's' 3; give a Thing's name, a list of "
            "names, or null",
        ),
        ({"things": {}, "options": [1]}, '"options" must be an object of ThingServer options'),
    ],
)
def test_labthings_keys_given_twice_or_of_the_wrong_shape_are_refused(
    tmp_path: Path, config: dict[str, object], message: str
) -> None:
    with pytest.raises(lt.ConfigError) as refused:
        load_config(write_config(tmp_path, config))
    assert str(refused.value).endswith(message)


# -- the README's table -------------------------------------------------------------------


def options_section() -> str:
    """The README's "Options" section, up to the next heading."""
    return re.split(r"\n#+ ", README.read_text().split("### Options\n", 1)[1], maxsplit=1)[0]


def options_table() -> dict[str, tuple[str, str]]:
    """The README's options table: option to (default, also set by)."""
    section = options_section()
    rows: dict[str, tuple[str, str]] = {}
    for line in section.splitlines():
        cells = [cell.strip() for cell in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(cells) == 4 and cells[0] not in ("option", "---"):
            rows[cells[0].strip("`")] = (cells[1], cells[3])
    return rows


def test_the_readme_lists_every_server_option_with_its_default() -> None:
    table = options_table()
    for function in (lt.ThingServer.__init__, lt.ActionManager.__init__):
        for parameter in inspect.signature(function).parameters.values():
            if parameter.name in ("self", "things", "manager_options"):
                continue
            assert parameter.name in table, f"{parameter.name} is not in the README's table"
            default, _ = table[parameter.name]
            if parameter.default is not inspect.Parameter.empty:
                assert default == f"`{parameter.default!r}`", parameter.name


def test_the_readme_lists_every_config_key_with_its_default() -> None:
    table = options_table()
    for field in msgspec.structs.fields(ServerConfig):
        if field.name == "options":  # The table's rows are the options themselves.
            continue
        assert field.name in table, f"config key {field.name} is not in the README's table"
        if field.default is not msgspec.NODEFAULT:
            assert table[field.name][0] == f"`{field.default!r}`", field.name


def test_the_readme_lists_every_serve_flag() -> None:
    commands = argparse.ArgumentParser().add_subparsers()
    add_serve_command(commands)
    serve = commands.choices["serve"]
    flags = {flag for action in serve._actions for flag in action.option_strings}
    documented = set(re.findall(r"(?<![\w-])(-{1,2}[a-z][a-z-]*)", options_section()))
    assert flags - {"-h", "--help"} == documented
