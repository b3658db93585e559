"""Clip-level metrics for weakly labelled data (OpenMIC-2018 style).

OpenMIC gives each (clip, class) pair a relevance in [0, 1] or leaves it unknown.  As in the
OpenMIC-2018 baseline, a known pair is positive when its relevance is >= 0.5, and each class
is scored on its known clips only.  Two F1 figures per class:

* ``f1_pos``: F1 of the positive class (is the instrument detected?);
* ``f1_posneg``: the average of the positive-class F1 and the negative-class F1 (scikit-learn
  ``average='macro'`` on the binary labels of the known clips), the "macro over positive and
  negative" figure the OpenMIC papers report.  Only labels that occur among the known clips'
  truth or predictions are averaged, as ``classification_report`` does.

Both are then averaged over the classes where they are defined (NaN otherwise).
"""

from __future__ import annotations

import numpy as np
from sklearn.metrics import f1_score

from evaluation.inputs import check_mask, check_same_shape, check_scores, check_thresholds


def clip_metrics(
    y_true: np.ndarray,
    y_score: np.ndarray,
    *,
    mask: np.ndarray | None = None,
    thresholds: float | np.ndarray = 0.5,
    relevance_threshold: float = 0.5,
) -> dict[str, object]:
    """Masked per-class clip F1 and its OpenMIC positive/negative macro variant.

    Parameters
    ----------
    y_true : np.ndarray [shape=(n_clips, n_classes)]
        Relevance in [0, 1] (0/1 for strongly labelled data).
    y_score : np.ndarray [shape=(n_clips, n_classes)]
        Predicted clip probabilities.
    mask : np.ndarray [shape=(n_clips, n_classes), dtype=bool] or None
        Known pairs; unknown pairs are ignored (never counted as negatives).
    thresholds : float or np.ndarray [shape=(n_classes,)]
        Decision threshold of the predictions.
    relevance_threshold : float
        Relevance at or above which a known pair is positive.

    Returns
    -------
    dict
        ``f1_pos_macro``, ``f1_posneg_macro`` (floats) and per-class arrays ``f1_pos``,
        ``f1_posneg``, ``support`` (positives among known clips), ``n_known``.
    """
    y_true = check_scores(y_true, name="clip y_true (relevance)")
    y_score = check_scores(y_score, name="clip y_score")
    check_same_shape(y_true, y_score, names=("clip y_true", "clip y_score"))
    mask = check_mask(mask, y_true.shape)
    thresholds = check_thresholds(thresholds, y_true.shape[1])
    truth = (y_true >= relevance_threshold).astype(np.uint8)
    pred = (y_score >= thresholds[None, :]).astype(np.uint8)
    n_classes = y_true.shape[1]
    f1_pos = np.full(n_classes, np.nan)
    f1_posneg = np.full(n_classes, np.nan)
    support = np.zeros(n_classes, dtype=np.int64)
    for c in range(n_classes):
        known = mask[:, c]
        if not known.any():
            continue
        t, p = truth[known, c], pred[known, c]
        support[c] = int(t.sum())
        f1_pos[c] = f1_score(t, p, average="binary", zero_division=np.nan)
        f1_posneg[c] = f1_score(t, p, average="macro", zero_division=np.nan)
    return {
        "f1_pos_macro": _mean_defined(f1_pos),
        "f1_posneg_macro": _mean_defined(f1_posneg),
        "f1_pos": f1_pos,
        "f1_posneg": f1_posneg,
        "support": support,
        "n_known": mask.sum(axis=0).astype(np.int64),
        "n_clips": int(y_true.shape[0]),
    }


def _mean_defined(values: np.ndarray) -> float:
    ok = ~np.isnan(values)
    return float(values[ok].mean()) if ok.any() else np.nan
