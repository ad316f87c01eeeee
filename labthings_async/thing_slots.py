"""LabThings-FastAPI's ``thing_slots``: a Thing's references to other Things.

Layer: domain (re-exports ``labthings_async.slot``, where slots are
described), so ``from labthings_async.thing_slots import thing_slot`` works
as LabThings-FastAPI's import does.
"""

from .slot import ThingSlot, thing_slot

__all__ = ("ThingSlot", "thing_slot")
