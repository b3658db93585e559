"""Validation scores computed during training (frame micro F1 at 0.5, macro mAP).

Only known labels of real frames count.  An undefined score (no known labels, or no class
with both positives and negatives for mAP) is NaN, never 0.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import average_precision_score

PRESENT = 0.5


def micro_f1(probs: np.ndarray, targets: np.ndarray, mask: np.ndarray, *, threshold: float = 0.5) -> float:
    """Micro-averaged F1 of ``probs >= threshold`` against ``targets >= 0.5`` where ``mask``.

    Parameters
    ----------
    probs, targets : np.ndarray [shape=(N, C)]
    mask : np.ndarray [shape=(N, C), dtype=bool]
    """
    if not mask.any():
        return float("nan")
    predicted = (probs >= threshold) & mask
    truth = (targets >= PRESENT) & mask
    tp = float((predicted & truth).sum())
    denominator = float(predicted.sum() + truth.sum())
    return float("nan") if denominator == 0 else 2.0 * tp / denominator


def macro_average_precision(probs: np.ndarray, targets: np.ndarray, mask: np.ndarray) -> float:
    """Mean over classes of average precision on known entries; classes without both a
    positive and a negative are left out (NaN when none is left)."""
    scores = []
    for c in range(probs.shape[1]):
        known = mask[:, c]
        truth = targets[known, c] >= PRESENT
        if truth.all() or not truth.any():
            continue
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            scores.append(average_precision_score(truth, probs[known, c]))
    return float(np.mean(scores)) if scores else float("nan")


def score_predictions(probs: np.ndarray, targets: np.ndarray, mask: np.ndarray, *, prefix: str) -> dict[str, float]:
    """``{prefix}f1`` and ``{prefix}map`` for one level (frame or clip)."""
    return {
        f"{prefix}f1": micro_f1(probs, targets, mask),
        f"{prefix}map": macro_average_precision(probs, targets, mask),
    }
