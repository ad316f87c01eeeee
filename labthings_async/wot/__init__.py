"""Web of Things documents: the Thing Description and the OpenAPI document.

Pure functions from Thing classes to JSON documents. Imports the domain only
(never Starlette, never the manager's running state).
"""

from .openapi import openapi_document
from .td import thing_description

__all__ = ("openapi_document", "thing_description")
