"""Extraction: decode each track once and write its feature sets into the store.

:func:`extract_track` is the unit of work (one song); :func:`extract_dataset` the driver
(Dask over tracks, incremental, committing as results arrive).
"""

from pipeline.extraction.driver import ExtractionSummary, extract_dataset
from pipeline.extraction.extract import FeatureTarget, TrackResult, extract_track, iter_feature_blocks

__all__ = [
    "ExtractionSummary", "FeatureTarget", "TrackResult", "extract_dataset", "extract_track", "iter_feature_blocks",
]
