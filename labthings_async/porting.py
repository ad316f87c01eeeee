"""What ``lt.X`` says for a LabThings-FastAPI name labthings_async does not have.

Layer: domain (stdlib). The root package imports ``__getattr__`` from here
(PEP 562), so ``lt.DataSetting`` fails with a message saying what to write
instead, not a bare "has no attribute". Names labthings_async has are never
looked up here.
"""

from __future__ import annotations

__all__ = ("INSTEAD",)

INSTEAD: dict[str, str] = {
    "ThingProperty": "write lt.property(default=...) as a class attribute with a type annotation",
    "thing_property": "write @lt.property on a getter",
    "thing_action": "write @lt.action",
    "ThingServerConfig": (
        "pass a plain dict, lt.ThingServer({'things': {...}, 'api_prefix': ...}), or call "
        "lt.ThingServer.from_things({...}, **options)"
    ),
    "ThingConfig": "write a plain dict: {'class': ..., 'args': [...], 'kwargs': {...}}",
    "ThingClassSettings": "leave it out: Thing classes here have no class settings",
    "cli": "run the labthings-async command: labthings-async serve -c CONFIG.json",
    "deps": "use lt.CancelHook, lt.InvocationLogger and lt.InvocationID, at the top level",
}
"""LabThings-FastAPI's top-level names that are not here, and what to write instead."""


def __getattr__(name: str) -> object:
    """Say what to write instead of a LabThings-FastAPI name the package lacks."""
    if name in INSTEAD:
        raise AttributeError(
            f"labthings_async has no {name} (LabThings-FastAPI's lt.{name}): {INSTEAD[name]} "
            "(docs/porting.md lists every difference)"
        )
    raise AttributeError(f"module 'labthings_async' has no attribute {name!r}")
