"""What every feature extractor configuration provides.

A configuration is a frozen dataclass, validated on creation.  The store keys a feature set
by :func:`config_hash`, so changing any parameter makes a new feature set.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from typing import Any, Protocol, runtime_checkable

import numpy as np

from features.grid import FrameGrid


@runtime_checkable
class FeatureConfig(Protocol):
    """Protocol of a feature extractor's configuration.

    ``name`` is the feature family (``logmel``, ``scalogram``, ``vggish``...), ``sr`` the rate
    the audio must be resampled to, ``grid`` the frame grid of the output, ``compute`` the
    pure function from mono float32 audio at ``sr`` to ``(n_frames, ...)`` float32 features
    with ``n_frames == grid.n_frames(len(y))``.  ``context_samples`` is how many samples of
    context one frame needs on each side (chunked computation overlaps by that much).
    A configuration may also define ``track_notes(n_samples) -> tuple[str, ...]``: notes on
    how it treated a signal of that length (musicnn's repeat-pad of a short song), kept with
    the track's warnings in the store.
    """

    name: str
    sr: int

    @property
    def grid(self) -> FrameGrid: ...

    @property
    def context_samples(self) -> int: ...

    def compute(self, y: np.ndarray) -> np.ndarray: ...

    def frame_shape(self) -> tuple[int, ...]: ...


# Field metadata of a parameter added after stores were written with its family: left at its
# default, it stays out of the parameters (and so of ``config_hash``), so those stores keep their
# feature-set keys; any other value is in them as usual.
OMIT_AT_DEFAULT = "omit_at_default"


def config_params(config: Any) -> dict[str, Any]:
    """The configuration as plain JSON-able parameters, with its family name."""
    params = {"name": config.name}
    params.update({
        f.name: getattr(config, f.name) for f in dataclasses.fields(config)
        if f.name != "name" and not (f.metadata.get(OMIT_AT_DEFAULT) and getattr(config, f.name) == f.default)
    })
    return json.loads(json.dumps(params, default=str))


def config_hash(config: Any) -> str:
    """Stable sha256 of a configuration's parameters (hex, 64 characters)."""
    text = json.dumps(config_params(config), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()
