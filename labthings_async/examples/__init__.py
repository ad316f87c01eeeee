"""Example Things, written as a user would write them (``import labthings_async as lt``).

Serve one with ``labthings-async serve labthings_async.examples.microscope:Microscope``,
or the whole rig (the microscope, a stage, a camera with a live view, and a
scanner) with ``labthings-async serve labthings_async/examples/rig.json``.
"""

__all__ = ()
