"""A zarr store wrapper for readers: an absent chunk is an error, never the fill value.

Every chunk of a committed array is written, even an all-zero one (``write_empty_chunks``), so a
chunk that is not there is lost data (deleted, expired, never copied).  zarr returns the array's
fill value for it; :class:`StrictStore` raises :class:`storage.layout.MissingChunkError`
instead, which the reader turns into one line naming the track and the array.  It costs nothing
on chunks that exist: zarr reads each chunk with one ``get`` either way.  (zarr-python releases
after 3.1 have a configuration option for this, zarr-developers/zarr-python#3748.)
"""

from __future__ import annotations

import re
from typing import Any

from zarr.storage import WrapperStore

from storage.layout import MissingChunkError

# A chunk key of the default v3 encoding, with either separator: ``<array path>/c.0.1`` (what the
# writer uses), ``<array path>/c/0/1`` (stores of earlier releases); ``c`` alone for a 0-d array.
CHUNK_KEY = re.compile(r"(^|/)c((/\d+)*|(\.\d+)*)$")


class StrictStore(WrapperStore):
    """``store`` whose reads of an absent chunk raise :class:`MissingChunkError`."""

    async def get(self, key: str, prototype: Any, byte_range: Any = None) -> Any:
        value = await self._store.get(key, prototype, byte_range)
        if value is None and CHUNK_KEY.search(key):
            raise MissingChunkError(key)
        return value
