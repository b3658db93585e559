"""Median filtering of frame activations along time, one window per class.

A median filter removes activations shorter than half its length and fills gaps of the same
size, without moving onsets of long events.  One window cannot suit every class: 0.5 s erases
drum hits (their labelled notes last a few frames), while it fills the dropouts of a sustained
pad.  A run's decision rule (:mod:`evaluation.decision`) holds a window per class, tuned on
validation, and :func:`smooth_per_class` applies it.
"""

from __future__ import annotations

import numpy as np
from scipy.ndimage import median_filter

from evaluation.inputs import check_scores


def median_filter_frames(frame_rate: float, seconds: float) -> int:
    """An odd filter length in frames covering about ``seconds`` at ``frame_rate``."""
    if not frame_rate > 0 or seconds < 0:
        raise ValueError(f"need frame_rate > 0 and seconds >= 0, got {frame_rate}, {seconds}")
    size = max(1, int(round(seconds * frame_rate)))
    return size if size % 2 else size + 1


def smooth_activations(y_score: np.ndarray, *, size: int) -> np.ndarray:
    """Median filter each class's activation along time.

    Parameters
    ----------
    y_score : np.ndarray [shape=(n_frames, n_classes)]
        Frame probabilities of one track (never several tracks stacked).
    size : int
        Odd filter length in frames; 1 returns a copy.

    Returns
    -------
    np.ndarray [shape=(n_frames, n_classes), dtype=float32]
        Edges are extended with the nearest frame.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or size < 1 or size % 2 == 0:
        raise ValueError(
            f"size must be an odd number of frames >= 1, got {size!r}; "
            "use median_filter_frames(frame_rate, seconds) to convert from seconds"
        )
    y_score = check_scores(y_score, name="y_score")
    if size == 1 or y_score.shape[0] == 0:
        return y_score.astype(np.float32)
    return median_filter(y_score, size=(int(size), 1), mode="nearest").astype(np.float32)


def smooth_per_class(y_score: np.ndarray, *, sizes: np.ndarray) -> np.ndarray:
    """Median filter each class's activation with its own length.

    Parameters
    ----------
    y_score : np.ndarray [shape=(n_frames, n_classes)]
        Frame probabilities of one track.
    sizes : np.ndarray [shape=(n_classes,), dtype=int]
        Odd filter length of each class in frames (1: that class is left as it is).

    Returns
    -------
    np.ndarray [shape=(n_frames, n_classes), dtype=float32]
    """
    y_score = check_scores(y_score, name="y_score")
    sizes = np.asarray(sizes)
    if sizes.shape != (y_score.shape[1],):
        raise ValueError(f"sizes has shape {sizes.shape}; give one filter length per class ({y_score.shape[1]},)")
    out = y_score.astype(np.float32)
    for size in np.unique(sizes):
        if size > 1:
            columns = np.flatnonzero(sizes == size)
            out[:, columns] = smooth_activations(y_score[:, columns], size=int(size))
    return out
