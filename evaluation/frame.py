"""Frame-level multi-label metrics, with masks for partially known labels.

Each function validates its inputs, then returns a dict of named scores.  Only known
``(frame, class)`` pairs count (``mask[i, c]`` True).  An undefined score is NaN, never 0:

* a class's precision is NaN when it is never predicted, its recall when it is never true,
  its F1 when it is neither (``tp + fp + fn == 0``); macro averages skip NaN classes;
* ``*_samples`` averages skip frames where nothing is true and nothing predicted;
* a class's average precision is NaN without positives, its ROC-AUC without positives or
  without negatives.

With a full mask the scores come straight from scikit-learn (``zero_division=np.nan``); with a
partial mask, per-class and micro scores use scikit-learn on the known entries.
"""

from __future__ import annotations

import warnings

import numpy as np
from sklearn.metrics import (
    average_precision_score,
    hamming_loss,
    jaccard_score,
    precision_recall_fscore_support,
    roc_auc_score,
)

from evaluation.inputs import check_labels, check_mask, check_same_shape, check_scores

AVERAGES = ("micro", "macro", "weighted", "samples")


def per_class_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, *, mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Precision, recall, F1 and support of each class over its known frames.

    Parameters
    ----------
    y_true, y_pred : np.ndarray [shape=(n_frames, n_classes)]
        Multi-hot truth and thresholded predictions.
    mask : np.ndarray [shape=(n_frames, n_classes), dtype=bool] or None
        Known labels; ``None`` means all known.

    Returns
    -------
    dict with ``precision``, ``recall``, ``f1`` (float, NaN where undefined), ``support``
    (true positives among known frames) and ``n_known``, each ``[shape=(n_classes,)]``.
    """
    y_true, y_pred, mask = _check_pair(y_true, y_pred, mask)
    n_classes = y_true.shape[1]
    out = {key: np.full(n_classes, np.nan) for key in ("precision", "recall", "f1")}
    out["support"] = np.zeros(n_classes, dtype=np.int64)
    out["n_known"] = mask.sum(axis=0).astype(np.int64)
    for c in range(n_classes):
        known = mask[:, c]
        if not known.any():
            continue
        t, p = y_true[known, c], y_pred[known, c]
        prec, rec, f1, _ = precision_recall_fscore_support(
            t, p, average="binary", zero_division=np.nan
        )
        out["precision"][c], out["recall"][c], out["f1"][c] = prec, rec, f1
        out["support"][c] = int(t.sum())
    return out


def frame_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, *, mask: np.ndarray | None = None
) -> dict[str, float]:
    """Multi-label scores of thresholded frame predictions.

    Parameters
    ----------
    y_true, y_pred : np.ndarray [shape=(n_frames, n_classes)]
        Multi-hot truth and predictions (0/1).
    mask : np.ndarray [shape=(n_frames, n_classes), dtype=bool] or None

    Returns
    -------
    dict
        ``f1_<avg>``, ``precision_<avg>``, ``recall_<avg>`` for avg in micro, macro,
        weighted, samples; ``hamming_loss`` (fraction of known pairs that are wrong);
        ``jaccard_samples``; ``n_frames``; ``n_known`` (known pairs).
    """
    y_true, y_pred, mask = _check_pair(y_true, y_pred, mask)
    out: dict[str, float] = {"n_frames": int(y_true.shape[0]), "n_known": int(mask.sum())}
    if mask.all():
        out.update(_full_mask_scores(y_true, y_pred))
    else:
        out.update(_partial_mask_scores(y_true, y_pred, mask))
    return out


def ranking_metrics(
    y_true: np.ndarray, y_score: np.ndarray, *, mask: np.ndarray | None = None
) -> dict[str, object]:
    """Threshold-free scores: average precision and ROC-AUC, per class and averaged.

    Returns
    -------
    dict
        ``map_macro`` (mean of the defined per-class APs), ``map_micro`` (AP over all known
        pairs), ``auc_macro``, ``auc_micro``, and arrays ``ap`` and ``auc``
        ``[shape=(n_classes,)]`` with NaN where undefined.
    """
    y_true = check_labels(y_true, name="y_true")
    y_score = check_scores(y_score, name="y_score")
    check_same_shape(y_true, y_score, names=("y_true", "y_score"))
    mask = check_mask(mask, y_true.shape)
    n_classes = y_true.shape[1]
    ap = np.full(n_classes, np.nan)
    auc = np.full(n_classes, np.nan)
    for c in range(n_classes):
        t, s = y_true[mask[:, c], c], y_score[mask[:, c], c]
        n_pos = int(t.sum())
        if n_pos > 0:
            ap[c] = average_precision_score(t, s)
            if n_pos < t.size:
                auc[c] = roc_auc_score(t, s)
    t_all, s_all = y_true[mask], y_score[mask]
    n_pos = int(t_all.sum())
    return {
        "map_macro": _nanmean(ap),
        "map_micro": float(average_precision_score(t_all, s_all)) if n_pos else np.nan,
        "auc_macro": _nanmean(auc),
        "auc_micro": float(roc_auc_score(t_all, s_all)) if 0 < n_pos < t_all.size else np.nan,
        "ap": ap,
        "auc": auc,
    }


def _check_pair(y_true, y_pred, mask):
    y_true = check_labels(y_true, name="y_true")
    y_pred = check_labels(y_pred, name="y_pred")
    check_same_shape(y_true, y_pred, names=("y_true", "y_pred"))
    return y_true, y_pred, check_mask(mask, y_true.shape)


def _full_mask_scores(y_true: np.ndarray, y_pred: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    for average in AVERAGES:
        prec, rec, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, average=average, zero_division=np.nan
        )
        out[f"precision_{average}"] = float(prec)
        out[f"recall_{average}"] = float(rec)
        out[f"f1_{average}"] = float(f1)
    out["hamming_loss"] = float(hamming_loss(y_true, y_pred)) if y_true.size else np.nan
    # jaccard_score has no zero_division=nan: skip frames with an empty union ourselves.
    defined = (y_true | y_pred).any(axis=1)
    out["jaccard_samples"] = (
        float(jaccard_score(y_true[defined], y_pred[defined], average="samples"))
        if defined.any() else np.nan
    )
    return out


def _partial_mask_scores(y_true: np.ndarray, y_pred: np.ndarray, mask: np.ndarray) -> dict[str, float]:
    out: dict[str, float] = {}
    t_all, p_all = y_true[mask], y_pred[mask]
    if t_all.size:
        prec, rec, f1, _ = precision_recall_fscore_support(
            t_all, p_all, average="binary", zero_division=np.nan
        )
    else:
        prec = rec = f1 = np.nan
    out.update(precision_micro=float(prec), recall_micro=float(rec), f1_micro=float(f1))
    per_class = per_class_metrics(y_true, y_pred, mask=mask)
    weights = per_class["support"].astype(np.float64)
    for key in ("precision", "recall", "f1"):
        values = per_class[key]
        out[f"{key}_macro"] = _nanmean(values)
        ok = ~np.isnan(values)
        out[f"{key}_weighted"] = (
            float(np.sum(values[ok] * weights[ok]) / weights[ok].sum()) if weights[ok].sum() > 0 else np.nan
        )
    known = mask.astype(np.int64)
    tp = (y_true & y_pred & mask).sum(axis=1).astype(np.float64)
    fp = ((1 - y_true) & y_pred & known).sum(axis=1).astype(np.float64)
    fn = (y_true & (1 - y_pred) & known).sum(axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        out["precision_samples"] = _nanmean(tp / (tp + fp))
        out["recall_samples"] = _nanmean(tp / (tp + fn))
        out["f1_samples"] = _nanmean(2 * tp / (2 * tp + fp + fn))
        out["jaccard_samples"] = _nanmean(tp / (tp + fp + fn))
    out["hamming_loss"] = float(np.mean(t_all != p_all)) if t_all.size else np.nan
    return out


def _nanmean(values: np.ndarray) -> float:
    values = np.asarray(values, dtype=np.float64)
    if values.size == 0 or np.isnan(values).all():
        return np.nan
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        return float(np.nanmean(values))
