"""LabThings-FastAPI's ``outputs.blob``: files and images as action outputs.

Layer: LabThings' module paths (re-exports ``labthings_async.blob``, where
blobs are described). ``lt.blob`` is the same set of names.
"""

from ..blob import Blob, BlobBytes, BlobData, BlobFile, match_media_types, parse_media_type

__all__ = ("Blob", "BlobBytes", "BlobData", "BlobFile", "match_media_types", "parse_media_type")
