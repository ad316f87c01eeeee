"""LabThings-FastAPI's ``thing_slots``: a Thing's references to other Things.

Layer: domain (re-exports ``labthings_async.slot``, where slots are
described), so ``from labthings_async.thing_slots import thing_slot`` works
as LabThings-FastAPI's import does.
"""

from typing import TYPE_CHECKING

from .porting import lt_names
from .slot import ThingSlot, thing_slot

__all__ = ("ThingSlot", "thing_slot")

if not TYPE_CHECKING:  # mypy goes on checking this module's own names strictly.
    # The names LabThings-FastAPI's module of this path had import from here too.
    __getattr__ = lt_names(__name__)
