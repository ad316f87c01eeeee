"""A server whose one action returns the file named by ``LABTHINGS_TEST_BLOB`` as a blob.

Run as ``python blob_server.py FD`` (see ``script_server``): the test reads this
process's peak memory while it serves the file.
"""

from __future__ import annotations

import asyncio
import os
import sys

import labthings_async as lt


class Data(lt.blob.Blob):
    media_type = "application/octet-stream"


class Files(lt.Thing):
    @lt.action
    def large(self) -> Data:
        """The large file, served from disk."""
        return Data.from_file(os.environ["LABTHINGS_TEST_BLOB"])


if __name__ == "__main__":
    asyncio.run(lt.ThingServer({"files": Files()}).serve(f"fd://{sys.argv[1]}"))
