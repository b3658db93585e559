"""Per-class decision thresholds, tuned on the validation split only.

:func:`tune_thresholds` picks, for each class, the threshold that maximises that class's F1
on the given (validation) frames.  The chosen value lies halfway between the deciding score
and the next lower distinct score, so it makes the same decisions on the validation data and
does not sit on a single training example; it is kept inside [0.001, 0.999] (the run stores
thresholds strictly between 0 and 1).  Classes with fewer than ``min_positives`` positive
known frames keep the default: a threshold tuned on a few seconds of one song overfits them
(on the demo, such classes went to recall 0.9 at precision 0.1 on the test songs).  :mod:`evaluation.decision`
builds a run's decision rule from these and saves it with the run, where prediction reads it.

Per-class F1-optimal thresholds maximise *macro* F1; they do not maximise *micro* F1, which
pools every (frame, class) decision: a low threshold that helps one rare class's F1 adds many
false positives to the pool.  :func:`tune_micro_threshold` picks the one threshold for all
classes that maximises micro F1 on the validation frames (one parameter, so it does not overfit
a small validation split; on the demo, per-class thresholds tuned on the validation songs gave
test micro F1 0.43 and one micro-tuned threshold 0.50, and per-class coordinate ascent on micro F1
reached 0.61 on validation but only 0.48 on test).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import precision_recall_curve

from evaluation.inputs import check_labels, check_mask, check_same_shape, check_scores, check_thresholds

MIN_THRESHOLD = 1e-3
# Seconds of positive validation frames a class needs before its threshold is tuned
# (evaluation.evaluate converts it to frames at the feature set's frame rate).
MIN_POSITIVE_SECONDS = 5.0


def tune_thresholds(
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    default: float | np.ndarray = 0.5,
    min_positives: int = 1,
) -> dict[str, np.ndarray]:
    """Per-class thresholds maximising per-class F1.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n_frames, n_classes)]
        Multi-hot validation truth.
    y_score : np.ndarray [shape=(n_frames, n_classes)]
        Validation probabilities.
    mask : np.ndarray [shape=(n_frames, n_classes), dtype=bool] or None
    default : float or np.ndarray [shape=(n_classes,)]
        Threshold kept by classes that cannot be tuned.
    min_positives : int
        Positive known frames a class needs to be tuned (at least 1).

    Returns
    -------
    dict
        ``thresholds`` ``[shape=(n_classes,)]``, ``f1`` (validation F1 at that threshold, NaN
        when untuned), ``tuned`` (bool per class).
    """
    y_true = check_labels(y_true, name="y_true")
    y_score = check_scores(y_score, name="y_score")
    check_same_shape(y_true, y_score, names=("y_true", "y_score"))
    mask = check_mask(mask, y_true.shape)
    n_classes = y_true.shape[1]
    thresholds = check_thresholds(default, n_classes).copy()
    best_f1 = np.full(n_classes, np.nan)
    tuned = np.zeros(n_classes, dtype=bool)
    for c in range(n_classes):
        t, s = y_true[mask[:, c], c], y_score[mask[:, c], c]
        if t.sum() < max(min_positives, 1):
            continue
        precision, recall, cuts = precision_recall_curve(t, s)
        precision, recall = precision[:-1], recall[:-1]  # the last point has no threshold
        with np.errstate(invalid="ignore", divide="ignore"):
            f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
        k = int(np.argmax(f1))
        lower = np.unique(s[s < cuts[k]])
        value = 0.5 * (cuts[k] + lower[-1]) if lower.size else cuts[k]
        thresholds[c] = min(max(float(value), MIN_THRESHOLD), 1.0 - MIN_THRESHOLD)
        best_f1[c] = f1[k]
        tuned[c] = True
    return {"thresholds": thresholds, "f1": best_f1, "tuned": tuned}


def tune_micro_threshold(
    y_true: np.ndarray, y_score: np.ndarray, *, mask: np.ndarray | None = None, default: float = 0.5,
) -> dict[str, float | bool]:
    """The single threshold, shared by all classes, that maximises micro F1.

    Every known (frame, class) pair is one decision; the threshold lies halfway between the
    deciding score and the next lower distinct score, inside [0.001, 0.999].

    Returns
    -------
    dict
        ``threshold``, ``f1`` (validation micro F1 there, NaN when untuned) and ``tuned``
        (False when there is no positive known pair: ``default`` is returned).
    """
    y_true = check_labels(y_true, name="y_true")
    y_score = check_scores(y_score, name="y_score")
    check_same_shape(y_true, y_score, names=("y_true", "y_score"))
    mask = check_mask(mask, y_true.shape)
    t, s = y_true[mask].astype(bool), y_score[mask]
    if not t.any():
        return {"threshold": float(default), "f1": float("nan"), "tuned": False}
    precision, recall, cuts = precision_recall_curve(t, s)
    precision, recall = precision[:-1], recall[:-1]
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(precision + recall > 0, 2 * precision * recall / (precision + recall), 0.0)
    k = int(np.argmax(f1))
    lower = s[s < cuts[k]]
    value = 0.5 * (cuts[k] + lower.max()) if lower.size else cuts[k]
    return {"threshold": min(max(float(value), MIN_THRESHOLD), 1.0 - MIN_THRESHOLD), "f1": float(f1[k]),
            "tuned": True}
