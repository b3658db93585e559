"""Which instruments a multi-label model predicts in place of the true one.

For a true class ``t`` and another class ``p``, ``matrix[t, p]`` counts the frames where
``t`` is true but missed while ``p`` is predicted although it is not true (a false positive
in the same frame).  Row ``t`` thus tells what the model hears instead of ``t``;
``missed[t]`` counts all misses of ``t``, with or without a substitute.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from evaluation.inputs import check_labels, check_mask, check_same_shape


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, *, mask: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Multi-label substitution counts.

    Parameters
    ----------
    y_true, y_pred : np.ndarray [shape=(n_frames, n_classes)]
        Multi-hot truth and thresholded predictions.
    mask : np.ndarray [shape=(n_frames, n_classes), dtype=bool] or None
        Only known pairs count, for the missed class and the false positive alike.

    Returns
    -------
    dict
        ``matrix`` ``[shape=(n_classes, n_classes), dtype=int64]`` (diagonal is 0) and
        ``missed`` ``[shape=(n_classes,)]``.
    """
    y_true = check_labels(y_true, name="y_true")
    y_pred = check_labels(y_pred, name="y_pred")
    check_same_shape(y_true, y_pred, names=("y_true", "y_pred"))
    mask = check_mask(mask, y_true.shape).astype(np.int64)
    t = y_true.astype(np.int64)
    p = y_pred.astype(np.int64)
    miss = t * (1 - p) * mask
    false_pos = (1 - t) * p * mask
    matrix = miss.T @ false_pos
    np.fill_diagonal(matrix, 0)  # a class cannot be both missed and a false positive
    return {"matrix": matrix, "missed": miss.sum(axis=0)}


def ranked_confusions(
    matrix: np.ndarray, missed: np.ndarray, classes: Sequence[str], *, top: int | None = 20
) -> list[dict[str, object]]:
    """The largest substitutions as rows ``{true, predicted, frames, share_of_misses}``.

    ``share_of_misses`` is ``frames / missed[true]``.  Sorted by frames (descending), then
    by names; zero counts are left out.
    """
    matrix = np.asarray(matrix)
    missed = np.asarray(missed)
    n = len(classes)
    if matrix.shape != (n, n) or missed.shape != (n,):
        raise ValueError(
            f"matrix {matrix.shape} and missed {missed.shape} do not match {n} classes"
        )
    rows = [
        {
            "true": classes[i],
            "predicted": classes[j],
            "frames": int(matrix[i, j]),
            "share_of_misses": float(matrix[i, j] / missed[i]),
        }
        for i in range(n)
        for j in range(n)
        if matrix[i, j] > 0
    ]
    rows.sort(key=lambda r: (-r["frames"], r["true"], r["predicted"]))
    return rows if top is None else rows[:top]
