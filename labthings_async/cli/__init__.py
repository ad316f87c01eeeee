"""The ``labthings-async`` command: ``serve`` a server; ``call``, ``watch``, ``describe`` one.

Imports the server (to serve) and the client; never the manager or the routes
directly.
"""

from .serve import main

__all__ = ("main",)
