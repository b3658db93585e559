"""Prior and majority baselines, built from a run's training statistics only.

A model is only worth its scores if it beats a predictor that never listens to the audio.
The baselines here predict the same thing for every frame of every song:

* scores: each class's **prior**, the fraction of known training frames where it is active;
* ``baseline`` decisions: the **best constant** set of classes, the one that maximises the
  expected micro F1 on the training frames (classes sorted by prior, the top ``k`` kept:
  ``F1(S) = 2 sum_{c in S} p_c / (|S| + sum_c p_c)``); this is threshold tuning for a
  predictor with a single score level, done on training data;
* ``baseline_majority`` decisions: the classes active in at least half of the training frames;
* dominant instrument: always the most frequent dominant instrument of the training tracks
  (ties go to the first name in alphabetical order).

The statistics come from the run's ``training_data.json`` (``frame_prior``,
``dominant_counts``; written by :func:`training.loop.training_priors`) or, for older runs
without them, from the training split of the store the run was trained on.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Mapping, Sequence

import numpy as np

from evaluation.dominant import dominant_accuracy
from evaluation.frame import frame_metrics, ranking_metrics
from evaluation.segment import segment_activity, segment_metrics
from training.run_files import TRAINING_DATA_FILE

if TYPE_CHECKING:
    from training.run import LoadedRun

log = logging.getLogger(__name__)

BASELINES = {
    "baseline": "prior baseline: each class's training-frame prior as its score, the constant set of "
                "classes maximising training micro F1 as its decision, the most frequent training "
                "dominant instrument as its dominant guess",
    "baseline_majority": "majority baseline: classes active in at least half of the training frames, "
                         "always; same scores and dominant guess as the prior baseline",
}


@dataclass(frozen=True)
class PriorBaseline:
    """Training statistics of a run, in the run's class order.

    Attributes
    ----------
    classes : list of str
    prior : np.ndarray [shape=(n_classes,), dtype=float64]
        Fraction of known training frames where the class is active; NaN where never known.
    dominant_counts : dict
        Training tracks per dominant instrument.
    source : str
        Where the statistics came from.
    """

    classes: list[str]
    prior: np.ndarray
    dominant_counts: Mapping[str, int]
    source: str

    def __post_init__(self) -> None:
        prior = np.asarray(self.prior, dtype=np.float64)
        if prior.shape != (len(self.classes),):
            raise ValueError(f"prior has shape {prior.shape} but there are {len(self.classes)} classes")
        finite = prior[np.isfinite(prior)]
        if ((finite < 0) | (finite > 1)).any():
            raise ValueError("priors must be fractions in [0, 1]; did you pass frame counts?")
        object.__setattr__(self, "prior", prior)

    @property
    def dominant(self) -> str | None:
        """The most frequent training dominant instrument (None without any)."""
        return most_frequent(self.dominant_counts)


def most_frequent(counts: Mapping[str, int]) -> str | None:
    """The key with the largest count; ties go to the alphabetically first key."""
    if not counts:
        return None
    return min(counts, key=lambda name: (-int(counts[name]), name))


def best_constant_decisions(prior: np.ndarray) -> np.ndarray:
    """The constant set of classes that maximises expected micro F1 under ``prior``.

    Parameters
    ----------
    prior : np.ndarray [shape=(n_classes,)]
        Activity rate per class; NaN counts as 0.

    Returns
    -------
    np.ndarray [shape=(n_classes,), dtype=bool]
        True for the classes to predict active in every frame: the ``k`` highest priors,
        ``k`` maximising ``2 * (sum of the kept priors) / (k + sum of all priors)``; the
        smallest such ``k`` on ties, none when every prior is 0.
    """
    p = np.nan_to_num(np.asarray(prior, dtype=np.float64), nan=0.0)
    order = np.argsort(-p, kind="stable")
    total = p.sum()
    chosen = np.zeros(p.shape, dtype=bool)
    if total <= 0:
        return chosen
    kept = np.cumsum(p[order])
    f1 = 2 * kept / (np.arange(1, p.size + 1) + total)
    k = int(np.argmax(f1)) + 1  # first maximum: the smallest k
    chosen[order[:k]] = True
    return chosen


def majority_decisions(prior: np.ndarray) -> np.ndarray:
    """Classes active in at least half of the training frames (NaN: not chosen)."""
    p = np.nan_to_num(np.asarray(prior, dtype=np.float64), nan=0.0)
    return p >= 0.5


def load_prior_baseline(run: LoadedRun) -> PriorBaseline | None:
    """The run's training statistics, or None (with a logged reason) when they cannot be had.

    Reads ``training_data.json`` in ``run.run_dir``; when it predates the priors, counts the
    labels of the training split of the store named in the run's ``store.json``.
    """
    run_dir = Path(run.run_dir)
    path = run_dir / TRAINING_DATA_FILE
    data = json.loads(path.read_text()) if path.is_file() else {}
    if "frame_prior" in data:
        prior = np.array([np.nan if data["frame_prior"].get(c) is None else float(data["frame_prior"][c])
                          for c in run.classes])
        return PriorBaseline(list(run.classes), prior, dict(data.get("dominant_counts", {})),
                             f"{path} (training split)")
    return _baseline_from_training_store(run)


def _baseline_from_training_store(run: LoadedRun) -> PriorBaseline | None:
    from storage.store import open_store
    from training.data import label_statistics

    url = dict(getattr(run, "store", {}) or {}).get("url")
    config = dict(getattr(run, "config", {}) or {})
    if not url:
        log.warning("%s: no training statistics and no training store recorded: no baseline", run.run_dir)
        return None
    try:
        reader = open_store(url, mode="r").feature_set(config.get("features", run.feature_name))
        tracks = [t for t in reader.tracks(config.get("train_split", "train")) if t.n_frames > 0]
        stats = label_statistics(reader, [t.track_id for t in tracks])
    except Exception as exc:  # any store problem only costs the baseline, never the report
        log.warning("%s: cannot read the training store %s for the baseline: %s", run.run_dir, url, exc)
        return None
    known = stats.frame_positive + stats.frame_negative
    by_name = {c: (p / k if k else np.nan) for c, p, k in zip(reader.classes, stats.frame_positive, known)}
    counts: dict[str, int] = {}
    for t in tracks:
        if t.dominant is not None:
            counts[t.dominant] = counts.get(t.dominant, 0) + 1
    return PriorBaseline(list(run.classes), np.array([by_name.get(c, np.nan) for c in run.classes]), counts,
                         f"training split of {url} (recounted: the run's training_data.json has no priors)")


def baseline_metrics(
    baseline: PriorBaseline,
    run_index: np.ndarray,
    classes: Sequence[str],
    labels: Sequence[np.ndarray],
    masks: Sequence[np.ndarray],
    dominants: Sequence[str | None],
    *,
    hop_s: float,
    first_centre: float = 0.0,
    segment_s: float = 1.0,
) -> dict[str, Any]:
    """Scores of the prior and majority baselines on the evaluated tracks.

    Parameters
    ----------
    baseline : PriorBaseline
    run_index : np.ndarray [shape=(n_matched,), dtype=int]
        Index in the run's classes of each evaluated class.
    classes : sequence of str
        The evaluated (matched) classes, in the order of the label columns.
    labels, masks : sequences of np.ndarray [shape=(n_frames, n_matched)]
        Truth and known-mask of each track.
    dominants : sequence of (str or None)
        True dominant instrument of each track.
    hop_s, first_centre, segment_s : float
        Frame grid and segment length, as for the model's scores.

    Returns
    -------
    dict
        Flat ``baseline.<level>.<metric>`` and ``baseline_majority.<level>.<metric>`` scores
        (frame, ranking, segment, dominant) plus ``baseline_info`` describing both.
    """
    prior = np.nan_to_num(baseline.prior[np.asarray(run_index, dtype=np.int64)], nan=0.0)
    decisions = {"baseline": best_constant_decisions(baseline.prior)[run_index],
                 "baseline_majority": majority_decisions(baseline.prior)[run_index]}
    y_true = np.concatenate(labels)
    y_mask = np.concatenate(masks)
    scores = np.broadcast_to(prior, y_true.shape)
    ranking = {k: v for k, v in ranking_metrics(y_true, scores, mask=y_mask).items()
               if not isinstance(v, np.ndarray)}
    guess = baseline.dominant
    dominant = dominant_accuracy(list(dominants), [guess] * len(dominants))
    seg_true, seg_known = zip(*(segment_activity(t, hop_s=hop_s, first_centre=first_centre,
                                                 segment_s=segment_s, mask=m) for t, m in zip(labels, masks)))
    out: dict[str, Any] = {}
    for name, on in decisions.items():
        y_pred = np.broadcast_to(on.astype(np.uint8), y_true.shape)
        out.update({f"{name}.frame.{k}": v for k, v in frame_metrics(y_true, y_pred, mask=y_mask).items()})
        out.update({f"{name}.frame.{k}": v for k, v in ranking.items()})
        seg_pred = [np.broadcast_to(on.astype(np.uint8), s.shape) for s in seg_true]
        seg = segment_metrics(np.concatenate(seg_true), np.concatenate(seg_pred), mask=np.concatenate(seg_known))
        out.update({f"{name}.segment.{k}": v for k, v in seg.items()})
        out[f"{name}.dominant.accuracy"] = dominant["accuracy"]
        out[f"{name}.dominant.n_scored"] = dominant["n_scored"]
    out["baseline_info"] = {
        "source": baseline.source,
        "prior": dict(zip(classes, prior.tolist())),
        "predicted_classes": {name: [c for c, k in zip(classes, on) if k] for name, on in decisions.items()},
        "dominant": guess,
        "description": dict(BASELINES),
    }
    return out
