"""A run's decision rule, tuned once on a validation split and saved with the run.

Evaluation never changes a run: thresholds are tuned when training ends (``instrec train``
does it on the split that chose the epoch, e.g. the held-out-timbre validation store), or by an
explicit ``instrec tune-thresholds``, which writes a new version.  Every report says which
decision rule it used.

The rule has three variants, all tuned on the same validation frames:

``per-class``
    each class's F1-optimal threshold, for classes with at least :data:`MIN_POSITIVE_SECONDS`
    of positive validation frames; the other classes take the micro threshold (a threshold
    tuned on a few seconds of one song overfits);
``micro``
    one threshold for every class, maximising micro F1;
``0.5``
    no tuning.

The **default** variant, used by ``predict`` and by the unsuffixed scores of every report, is
chosen by 2-fold cross-validation over the validation tracks: each variant is tuned on one half
of the tracks and scored (micro F1 + macro F1) on the other; the variant with the best mean
out-of-fold score wins.  On small validation splits per-class thresholds rarely survive this.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from evaluation.frame import frame_metrics
from evaluation.inputs import binarize
from evaluation.thresholds import tune_micro_threshold, tune_thresholds

VARIANTS = ("per-class", "micro", "0.5")
MIN_POSITIVE_SECONDS = 60.0
FORMAT = "instrec-decision-1"


@dataclass(frozen=True)
class Decision:
    """Tuned thresholds of a run (see the module docstring).

    Attributes
    ----------
    classes : list of str
    per_class : np.ndarray [shape=(C,)]
        The ``per-class`` variant (micro threshold where a class could not be tuned).
    tuned : np.ndarray [shape=(C,), dtype=bool]
        Classes whose per-class threshold was tuned.
    micro : float
    default : str
        One of :data:`VARIANTS`.
    info : dict
        Provenance (store, snapshot, split, tracks, time, version) and the cross-validated scores.
    """

    classes: list[str]
    per_class: np.ndarray
    tuned: np.ndarray
    micro: float
    default: str = "micro"
    info: dict[str, Any] = field(default_factory=dict)

    def thresholds(self, variant: str | None = None) -> np.ndarray:
        """One threshold per class for ``variant`` (default: :attr:`default`)."""
        variant = variant or self.default
        if variant == "per-class":
            return self.per_class.astype(np.float64)
        if variant == "micro":
            return np.full(len(self.classes), self.micro, dtype=np.float64)
        if variant == "0.5":
            return np.full(len(self.classes), 0.5, dtype=np.float64)
        raise ValueError(f"unknown decision variant {variant!r}; choose one of {', '.join(VARIANTS)}")

    def to_json(self) -> dict[str, Any]:
        return {
            "format": FORMAT, "default": self.default, "micro": float(self.micro),
            "per_class": {c: float(t) for c, t in zip(self.classes, self.per_class)},
            "per_class_tuned": [c for c, ok in zip(self.classes, self.tuned) if ok], **self.info,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], classes: Sequence[str]) -> "Decision":
        classes = list(classes)
        micro = float(doc["micro"])
        per_class = np.array([float(doc["per_class"].get(c, micro)) for c in classes])
        tuned = np.array([c in set(doc.get("per_class_tuned", [])) for c in classes])
        info = {k: v for k, v in doc.items() if k not in ("format", "default", "micro", "per_class", "per_class_tuned")}
        default = doc.get("default", "micro")
        if default not in VARIANTS:
            raise ValueError(f"decision default {default!r} is not one of {', '.join(VARIANTS)}")
        return cls(classes, per_class, tuned, micro, default, info)

    @classmethod
    def untuned(cls, classes: Sequence[str]) -> "Decision":
        """0.5 everywhere: a run nobody tuned."""
        n = len(classes)
        return cls(list(classes), np.full(n, 0.5), np.zeros(n, dtype=bool), 0.5, "0.5", {"tuned": False})


def _fit(labels: np.ndarray, scores: np.ndarray, mask: np.ndarray, min_positives: int) -> tuple[np.ndarray, np.ndarray, float]:
    micro = tune_micro_threshold(labels, scores, mask=mask)
    micro_t = float(micro["threshold"]) if micro["tuned"] else 0.5
    tuned = tune_thresholds(labels, scores, mask=mask, default=micro_t, min_positives=min_positives)
    return tuned["thresholds"], tuned["tuned"], micro_t


def _score(labels: np.ndarray, scores: np.ndarray, mask: np.ndarray, thresholds: np.ndarray) -> float:
    metrics = frame_metrics(labels, binarize(scores, thresholds), mask=mask)
    values = [metrics["f1_micro"], metrics["f1_macro"]]
    return float(np.nansum(values))


def tune_decision(tracks: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], classes: Sequence[str], *,
                  frame_rate: float, min_positive_seconds: float = MIN_POSITIVE_SECONDS) -> Decision:
    """Tune the three variants on validation tracks and pick the default by 2-fold cross-validation.

    Parameters
    ----------
    tracks : sequence of (labels, scores, mask)
        Per validation track: ``labels [shape=(T, C)]`` 0/1, ``scores [shape=(T, C)]``
        probabilities, ``mask [shape=(T, C)]`` known labels.
    classes : sequence of str
    frame_rate : float
        Frames per second (turns ``min_positive_seconds`` into frames).

    Returns
    -------
    Decision
    """
    if not tracks:
        raise ValueError("need at least one validation track to tune thresholds")
    min_positives = max(1, int(np.ceil(min_positive_seconds * frame_rate)))
    labels, scores, mask = (np.concatenate(parts) for parts in zip(*tracks))
    per_class, tuned, micro = _fit(labels, scores, mask, min_positives)
    cross: dict[str, float] = {v: float("nan") for v in VARIANTS}
    if len(tracks) >= 2:
        halves = [tracks[0::2], tracks[1::2]]
        totals = {v: 0.0 for v in VARIANTS}
        for fit_half, test_half in (halves, halves[::-1]):
            fl, fs, fm = (np.concatenate(p) for p in zip(*fit_half))
            tl, ts, tm = (np.concatenate(p) for p in zip(*test_half))
            # each half holds half the positives: the per-class minimum is halved with it
            pc, _, mi = _fit(fl, fs, fm, max(1, min_positives // 2))
            candidates = {"per-class": pc, "micro": np.full(len(classes), mi), "0.5": np.full(len(classes), 0.5)}
            for variant, thresholds in candidates.items():
                totals[variant] += _score(tl, ts, tm, thresholds) / 2
        cross = totals
        default = max(VARIANTS, key=lambda v: (cross[v], VARIANTS.index(v)))  # ties: the simpler rule
    else:
        default = "micro"
    info = {"cross_validated_f1_micro_plus_macro": {v: round(s, 4) for v, s in cross.items()},
            "min_positive_seconds": min_positive_seconds, "n_tracks": len(tracks), "n_frames": int(len(labels)),
            "tuned_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")}
    return Decision(list(classes), per_class, tuned, micro, default, info)
