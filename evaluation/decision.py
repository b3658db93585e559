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

Before thresholding, each class's activation is median-filtered with **its own window**
(``smoothing_s``): one window for all classes cannot work (0.5 s took a drum detector from
frame F1 0.75 to 0.03, its labelled hits last a few frames).  For each class with
:data:`MIN_POSITIVE_SECONDS` of positive validation frames the window among
:data:`SMOOTHING_CANDIDATES_S` with the best validation F1 (at that class's best threshold) is
kept; the other classes take :func:`default_smoothing_s`: none for drums and percussion, 0.5 s
for the rest.  Every threshold is tuned on the activations smoothed this way, and
:meth:`Decision.apply` is the one place that turns activations into decisions (evaluation and
prediction both call it).
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from evaluation.frame import frame_metrics
from evaluation.inputs import binarize
from evaluation.smoothing import median_filter_frames, smooth_activations, smooth_per_class
from evaluation.thresholds import tune_micro_threshold, tune_thresholds

VARIANTS = ("per-class", "micro", "0.5")
MIN_POSITIVE_SECONDS = 60.0
FORMAT = "instrec-decision-2"
FORMATS = ("instrec-decision-1", FORMAT)  # version 1: no smoothing windows (the defaults apply)
SMOOTHING_CANDIDATES_S = (0.0, 0.1, 0.25, 0.5, 1.0)
DEFAULT_SMOOTHING_S = 0.5
# Classes whose labelled events are hits a few frames long: a median filter erases them.
PERCUSSIVE = re.compile(r"drum|percuss|cymbal|hi-?hat|snare|kick|\btoms?\b|clap|conga|bongo|tabla|cajon|shaker|"
                        r"tambourine|timpani", re.IGNORECASE)


def default_smoothing_s(name: str) -> float:
    """The median-filter window of a class nobody tuned: 0 (none) for percussive classes, else 0.5 s."""
    return 0.0 if PERCUSSIVE.search(name) else DEFAULT_SMOOTHING_S


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
    smoothing_s : np.ndarray [shape=(C,)] or None
        Median-filter window of each class in seconds (0: none); None: :func:`default_smoothing_s`.
    smoothing_tuned : np.ndarray [shape=(C,), dtype=bool] or None
        Classes whose window was tuned on validation.
    """

    classes: list[str]
    per_class: np.ndarray
    tuned: np.ndarray
    micro: float
    default: str = "micro"
    info: dict[str, Any] = field(default_factory=dict)
    smoothing_s: np.ndarray | None = None
    smoothing_tuned: np.ndarray | None = None

    def smoothing(self) -> np.ndarray:
        """Median-filter window of each class in seconds, ``[shape=(C,)]``."""
        if self.smoothing_s is None:
            return np.array([default_smoothing_s(c) for c in self.classes], dtype=np.float64)
        return np.asarray(self.smoothing_s, dtype=np.float64)

    def smooth(self, scores: np.ndarray, *, frame_rate: float, override_s: float | None = None) -> np.ndarray:
        """Each class's activations median-filtered with its window (or ``override_s`` for every class)."""
        seconds = self.smoothing() if override_s is None else np.full(len(self.classes), float(override_s))
        return smooth_per_class(scores, sizes=filter_sizes(seconds, frame_rate))

    def apply(self, scores: np.ndarray, *, frame_rate: float, variant: str | None = None,
              override_s: float | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Decide one track: ``(smoothed activations, 0/1 decisions)``, both ``[shape=(T, C)]``.

        ``variant`` picks the thresholds (default: :attr:`default`); ``override_s`` replaces every
        class's smoothing window (0: raw activations).
        """
        smoothed = self.smooth(scores, frame_rate=frame_rate, override_s=override_s)
        return smoothed, binarize(smoothed, self.thresholds(variant))

    def restricted(self, index: np.ndarray) -> "Decision":
        """The rule for the classes at ``index`` (a run's classes matched to a store's)."""
        index = np.asarray(index, dtype=np.int64)
        tuned_s = None if self.smoothing_tuned is None else np.asarray(self.smoothing_tuned)[index]
        return Decision([self.classes[i] for i in index], self.per_class[index], self.tuned[index], self.micro,
                        self.default, self.info, self.smoothing()[index], tuned_s)

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
        smoothing_tuned = np.zeros(len(self.classes), bool) if self.smoothing_tuned is None else self.smoothing_tuned
        return {
            "format": FORMAT, "default": self.default, "micro": float(self.micro),
            "per_class": {c: float(t) for c, t in zip(self.classes, self.per_class)},
            "per_class_tuned": [c for c, ok in zip(self.classes, self.tuned) if ok],
            "smoothing_s": {c: float(w) for c, w in zip(self.classes, self.smoothing())},
            "smoothing_tuned": [c for c, ok in zip(self.classes, smoothing_tuned) if ok], **self.info,
        }

    @classmethod
    def from_json(cls, doc: dict[str, Any], classes: Sequence[str]) -> "Decision":
        classes = list(classes)
        micro = float(doc["micro"])
        per_class = np.array([float(doc["per_class"].get(c, micro)) for c in classes])
        tuned = np.array([c in set(doc.get("per_class_tuned", [])) for c in classes])
        windows = doc.get("smoothing_s") or {}
        smoothing = np.array([float(windows.get(c, default_smoothing_s(c))) for c in classes])
        smoothing_tuned = np.array([c in set(doc.get("smoothing_tuned", [])) for c in classes])
        info = {k: v for k, v in doc.items() if k not in ("format", "default", "micro", "per_class", "per_class_tuned",
                                                          "smoothing_s", "smoothing_tuned")}
        default = doc.get("default", "micro")
        if default not in VARIANTS:
            raise ValueError(f"decision default {default!r} is not one of {', '.join(VARIANTS)}")
        return cls(classes, per_class, tuned, micro, default, info, smoothing, smoothing_tuned)

    @classmethod
    def untuned(cls, classes: Sequence[str]) -> "Decision":
        """0.5 everywhere and the default smoothing windows: a run nobody tuned."""
        n = len(classes)
        return cls(list(classes), np.full(n, 0.5), np.zeros(n, dtype=bool), 0.5, "0.5", {"tuned": False})


def filter_sizes(seconds: np.ndarray, frame_rate: float) -> np.ndarray:
    """Odd median-filter lengths in frames for windows in seconds (0 s: 1 frame, no filtering)."""
    return np.array([median_filter_frames(frame_rate, float(s)) if s > 0 else 1 for s in seconds], dtype=np.int64)


def tune_smoothing(tracks: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], classes: Sequence[str], *,
                   frame_rate: float, min_positives: int,
                   candidates: Sequence[float] = SMOOTHING_CANDIDATES_S) -> tuple[np.ndarray, np.ndarray]:
    """Each class's median-filter window: the candidate with the best validation F1 (at the class's best
    threshold) for classes with ``min_positives`` positive frames, :func:`default_smoothing_s` for the rest.

    Returns
    -------
    seconds : np.ndarray [shape=(C,)]
    tuned : np.ndarray [shape=(C,), dtype=bool]
    """
    labels, mask = (np.concatenate(parts) for parts in zip(*[(t[0], t[2]) for t in tracks]))
    best = np.full((len(candidates), len(classes)), -1.0)
    for k, seconds in enumerate(candidates):
        size = median_filter_frames(frame_rate, seconds) if seconds > 0 else 1
        scores = np.concatenate([smooth_activations(s, size=size) for _, s, _ in tracks])
        result = tune_thresholds(labels, scores, mask=mask, min_positives=min_positives)
        best[k] = np.where(result["tuned"], np.nan_to_num(result["f1"], nan=-1.0), -1.0)
    tuned = (best > -1.0).any(axis=0)
    picked = np.array(candidates, dtype=np.float64)[np.argmax(best, axis=0)]  # ties: the shorter window
    defaults = np.array([default_smoothing_s(c) for c in classes])
    return np.where(tuned, picked, defaults), tuned


def _fit(labels: np.ndarray, scores: np.ndarray, mask: np.ndarray, min_positives: int) -> tuple[np.ndarray, np.ndarray, float]:
    micro = tune_micro_threshold(labels, scores, mask=mask)
    micro_t = float(micro["threshold"]) if micro["tuned"] else 0.5
    tuned = tune_thresholds(labels, scores, mask=mask, default=micro_t, min_positives=min_positives)
    return tuned["thresholds"], tuned["tuned"], micro_t


def _score(labels: np.ndarray, scores: np.ndarray, mask: np.ndarray, thresholds: np.ndarray) -> float:
    metrics = frame_metrics(labels, binarize(scores, thresholds), mask=mask)
    values = [metrics["f1_micro"], metrics["f1_macro"]]
    return float(np.nansum(values))


def _smoothed(tracks: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], seconds: np.ndarray, frame_rate: float
              ) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    sizes = filter_sizes(seconds, frame_rate)
    return [(labels, smooth_per_class(scores, sizes=sizes), mask) for labels, scores, mask in tracks]


def tune_decision(tracks: Sequence[tuple[np.ndarray, np.ndarray, np.ndarray]], classes: Sequence[str], *,
                  frame_rate: float, min_positive_seconds: float = MIN_POSITIVE_SECONDS) -> Decision:
    """Tune the smoothing windows and the three threshold variants on validation tracks, and pick the
    default variant by 2-fold cross-validation (the windows are tuned again inside each fold).

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
    smoothing, smoothing_tuned = tune_smoothing(tracks, classes, frame_rate=frame_rate, min_positives=min_positives)
    labels, scores, mask = (np.concatenate(parts) for parts in zip(*_smoothed(tracks, smoothing, frame_rate)))
    per_class, tuned, micro = _fit(labels, scores, mask, min_positives)
    cross: dict[str, float] = {v: float("nan") for v in VARIANTS}
    if len(tracks) >= 2:
        halves = [tracks[0::2], tracks[1::2]]
        totals = {v: 0.0 for v in VARIANTS}
        for fit_half, test_half in (halves, halves[::-1]):
            # each half holds half the positives: the per-class minimum is halved with it
            half_minimum = max(1, min_positives // 2)
            windows, _ = tune_smoothing(fit_half, classes, frame_rate=frame_rate, min_positives=half_minimum)
            fl, fs, fm = (np.concatenate(p) for p in zip(*_smoothed(fit_half, windows, frame_rate)))
            tl, ts, tm = (np.concatenate(p) for p in zip(*_smoothed(test_half, windows, frame_rate)))
            pc, _, mi = _fit(fl, fs, fm, half_minimum)
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
    return Decision(list(classes), per_class, tuned, micro, default, info, smoothing, smoothing_tuned)
