"""LabThings-FastAPI's ``outputs.blob``: files and images as action outputs.

Layer: LabThings' module paths (re-exports ``labthings_async.blob``, where
blobs are described). ``lt.blob`` is the same set of names.
"""

from typing import TYPE_CHECKING

from ..blob import Blob, BlobBytes, BlobData, BlobFile, match_media_types, parse_media_type
from ..porting import lt_names

__all__ = ("Blob", "BlobBytes", "BlobData", "BlobFile", "match_media_types", "parse_media_type")

if not TYPE_CHECKING:  # mypy goes on checking this module's own names strictly.
    # The names LabThings-FastAPI's module of this path had import from here too.
    __getattr__ = lt_names(__name__)
