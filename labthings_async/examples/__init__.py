"""Example Things, written as a user would write them (``import labthings_async as lt``).

Serve one with ``labthings-async serve labthings_async.examples.microscope:Microscope``.
"""

__all__ = ()
