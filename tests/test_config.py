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
        "its options are: allowed_hosts, body_limit, "
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
        "its keys are: host, options, port, prefix, things"
    )


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
    documented = set(re.findall(r"(--[a-z][a-z-]*)", options_section()))
    assert flags - {"-h", "--help"} == documented
