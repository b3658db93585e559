"""The only package that touches zarr, fsspec and store paths.

See ``storage/README.md`` for the layout and its guarantees.  The names below are imported
on first use (:mod:`core.lazy_exports`): ``storage.commands`` stays light.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from storage.locking import StoreLockedError
    from storage.schema import FeatureSetSpec, StemMeta, TrackMeta
    from storage.store import (
        FeatureSetReader, FeatureStore, ManifestError, StemEntry, StoreDataError, StoreError, TrackEntry, open_store,
    )

__all__ = [
    "FeatureSetReader", "FeatureSetSpec", "FeatureStore", "ManifestError", "StemEntry", "StemMeta",
    "StoreDataError", "StoreError", "StoreLockedError", "TrackEntry", "TrackMeta", "open_store",
]
_MODULES = {"StoreLockedError": "storage.locking", "FeatureSetSpec": "storage.schema", "StemMeta": "storage.schema",
            "TrackMeta": "storage.schema"}
__getattr__, __dir__ = lazy_exports(__name__, {name: _MODULES.get(name, "storage.store") for name in __all__})
