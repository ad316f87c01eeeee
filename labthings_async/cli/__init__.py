"""The ``labthings-async`` command: ``serve``, ``call``, ``get``, ``set``, ``watch``, ``describe``.

Imports the server (to serve) and the client; never the manager or the routes
directly.
"""

from .main import main

__all__ = ("main",)
