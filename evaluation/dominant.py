"""Dominant-instrument accuracy: the predicted vs the true longest-playing instrument.

The true dominant instrument of a track is the class active in the most frames (the store's
``TrackEntry.dominant`` where it has one).  The predicted one is either the class with the
largest summed activation (``mode='sum'``) or the class active in the most frames after
thresholding (``mode='active_time'``).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from evaluation.inputs import binarize, check_labels, check_mask, check_scores

MODES = ("sum", "active_time")


def true_dominant(y_true: np.ndarray, *, mask: np.ndarray | None = None) -> int | None:
    """Index of the class active in the most known frames; ties go to the lower index.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n_frames, n_classes)]
    mask : np.ndarray [shape=(n_frames, n_classes), dtype=bool] or None

    Returns
    -------
    int or None
        None when no class is ever active.
    """
    y_true = check_labels(y_true, name="y_true")
    mask = check_mask(mask, y_true.shape)
    counts = (y_true & mask).sum(axis=0)
    if counts.size == 0 or counts.max() == 0:
        return None
    return int(np.argmax(counts))


def predicted_dominant(
    y_score: np.ndarray, *, mode: str = "sum", thresholds: float | np.ndarray = 0.5
) -> int | None:
    """Index of the predicted dominant class of one track.

    Parameters
    ----------
    y_score : np.ndarray [shape=(n_frames, n_classes)]
        Frame probabilities.
    mode : {'sum', 'active_time'}
        Largest summed probability, or most frames at or above ``thresholds``.
    thresholds : float or np.ndarray [shape=(n_classes,)]
        Used by ``mode='active_time'`` only.

    Returns
    -------
    int or None
        None for an empty track, or with ``active_time`` when nothing is ever active.
    """
    if mode not in MODES:
        raise ValueError(f"mode must be one of {MODES}, got {mode!r}")
    y_score = check_scores(y_score, name="y_score")
    if y_score.shape[0] == 0 or y_score.shape[1] == 0:
        return None
    if mode == "sum":
        return int(np.argmax(y_score.sum(axis=0)))
    counts = binarize(y_score, thresholds).sum(axis=0)
    return int(np.argmax(counts)) if counts.max() > 0 else None


def dominant_accuracy(
    true: Sequence[str | None], predicted: Sequence[str | None]
) -> dict[str, float]:
    """Fraction of tracks whose predicted dominant instrument is the true one.

    Tracks without a true dominant instrument are not scored; a missing prediction (None)
    counts as wrong.

    Returns
    -------
    dict
        ``accuracy`` (NaN when no track can be scored), ``n_scored``, ``n_correct``,
        ``n_unscored``.
    """
    if len(true) != len(predicted):
        raise ValueError(
            f"got {len(true)} true and {len(predicted)} predicted dominant instruments; "
            "give one of each per track, in the same order"
        )
    pairs = [(t, p) for t, p in zip(true, predicted) if t is not None]
    n_correct = sum(1 for t, p in pairs if p == t)
    return {
        "accuracy": n_correct / len(pairs) if pairs else np.nan,
        "n_scored": len(pairs),
        "n_correct": n_correct,
        "n_unscored": len(true) - len(pairs),
    }
