"""Extraction: decode each track once and write its feature sets into the store.

:func:`extract_track` is the unit of work (one song); :func:`extract_dataset` the driver
(Dask over tracks, incremental, committing as results arrive).  The names below are imported
on first use (:mod:`core.lazy_exports`): ``instrec --help`` loads ``commands`` only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from core.lazy_exports import lazy_exports

if TYPE_CHECKING:
    from pipeline.extraction.driver import ExtractionSummary, extract_dataset
    from pipeline.extraction.extract import FeatureTarget, TrackResult, extract_track, iter_feature_blocks

__all__ = [
    "ExtractionSummary", "FeatureTarget", "TrackResult", "extract_dataset", "extract_track", "iter_feature_blocks",
]
__getattr__, __dir__ = lazy_exports(__name__, {
    "ExtractionSummary": "pipeline.extraction.driver", "extract_dataset": "pipeline.extraction.driver",
    "FeatureTarget": "pipeline.extraction.extract", "TrackResult": "pipeline.extraction.extract",
    "extract_track": "pipeline.extraction.extract", "iter_feature_blocks": "pipeline.extraction.extract",
})
