"""The only package that touches zarr, fsspec and store paths.

See ``storage/README.md`` for the layout and its guarantees.
"""

from storage.locking import StoreLockedError
from storage.schema import FeatureSetSpec, StemMeta, TrackMeta
from storage.store import (
    FeatureSetReader, FeatureStore, ManifestError, StemEntry, StoreDataError, StoreError, TrackEntry, open_store,
)

__all__ = [
    "FeatureSetReader", "FeatureSetSpec", "FeatureStore", "ManifestError", "StemEntry", "StemMeta",
    "StoreDataError", "StoreError", "StoreLockedError", "TrackEntry", "TrackMeta", "open_store",
]
