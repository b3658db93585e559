"""The one definition of a frame grid, shared by every extractor and by label alignment.

Frame ``i`` of a grid is centred at ``first_centre + i * hop_s`` seconds.  A feature
extractor declares its grid; :func:`frame_labels` evaluates the activity intervals at those
centre times, so label frames and feature frames are equal in number by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Iterable, Sequence

import numpy as np


@dataclass(frozen=True)
class FrameGrid:
    """Frame centre times and frame count for a signal of a given length.

    Parameters
    ----------
    sr : int
        Sample rate the features are computed at, in Hz.
    hop_length : int
        Samples between frame centres.
    centered : bool
        ``True`` for librosa's ``center=True`` framing: frame ``i`` is centred at sample
        ``i * hop_length`` and there are ``1 + n_samples // hop_length`` frames.
        ``False`` for non-overlapping examples of ``hop_length`` samples (VGGish's 0.96 s
        examples): frame ``i`` covers ``[i * hop, (i + 1) * hop)``, is centred at its middle,
        and only whole examples count: ``n_samples // hop_length`` frames.
    min_frames : int
        Frames of any non-empty signal, however short (``0`` or ``1``): ``1`` for extractors
        that pad a signal shorter than one example into a whole one (musicnn's repeat-pad).
        Only for ``centered=False``.
    """

    sr: int
    hop_length: int
    centered: bool = True
    min_frames: int = 0

    def __post_init__(self) -> None:
        if self.sr <= 0 or self.hop_length <= 0:
            raise ValueError(f"sr and hop_length must be positive, got {self.sr}, {self.hop_length}")
        if self.min_frames not in (0, 1) or (self.min_frames and self.centered):
            raise ValueError(f"min_frames must be 0, or 1 for an uncentred grid; got {self.min_frames}")

    @property
    def hop_s(self) -> float:
        """Seconds between frame centres."""
        return self.hop_length / self.sr

    @property
    def frame_rate(self) -> float:
        """Frames per second."""
        return self.sr / self.hop_length

    @property
    def first_centre(self) -> float:
        """Centre time of frame 0 in seconds."""
        return 0.0 if self.centered else 0.5 * self.hop_s

    def n_frames(self, n_samples: int) -> int:
        """Number of frames for ``n_samples`` samples at ``sr``."""
        if n_samples < 0:
            raise ValueError(f"n_samples must be >= 0, got {n_samples}")
        if self.centered:
            return 1 + n_samples // self.hop_length
        if n_samples == 0:
            return 0
        return max(self.min_frames, n_samples // self.hop_length)

    def n_frames_for_duration(self, duration: float) -> int:
        """Number of frames for a signal of ``duration`` seconds (resampled to ``sr``)."""
        return self.n_frames(int(math.ceil(duration * self.sr - 1e-9)))

    def times(self, n_frames: int, start: int = 0) -> np.ndarray:
        """Centre times of frames ``start .. start + n_frames - 1`` in seconds."""
        return self.first_centre + (start + np.arange(n_frames, dtype=np.float64)) * self.hop_s

    def frame_of(self, time_s: float) -> int:
        """Index of the frame whose centre is nearest to ``time_s``."""
        return int(round((time_s - self.first_centre) / self.hop_s))


def frame_labels(
    events: Iterable[tuple[str, float, float]],
    classes: Sequence[str],
    grid: FrameGrid,
    n_frames: int,
) -> np.ndarray:
    """Multi-hot activity at each frame's centre time.

    Parameters
    ----------
    events : iterable of (class, onset_s, offset_s)
        Activity intervals, half-open ``[onset, offset)``.  Objects with ``label``,
        ``onset`` and ``offset`` attributes are accepted too.
    classes : sequence of str
        The vocabulary; events of other classes raise ``KeyError`` naming the class.
    grid : FrameGrid
    n_frames : int

    Returns
    -------
    labels : np.ndarray [shape=(n_frames, len(classes)), dtype=uint8]
        ``labels[i, c] == 1`` when class ``c`` is active at ``grid.times(n_frames)[i]``.
    """
    index = {name: i for i, name in enumerate(classes)}
    labels = np.zeros((n_frames, len(classes)), dtype=np.uint8)
    if n_frames == 0:
        return labels
    for event in events:
        if isinstance(event, tuple):
            name, onset, offset = event
        else:
            name, onset, offset = event.label, event.onset, event.offset
        if name not in index:
            raise KeyError(f"event class {name!r} is not in the vocabulary of {len(classes)} classes")
        # first frame with centre >= onset, first frame with centre >= offset
        lo = math.ceil((onset - grid.first_centre) / grid.hop_s - 1e-9)
        hi = math.ceil((offset - grid.first_centre) / grid.hop_s - 1e-9)
        lo, hi = max(lo, 0), min(hi, n_frames)
        if hi > lo:
            labels[lo:hi, index[name]] = 1
    return labels
