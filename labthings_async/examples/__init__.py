"""Example Things, written as a user would write them (``import labthings_async as lt``).

Serve the rig (a camera with a live view, a stage and a scanner that uses
both) with ``make serve``, which runs ``labthings-async serve
labthings_async/examples/rig.json``, or the simulated microscope alone with
``labthings-async serve labthings_async.examples.microscope:Microscope``.
"""

__all__ = ()
