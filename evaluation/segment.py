"""Segment-level metrics, as sed_eval's segment-based metrics.

The time axis is cut into fixed segments (1 s by default) from time 0; a class is active in
a segment when it is active in any frame whose centre lies in it.  Scores count
``(segment, class)`` pairs: micro (overall) precision / recall / F1, macro F1 over classes,
and the error rate ``ER = (S + D + I) / N`` where, per segment, ``S = min(FN, FP)``,
``D = max(0, FN - FP)``, ``I = max(0, FP - FN)`` and ``N`` is the number of true active pairs.

The macro F1 is sed_eval's class-wise average exactly (checked against values sed_eval 0.2.1
computed, ``tests/evaluation/data``): a class's precision is undefined without system output,
its recall without reference segments, and its F1 is undefined when either is (0 when both are
0), so the average leaves out a class that only has false positives **and** a class that is
present but never predicted.  ``f1_per_class`` says which classes counted.

Segments never span tracks: compute the activity per track with :func:`segment_activity` and
stack the results before :func:`segment_metrics`.
"""

from __future__ import annotations

import numpy as np

from evaluation.inputs import check_labels, check_mask, check_same_shape


def segment_activity(
    y: np.ndarray,
    *,
    hop_s: float,
    first_centre: float = 0.0,
    segment_s: float = 1.0,
    mask: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Per segment, whether each class is active in any of its frames.

    Parameters
    ----------
    y : np.ndarray [shape=(n_frames, n_classes)]
        Multi-hot frame activity of one track.
    hop_s : float
        Seconds between frame centres.
    first_centre : float
        Centre time of frame 0 in seconds.
    segment_s : float
        Segment length in seconds.
    mask : np.ndarray [shape=(n_frames, n_classes), dtype=bool] or None
        Known frame labels.  A segment's pair is known when any of its frames is known, and
        only known frames decide its activity.

    Returns
    -------
    activity : np.ndarray [shape=(n_segments, n_classes), dtype=uint8]
    known : np.ndarray [shape=(n_segments, n_classes), dtype=bool]
    """
    y = check_labels(y, name="y")
    mask = check_mask(mask, y.shape)
    if not hop_s > 0 or not segment_s > 0:
        raise ValueError(
            f"hop_s and segment_s must be positive seconds, got hop_s={hop_s}, segment_s={segment_s}"
        )
    if segment_s < hop_s:
        raise ValueError(
            f"segment_s={segment_s} is shorter than one frame hop ({hop_s} s); "
            "did you give the segment length in frames instead of seconds?"
        )
    n_frames, n_classes = y.shape
    if n_frames == 0:
        return np.zeros((0, n_classes), np.uint8), np.zeros((0, n_classes), bool)
    times = first_centre + np.arange(n_frames) * hop_s
    index = np.floor(times / segment_s + 1e-9).astype(np.int64)
    index -= index[0]
    n_segments = int(index[-1]) + 1
    activity = np.zeros((n_segments, n_classes), dtype=np.uint8)
    known = np.zeros((n_segments, n_classes), dtype=bool)
    np.maximum.at(activity, index, (y & mask).astype(np.uint8))
    np.logical_or.at(known, index, mask)
    return activity, known


def segment_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, *, mask: np.ndarray | None = None
) -> dict[str, float]:
    """Segment-based scores of segment activities (see :func:`segment_activity`).

    Parameters
    ----------
    y_true, y_pred : np.ndarray [shape=(n_segments, n_classes)]
    mask : np.ndarray [shape=(n_segments, n_classes), dtype=bool] or None

    Returns
    -------
    dict
        ``f1_micro``, ``precision_micro``, ``recall_micro``, ``f1_macro`` (sed_eval's class-wise
        average), ``error_rate``, ``substitution_rate``, ``deletion_rate``, ``insertion_rate``,
        ``n_segments``, and ``f1_per_class`` ``[shape=(n_classes,)]``.  Undefined values are NaN
        (see the module docstring; ER with ``N == 0``).
    """
    y_true = check_labels(y_true, name="y_true")
    y_pred = check_labels(y_pred, name="y_pred")
    check_same_shape(y_true, y_pred, names=("y_true", "y_pred"))
    mask = check_mask(mask, y_true.shape)
    known = mask.astype(np.uint8)
    tp = int((y_true & y_pred & known).sum())
    fp_seg = ((1 - y_true) & y_pred & known).sum(axis=1).astype(np.int64)
    fn_seg = (y_true & (1 - y_pred) & known).sum(axis=1).astype(np.int64)
    fp, fn = int(fp_seg.sum()), int(fn_seg.sum())
    n_ref = tp + fn
    subs = int(np.minimum(fn_seg, fp_seg).sum())
    dels = int(np.maximum(0, fn_seg - fp_seg).sum())
    ins = int(np.maximum(0, fp_seg - fn_seg).sum())
    f1_classes = sed_eval_class_f1(y_true, y_pred, known)
    return {
        "precision_micro": tp / (tp + fp) if tp + fp else np.nan,
        "recall_micro": tp / n_ref if n_ref else np.nan,
        "f1_micro": 2 * tp / (2 * tp + fp + fn) if tp + fp + fn else np.nan,
        "f1_macro": float(np.nanmean(f1_classes)) if (~np.isnan(f1_classes)).any() else np.nan,
        "error_rate": (subs + dels + ins) / n_ref if n_ref else np.nan,
        "substitution_rate": subs / n_ref if n_ref else np.nan,
        "deletion_rate": dels / n_ref if n_ref else np.nan,
        "insertion_rate": ins / n_ref if n_ref else np.nan,
        "n_segments": int(y_true.shape[0]),
        "f1_per_class": f1_classes,
    }


def sed_eval_class_f1(y_true: np.ndarray, y_pred: np.ndarray, known: np.ndarray) -> np.ndarray:
    """Each class's F1 as sed_eval's class-wise metrics define it (NaN without output or without reference,
    0 when neither precision nor recall is above 0), ``[shape=(n_classes,)]``."""
    n_tp = (y_true & y_pred & known).sum(axis=0).astype(np.float64)
    n_sys = (y_pred & known).sum(axis=0).astype(np.float64)
    n_ref = (y_true & known).sum(axis=0).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        precision = np.where(n_sys > 0, n_tp / n_sys, np.nan)
        recall = np.where(n_ref > 0, n_tp / n_ref, np.nan)
        f1 = 2 * precision * recall / (precision + recall)
    return np.where((precision == 0) & (recall == 0), 0.0, f1)
