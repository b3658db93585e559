"""The values ``instrec evaluate``, ``tune-thresholds`` and ``predict`` offer, without importing
NumPy, scikit-learn or matplotlib (``instrec --help`` builds its choices from these)."""

from __future__ import annotations

SPLIT_CHOICES = ("test", "validation", "train", "all")
"""Store splits :func:`evaluation.evaluate.evaluate` scores (``all``: every committed track)."""

THRESHOLD_MODES = ("default", "per-class", "micro", "0.5")
"""Threshold variants of :func:`evaluation.predict.decision_rule`."""
