"""The HTTP adapter: the Starlette app, its routes, event streams and error replies.

Everything Starlette-specific lives here. It imports the domain and ``wot``;
nothing below it imports it.
"""

from .app import ThingApp
from .router import action_router
from .state import ServerState

__all__ = ("ServerState", "ThingApp", "action_router")
