"""Input checks shared by the metric functions.

Every metric validates its arrays before computing anything, and the messages guess the
usual mistake (transposed arrays, logits instead of probabilities, arguments swapped).
"""

from __future__ import annotations

import numpy as np


def check_labels(y: np.ndarray, *, name: str = "y_true") -> np.ndarray:
    """A 2-D multi-hot 0/1 array, returned as uint8 ``[shape=(n_items, n_classes)]``."""
    y = np.asarray(y)
    _check_2d(y, name)
    if y.dtype == bool:
        return y.astype(np.uint8)
    if not np.issubdtype(y.dtype, np.number):
        raise ValueError(f"{name} must be numeric 0/1, got dtype {y.dtype}")
    if y.size and not np.isin(y, (0, 1)).all():
        bad = y[~np.isin(y, (0, 1))].ravel()[0]
        raise ValueError(
            f"{name} must be multi-hot 0/1, found the value {bad!r}; did you pass scores or "
            "probabilities where labels were expected (arguments swapped?), or forget to "
            "threshold them?"
        )
    return y.astype(np.uint8)


def check_scores(y: np.ndarray, *, name: str = "y_score") -> np.ndarray:
    """A 2-D array of probabilities in [0, 1], returned as float64."""
    y = np.asarray(y)
    _check_2d(y, name)
    if not np.issubdtype(y.dtype, np.number) and y.dtype != bool:
        raise ValueError(f"{name} must be numeric probabilities, got dtype {y.dtype}")
    y = y.astype(np.float64)
    if y.size and not np.isfinite(y).all():
        raise ValueError(f"{name} contains NaN or Inf; check the model output for the offending track")
    if y.size and (y.min() < 0.0 or y.max() > 1.0):
        raise ValueError(
            f"{name} must be probabilities in [0, 1], got values in [{y.min():.3g}, {y.max():.3g}]; "
            "did you pass logits? Apply a sigmoid first"
        )
    return y


def check_mask(mask: np.ndarray | None, shape: tuple[int, int], *, name: str = "mask") -> np.ndarray:
    """A boolean known-mask of ``shape``; ``None`` means everything is known."""
    if mask is None:
        return np.ones(shape, dtype=bool)
    mask = np.asarray(mask)
    _check_2d(mask, name)
    if mask.dtype != bool:
        if not np.isin(mask, (0, 1)).all():
            raise ValueError(f"{name} must be boolean (True = label known), got dtype {mask.dtype}")
        mask = mask.astype(bool)
    if mask.shape != tuple(shape):
        raise ValueError(f"{name} has shape {mask.shape} but the labels have shape {tuple(shape)}")
    return mask


def check_same_shape(a: np.ndarray, b: np.ndarray, *, names: tuple[str, str]) -> None:
    """Raise when two 2-D arrays differ in shape, suggesting a transpose when it fits."""
    if a.shape == b.shape:
        return
    hint = ""
    if a.shape == b.shape[::-1]:
        hint = "; one of them looks transposed: expected (n_frames, n_classes) for both"
    elif a.shape[1] == b.shape[1]:
        hint = "; the item counts differ: are the predictions from another track or frame grid?"
    elif a.shape[0] == b.shape[0]:
        hint = "; the class counts differ: match the run's classes to the store's by name first"
    raise ValueError(f"{names[0]} has shape {a.shape} but {names[1]} has shape {b.shape}{hint}")


def check_thresholds(thresholds: float | np.ndarray, n_classes: int) -> np.ndarray:
    """A scalar or one threshold per class, in [0, 1], as a float64 ``(n_classes,)`` array."""
    t = np.asarray(thresholds, dtype=np.float64)
    if t.ndim == 0:
        t = np.full(n_classes, float(t))
    if t.shape != (n_classes,):
        raise ValueError(f"expected a scalar or {n_classes} thresholds (one per class), got shape {t.shape}")
    if not np.isfinite(t).all() or t.min() < 0.0 or t.max() > 1.0:
        raise ValueError(f"thresholds must be in [0, 1], got {t.tolist()}")
    return t


def binarize(y_score: np.ndarray, thresholds: float | np.ndarray) -> np.ndarray:
    """``y_score >= threshold`` per class, as uint8 ``[shape=(n_items, n_classes)]``."""
    y_score = check_scores(y_score)
    t = check_thresholds(thresholds, y_score.shape[1])
    return (y_score >= t[None, :]).astype(np.uint8)


def _check_2d(y: np.ndarray, name: str) -> None:
    if y.ndim != 2:
        hint = " (for a single class use y[:, None])" if y.ndim == 1 else ""
        raise ValueError(f"{name} must be 2-D (n_items, n_classes), got shape {y.shape}{hint}")
