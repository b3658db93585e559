"""Evaluate a trained run on a feature store split: the unit of work behind ``instrec evaluate``.

:func:`evaluate` opens the store and the run, predicts every track of the split, scores the
predictions at several levels (frame, 1 s segment, clip, dominant instrument) with the run's
decision rule (each class's smoothing window and the default thresholds), with its other
threshold variants and 0.5, and on raw activations, and writes ``metrics.json``, the figures
and ``report.html`` into ``out``.  The report folder is written whole or not at all: it is
built in a hidden folder beside ``out`` and renamed over it when complete, so a run killed
mid-way leaves the previous report as it was (never the new ``metrics.json`` beside the old
``report.html``); ``out`` must be new, empty or an earlier report.  The store may hold another
dataset than the run was trained on: classes are matched by name and the report lists the
run's classes the store lacks.  Decisions use the run's own thresholds, tuned once on validation when training ended
(:mod:`evaluation.decision`); evaluation never tunes or writes anything into the run, so a
score never depends on what was evaluated before.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import logging
import os
import re
import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from core.errors import EvaluationError, InstrecError  # re-exported: defined in core.errors
from evaluation.baseline import baseline_metrics, load_prior_baseline
from evaluation.choices import SPLIT_CHOICES
from evaluation.clip import clip_metrics
from evaluation.confusion import confusion_matrix, ranked_confusions
from evaluation.dominant import dominant_accuracy, predicted_dominant, true_dominant
from evaluation.frame import frame_metrics, per_class_metrics, ranking_metrics
from evaluation.inputs import binarize
from evaluation.plots import plot_confusion, plot_history, plot_per_class, plot_piano_roll
from evaluation.report import format_score, write_report
from evaluation.run_summary import run_summary
from evaluation.segment import segment_activity, segment_metrics
from evaluation.decision import Decision

if TYPE_CHECKING:
    from storage.store import FeatureSetReader, FeatureStore, TrackEntry
    from training.run import LoadedRun

log = logging.getLogger(__name__)

# A split with fewer scored tracks gets a note: its scores say little.
FEW_TRACKS = 5


def _is_report_entry(path: Path) -> bool:
    """A file or folder an evaluation writes into its report folder."""
    if path.is_dir():
        return path.name == "tracks"
    return path.name in ("metrics.json", "report.html") or path.suffix == ".png"


def check_report_folder(out: Path) -> None:
    """Refuse a report folder that holds anything but an earlier report (it will be replaced)."""
    if out.exists() and not out.is_dir():
        raise EvaluationError(f"{out}: is a file; --out must be a folder for the report")
    if out.is_dir():
        foreign = sorted(p.name for p in out.iterdir() if not _is_report_entry(p))
        if foreign:
            raise EvaluationError(
                f"{out}: holds files that are not part of an instrec report ({', '.join(foreign[:3])}"
                f"{', ...' if len(foreign) > 3 else ''}); the report replaces the folder, so choose a new or "
                "empty --out"
            )


def _leftovers(out: Path) -> list[Path]:
    pattern = glob.escape(f".{out.name}.") + "*-report"
    return [p for p in out.parent.glob(pattern) if p.is_dir()] if out.parent.is_dir() else []


def publish_report_folder(staging: Path, out: Path) -> None:
    """Rename the complete report folder ``staging`` over ``out`` (the earlier report is removed)."""
    if out.exists():
        old = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.old-report"
        os.rename(out, old)
        os.rename(staging, out)
        shutil.rmtree(old, ignore_errors=True)
    else:
        os.rename(staging, out)


def write_report_folder(out: Path, write: Any) -> None:
    """Call ``write(folder)`` on a hidden staging folder beside ``out``, then publish it as ``out``.

    Staging folders left by a killed evaluation (``.<name>.<hex>.*-report``) older than an hour
    are removed.  Any failure removes this run's staging folder and leaves ``out`` untouched.
    """
    import time

    out.parent.mkdir(parents=True, exist_ok=True)
    for leftover in _leftovers(out):
        try:
            if time.time() - leftover.stat().st_mtime > 3600:
                shutil.rmtree(leftover, ignore_errors=True)
        except FileNotFoundError:
            pass
    staging = out.parent / f".{out.name}.{uuid.uuid4().hex[:8]}.partial-report"
    try:
        staging.mkdir()
        write(staging)
        publish_report_folder(staging, out)
    except OSError as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise EvaluationError(f"{out}: cannot write the report ({exc.strerror or exc}); free disk space or "
                              "choose a writable --out") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise


@dataclass(frozen=True)
class TrackPrediction:
    """One track's truth and predictions, restricted to the matched classes."""

    track_id: str
    scores: np.ndarray  # (T, C) float32 frame probabilities
    labels: np.ndarray  # (T, C) uint8
    mask: np.ndarray  # (T, C) bool
    clip_true: np.ndarray  # (C,) relevance
    clip_mask: np.ndarray  # (C,) bool
    clip_score: np.ndarray  # (C,) probabilities
    dominant: str | None  # true dominant instrument among the matched classes


@dataclass(frozen=True)
class ClassMatch:
    """The run's classes found in the store, by name, in the run's order."""

    classes: list[str]
    run_index: np.ndarray
    store_index: np.ndarray
    missing: list[str]  # run classes the store lacks
    extra: list[str]  # store classes the run does not predict


def match_classes(run_classes: Sequence[str], store_classes: Sequence[str]) -> ClassMatch:
    """Match classes by name; raises when none are shared."""
    position = {name: i for i, name in enumerate(store_classes)}
    shared = [name for name in run_classes if name in position]
    if not shared:
        raise EvaluationError(
            f"the run predicts {list(run_classes)} but the store has {list(store_classes)}: no class "
            "in common, so nothing can be scored; evaluate on a store with the same instrument taxonomy"
        )
    return ClassMatch(
        classes=shared,
        run_index=np.array([list(run_classes).index(n) for n in shared], dtype=np.int64),
        store_index=np.array([position[n] for n in shared], dtype=np.int64),
        missing=[n for n in run_classes if n not in position],
        extra=[n for n in store_classes if n not in set(run_classes)],
    )


def find_feature_set(store: Any, run: Any) -> Any:
    """The store's feature set computed with the run's feature configuration (by hash)."""
    keys = store.feature_sets()
    for key in keys:
        if key.endswith(run.feature_config_hash[:8]):
            reader = store.feature_set(key)
            if reader.config_hash == run.feature_config_hash:
                return reader
    raise EvaluationError(
        f"{store.url}: no feature set was computed with the run's features "
        f"({run.feature_name}, config hash {run.feature_config_hash[:8]}); the store has "
        f"{', '.join(keys) or 'none'}. Extract them with the run's parameters "
        f"(`instrec extract --features {run.feature_name} ...`)"
    )


def predict_tracks(reader: FeatureSetReader, run: LoadedRun, entries: Sequence[TrackEntry], match: ClassMatch, *, progress: bool = False
                   ) -> tuple[list[TrackPrediction], list[str]]:
    """Predict each track (a progress bar on stderr with ``progress``); a track that fails is
    reported, not fatal."""
    from tqdm import tqdm

    from storage.store import StoreDataError

    results, problems = [], []
    for entry in tqdm(entries, desc="evaluate", unit="track", disable=not progress):
        try:
            features = reader.read_features(entry.track_id)
            if len(features) == 0:
                problems.append(f"{entry.track_id}: no frames, skipped")
                continue
            labels, mask = reader.read_labels(entry.track_id)
            clip_true, clip_mask = reader.read_clip(entry.track_id)
            scores = run.predict(features)[:, match.run_index]
            clip_score = run.predict_clip(features)[match.run_index]
        except StoreDataError:  # lost or damaged data is never skipped: the scores would be of other tracks
            raise
        except (InstrecError, ValueError, KeyError, OSError) as exc:
            problems.append(f"{entry.track_id}: {exc}")
            log.warning("evaluation skipped track %s: %s", entry.track_id, exc)
            continue
        labels = np.asarray(labels)[:, match.store_index].astype(np.uint8)
        mask = np.asarray(mask, dtype=bool)[:, match.store_index]
        dominant = entry.dominant
        if dominant is None:
            index = true_dominant(labels, mask=mask)
            dominant = None if index is None else match.classes[index]
        elif dominant not in match.classes:
            dominant = None  # the run cannot predict it: unscored
        results.append(TrackPrediction(
            track_id=entry.track_id, scores=np.clip(scores, 0.0, 1.0).astype(np.float32),
            labels=labels, mask=mask,
            clip_true=np.clip(np.nan_to_num(np.asarray(clip_true, dtype=np.float64)[match.store_index]), 0, 1),
            clip_mask=np.asarray(clip_mask, dtype=bool)[match.store_index],
            clip_score=np.clip(np.asarray(clip_score, dtype=np.float64), 0, 1), dominant=dominant,
        ))
    return results, problems


# How the predicted dominant instrument is read from a track's activations, and its key suffix.
# The truth is the class with the longest active time (README, pipeline.track), so the headline
# `dominant.accuracy` predicts it the same way: the class with the most frames at or above its threshold.
DOMINANT_MODES = (("active_time", "_active_time"), ("sum", "_summed_probability"))


def score_variant(results: Sequence[TrackPrediction], scores: Sequence[np.ndarray], thresholds: np.ndarray,
                  classes: Sequence[str], *, hop_s: float, first_centre: float, segment_s: float,
                  with_clip: bool) -> dict[str, Any]:
    """All scores of one (activations, thresholds) variant.

    Returns ``{"flat": {"frame.x": ...}, "per_class": ..., "ranking": ..., "confusion": ...,
    "clip": ..., "segment_f1": (C,), "predictions": [per-track binary (T, C)]}``.
    """
    preds = [binarize(s, thresholds) for s in scores]
    y_true = np.concatenate([r.labels for r in results])
    y_mask = np.concatenate([r.mask for r in results])
    y_pred = np.concatenate(preds)
    flat = {f"frame.{k}": v for k, v in frame_metrics(y_true, y_pred, mask=y_mask).items()}
    ranking = ranking_metrics(y_true, np.concatenate(scores), mask=y_mask)
    flat.update({f"frame.{k}": v for k, v in ranking.items() if not isinstance(v, np.ndarray)})
    seg_true, seg_known, seg_pred = [], [], []
    for r, p in zip(results, preds):
        act, known = segment_activity(r.labels, hop_s=hop_s, first_centre=first_centre,
                                      segment_s=segment_s, mask=r.mask)
        pact, _ = segment_activity(p, hop_s=hop_s, first_centre=first_centre, segment_s=segment_s)
        seg_true.append(act), seg_known.append(known), seg_pred.append(pact)
    seg = segment_metrics(np.concatenate(seg_true), np.concatenate(seg_pred), mask=np.concatenate(seg_known))
    flat.update({f"segment.{k}": v for k, v in seg.items() if not isinstance(v, np.ndarray)})
    truth = [r.dominant for r in results]
    for mode, suffix in DOMINANT_MODES:
        guess = [predicted_dominant(s, mode=mode, thresholds=thresholds) for s in scores]
        acc = dominant_accuracy(truth, [None if g is None else classes[g] for g in guess])
        flat[f"dominant.accuracy{suffix}"] = acc["accuracy"]
        flat["dominant.n_scored"] = acc["n_scored"]
    flat["dominant.accuracy"] = flat["dominant.accuracy_active_time"]
    clip = None
    if with_clip:
        clip = clip_metrics(np.stack([r.clip_true for r in results]), np.stack([r.clip_score for r in results]),
                            mask=np.stack([r.clip_mask for r in results]), thresholds=thresholds)
        flat.update({f"clip.{k}": v for k, v in clip.items() if not isinstance(v, np.ndarray)})
    return {
        "flat": flat, "per_class": per_class_metrics(y_true, y_pred, mask=y_mask), "ranking": ranking,
        "confusion": confusion_matrix(y_true, y_pred, mask=y_mask), "clip": clip, "predictions": preds,
        "segment_f1": seg["f1_per_class"],
    }


def evaluate(
    store_url: str,
    run_dir: str | Path,
    split: str = "test",
    out: str | Path = "report",
    *,
    storage_options: dict | None = None,
    smoothing_s: float | None = None,
    segment_s: float = 1.0,
    n_track_plots: int = 4,
    progress: bool = False,
    snapshot: str | None = None,
) -> dict[str, Any]:
    """Evaluate the run at ``run_dir`` on ``split`` of the store at ``store_url`` (its latest
    snapshot, or ``snapshot``: an id from ``instrec store log``).

    ``smoothing_s`` replaces every class's smoothing window of the run's decision rule (0: raw
    activations); None keeps the rule's.  Returns the metrics exactly as written to
    ``out/metrics.json``: plain JSON values, None where a score is undefined (explained under
    ``undefined``; classes left out of macro averages under ``macro_left_out``).  ``progress``
    shows a bar over the split's tracks on stderr.
    """
    from storage.store import open_store
    from training.run import load_run

    run = load_run(run_dir)
    store = open_store(store_url, mode="r", storage_options=storage_options, snapshot=snapshot)
    reader = find_feature_set(store, run)
    return evaluate_loaded(store=store, reader=reader, run=run, split=split, out=out, smoothing_s=smoothing_s,
                           segment_s=segment_s, n_track_plots=n_track_plots, progress=progress)


def run_decision(run: LoadedRun, match: ClassMatch, notes: list[str]) -> tuple[Decision, str]:
    """The run's decision rule restricted to the matched classes, and a sentence saying where it comes from."""
    doc = getattr(run, "decision", None)
    if doc is None:
        notes.append("The run has no tuned thresholds: every decision uses 0.5 (tune them with "
                     "`instrec tune-thresholds --run RUN --store VALIDATION_STORE`).")
        return Decision.untuned(match.classes), "0.5 (the run has no tuned thresholds)"
    decision = Decision.from_json(doc, run.classes).restricted(match.run_index)
    where = doc.get("tuned_on", {})
    source = (f"the run's {decision.default} thresholds (version {doc.get('version', 1)}), tuned on "
              f"{where.get('n_tracks', doc.get('n_tracks', '?'))} {where.get('split', 'validation')} tracks of "
              f"{where.get('store', 'the validation store')}; default chosen by 2-fold cross-validation there")
    if doc.get("format") == "legacy":
        source = "the run's saved per-class thresholds (tuned by an older instrec)"
    if "smoothing_s" not in doc:
        notes.append("The run's thresholds were tuned on raw activations, before smoothing windows were part of the "
                     "decision rule: the default windows apply (none for percussion, 0.5 s otherwise); re-tune with "
                     "`instrec tune-thresholds` to tune both together.")
    return decision, source


def evaluate_loaded(*, store: FeatureStore, reader: FeatureSetReader, run: LoadedRun, split: str, out: str | Path,
                    smoothing_s: float | None = None, segment_s: float = 1.0, n_track_plots: int = 4,
                    progress: bool = False) -> dict[str, Any]:
    """:func:`evaluate` on an opened store, feature set reader and loaded run."""
    if split not in SPLIT_CHOICES:
        raise EvaluationError(f"unknown split {split!r}; choose one of {', '.join(SPLIT_CHOICES)}")
    if not ((smoothing_s is None or smoothing_s >= 0) and segment_s > 0 and n_track_plots >= 0):
        raise EvaluationError(f"smoothing must be >= 0 s, the segment length > 0 s and the number of track plots "
                              f">= 0; got {smoothing_s}, {segment_s} and {n_track_plots}")
    out = Path(out)
    check_report_folder(out)
    match = match_classes(run.classes, reader.classes)
    entries = reader.tracks(None if split == "all" else split)
    if not entries:
        raise EvaluationError(
            f"{store.url}: the {split!r} split of feature set {reader.key} has no committed tracks; "
            "choose another --split or extract more songs"
        )
    notes: list[str] = []
    results, problems = predict_tracks(reader, run, entries, match, progress=progress)
    if not results:
        raise EvaluationError(f"{store.url}: every track of the {split!r} split failed: {problems[:3]}")
    decision, threshold_source = run_decision(run, match, notes)
    thresholds = decision.thresholds()
    if smoothing_s is not None:
        how = "were not smoothed" if smoothing_s == 0 else f"were median-filtered over {smoothing_s:g} s"
        notes.append(f"Every class's activations {how} (--smoothing) instead of with the decision rule's per-class "
                     "windows, which its thresholds were tuned with.")
    windows = decision.smoothing() if smoothing_s is None else np.full(len(match.classes), float(smoothing_s))
    smoothed = [decision.smooth(r.scores, frame_rate=reader.frame_rate, override_s=smoothing_s) for r in results]
    raw = [r.scores for r in results]
    variants: dict[str, tuple[list[np.ndarray], np.ndarray]] = {"": (smoothed, thresholds)}
    variants.update({f"@{v}": (smoothed, decision.thresholds(v)) for v in ("per-class", "micro", "0.5")})
    if windows.any():
        variants["+raw"] = (raw, thresholds)
        variants["+raw@0.5"] = (raw, np.full(len(match.classes), 0.5))
    scored = {
        name: score_variant(results, scores, thr, match.classes, hop_s=reader.hop_s,
                            first_centre=reader.first_centre, segment_s=segment_s, with_clip="+" not in name)
        for name, (scores, thr) in variants.items()
    }
    metrics = _metadata(store, reader, run, split, results, match, thresholds, threshold_source,
                        _smoothing_summary(decision, windows, override=smoothing_s is not None))
    metrics["thresholds"].update({"default": decision.default, "micro": decision.micro,
                                  "per_class": dict(zip(match.classes, decision.per_class.tolist())),
                                  "per_class_tuned": [c for c, ok in zip(match.classes, decision.tuned) if ok]})
    for name, result in scored.items():
        for key, value in result["flat"].items():
            level, metric = key.split(".", 1)
            metrics[f"{level}{name}.{metric}"] = value
    metrics.update(_baseline(run, match, results, reader, segment_s, notes))
    metrics.update(_zero_shot(store, reader, run, match, results, split, thresholds, segment_s, notes))
    main = scored[""]
    metrics["per_class"] = _per_class_table(match.classes, thresholds, windows, scored)
    metrics["macro_left_out"] = macro_left_out(match.classes, main)
    notes.extend(_left_out_notes(metrics["macro_left_out"]))
    metrics["undefined"] = per_class_undefined(metrics["per_class"])
    metrics["confusions"] = ranked_confusions(main["confusion"]["matrix"], main["confusion"]["missed"],
                                              match.classes, top=20)
    metrics["confusion_matrix"] = {"classes": match.classes, "matrix": main["confusion"]["matrix"],
                                   "missed": main["confusion"]["missed"]}
    if match.missing:
        notes.append(f"The store lacks {len(match.missing)} of the run's classes, not scored: "
                     f"{', '.join(match.missing)}.")
    if match.extra:
        notes.append(f"Store classes the run does not predict, ignored: {', '.join(match.extra)}.")
    if not np.concatenate([r.mask for r in results]).all():
        notes.append("Labels are partly unknown: only known (frame, class) pairs are scored.")
    if len(results) < FEW_TRACKS:
        notes.append(f"Only {len(results)} track(s) scored in the {split!r} split: the scores vary a lot with "
                     "the songs chosen; evaluate on a bigger corpus before comparing runs.")
    metrics["notes"] = notes
    metrics["problems"] = problems

    def write(folder: Path) -> None:
        metrics["figures"] = _draw_figures(folder, run, match, results, main, smoothed, thresholds, n_track_plots,
                                           reader)
        write_report(folder, metrics)

    write_report_folder(out, write)
    return json.loads((out / "metrics.json").read_text())


def _baseline(run, match, results, reader, segment_s, notes) -> dict[str, Any]:
    """Prior / majority baseline scores from the run's training statistics (empty without them)."""
    baseline = load_prior_baseline(run)
    if baseline is None:
        notes.append("No prior baseline: the run has no training statistics (training_data.json) and its "
                     "training store cannot be read.")
        return {}
    scores = baseline_metrics(baseline, match.run_index, match.classes, [r.labels for r in results],
                              [r.mask for r in results], [r.dominant for r in results], hop_s=reader.hop_s,
                              first_centre=reader.first_centre, segment_s=segment_s)
    info = scores["baseline_info"]
    notes.append(
        "Baselines (no audio, from the run's training statistics): prior baseline predicts "
        f"{', '.join(info['predicted_classes']['baseline']) or 'nothing'} in every frame; majority baseline "
        f"{', '.join(info['predicted_classes']['baseline_majority']) or 'nothing'}; dominant guess always "
        f"{info['dominant'] or 'none'}.")
    return scores


def _zero_shot(store, reader, run, match, results, split, thresholds, segment_s, notes) -> dict[str, Any]:
    """The musicnn zero-shot baseline (evaluation.zero_shot) where classes have MTT tags."""
    from evaluation import zero_shot

    if not zero_shot.mapped_classes(match.classes):
        return {}
    taggrams = zero_shot.find_taggram_set(store)
    if taggrams is None:
        notes.append("No zero-shot baseline: the store holds no MTT musicnn taggram; add one with "
                     "`instrec extract ... --features musicnn --musicnn-layer taggram`.")
        return {}
    threshold, source = _zero_shot_threshold(store, reader, run, match, split)
    scores = zero_shot.zero_shot_metrics(taggrams, results, match.classes, thresholds, threshold=threshold,
                                         hop_s=reader.hop_s, first_centre=reader.first_centre, segment_s=segment_s)
    if scores:
        info = scores["zero_shot_info"]
        info["threshold_source"] = source
        own = info["model_on_these_classes"]
        notes.append(
            f"Zero-shot baseline (musicnn MTT tags of {taggrams.key}, never trained on this data; threshold "
            f"{threshold:.3f}, {source}) scores {len(info['classes'])} of {len(match.classes)} classes: "
            f"{', '.join(info['classes'])}; no MTT tag: {', '.join(info['unscored_classes']) or 'none'}. "
            f"The model on the same classes: frame F1 micro {format_score(own['frame.f1_micro'])}, macro "
            f"{format_score(own['frame.f1_macro'])}, mAP {format_score(own['frame.map_macro'])}.")
    return scores


def _zero_shot_threshold(store, reader, run, match, split) -> tuple[float, str]:
    """The zero-shot decision threshold and where it comes from: tuned for micro F1 on the split the
    run's own thresholds were tuned on, else on this store's validation split when it is not the
    one reported, else 0.5.  Nothing is written to the run."""
    from evaluation import zero_shot
    from storage.store import open_store

    where = dict((getattr(run, "decision", None) or {}).get("tuned_on", {}) or {})
    candidates = []
    if where.get("store"):
        try:
            other = open_store(str(where["store"]), mode="r")
            candidates.append((other, find_feature_set(other, run), str(where.get("split", "validation")),
                               f"the {where.get('split', 'validation')} split of {where['store']}, where the run's "
                               "thresholds were tuned"))
        except Exception as exc:  # the store moved or is unreadable: fall back, and say so below
            log.info("zero-shot threshold: cannot open %s (%s)", where["store"], exc)
    if split not in ("validation", "all"):
        candidates.append((store, reader, "validation", "this store's validation split"))
    for source_store, source_reader, source_split, label in candidates:
        taggrams = zero_shot.find_taggram_set(source_store)
        tuned = None if taggrams is None else zero_shot.tune_zero_shot_threshold(
            taggrams, source_reader, match.classes, split=source_split)
        if tuned is not None:
            return tuned, f"tuned for micro F1 on {label}"
    return 0.5, "0.5 (no validation split with a musicnn taggram to tune it on)"


def _smoothing_summary(decision: Decision, windows: np.ndarray, *, override: bool) -> dict[str, Any]:
    tuned = [c for c, ok in zip(decision.classes, decision.smoothing_tuned if decision.smoothing_tuned is not None
                                else np.zeros(len(windows), bool)) if ok and not override]
    per_class = dict(zip(decision.classes, windows.tolist()))
    groups: dict[float, list[str]] = {}
    for name, seconds in per_class.items():
        groups.setdefault(seconds, []).append(name)
    text = "; ".join(f"{'none' if s == 0 else f'{s:g} s'}: {', '.join(names)}" for s, names in sorted(groups.items()))
    origin = ("--smoothing, for every class" if override else
              f"the decision rule's, tuned on validation for {', '.join(tuned)}; defaults for the rest" if tuned else
              "the decision rule's defaults (none for percussion, 0.5 s otherwise)")
    return {"per_class_s": per_class, "tuned": tuned, "override": override,
            "description": f"median filter per class ({origin}): {text}"}


def macro_left_out(classes: Sequence[str], main: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Per macro-averaged score, the classes it leaves out because their score is undefined, and why."""
    pc, ranking = main["per_class"], main["ranking"]
    rules = {
        "frame.f1_macro": (pc["f1"], "no positive frame and no predicted frame"),
        "frame.precision_macro": (pc["precision"], "never predicted"),
        "frame.recall_macro": (pc["recall"], "no positive frame"),
        "frame.map_macro": (ranking["ap"], "no positive frame"),
        "frame.auc_macro": (ranking["auc"], "no positive or no negative frame"),
        "segment.f1_macro": (main["segment_f1"], "no reference segment or no predicted segment (sed_eval's rule)"),
    }
    out = {}
    for key, (values, why) in rules.items():
        missing = [c for c, v in zip(classes, np.asarray(values, dtype=float)) if np.isnan(v)]
        if missing:
            out[key] = {"left_out": missing, "n_averaged": len(classes) - len(missing), "why": why}
    return out


def _left_out_notes(left_out: dict[str, dict[str, Any]]) -> list[str]:
    """One note per group of classes left out of the same macro averages."""
    by_classes: dict[tuple[str, ...], list[str]] = {}
    for key, entry in left_out.items():
        by_classes.setdefault(tuple(entry["left_out"]), []).append(f"{key} ({entry['why']})")
    return [f"Macro averages leave out {', '.join(names)}, whose score is undefined: {'; '.join(keys)}."
            for names, keys in by_classes.items()]


def per_class_undefined(table: dict[str, dict[str, Any]]) -> dict[str, str]:
    """``per_class.<class>.<score>`` -> why, for each undefined per-class score of the report's table."""
    reasons = {"precision": "never predicted", "recall": "no positive frame", "ap": "no positive frame",
               "f1": "no positive frame and no predicted frame", "auc": "no positive or no negative frame"}
    return {f"per_class.{name}.{score}": why for name, row in table.items() for score, why in reasons.items()
            if score in row and (row[score] is None or row[score] != row[score])}


def _metadata(store, reader, run, split, results, match, thresholds, source, smoothing) -> dict[str, Any]:
    run_dir = Path(run.run_dir)
    return {
        "schema": "instrec-evaluation-2",
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
        "run": {"dir": str(run_dir), "name": run_dir.name, "feature_name": run.feature_name,
                "feature_config_hash": run.feature_config_hash, "trained_on": dict(getattr(run, "store", {}))},
        "store": {"url": str(store.url), "snapshot_id": store.snapshot_id, "dataset": store.dataset},
        "feature_set": {"key": reader.key, "config_hash": reader.config_hash},
        "snapshot_id": store.snapshot_id,
        "feature_hash": reader.config_hash,
        "split": split,
        "n_tracks": len(results),
        "n_frames": int(sum(len(r.scores) for r in results)),
        "classes": match.classes,
        "missing_classes": match.missing,
        "extra_classes": match.extra,
        "thresholds": {"source": source, "values": dict(zip(match.classes, np.asarray(thresholds).tolist()))},
        "smoothing": smoothing,
        "variants": {f"<level>{k}": v for k, v in {"": "the run's decision rule: each class's smoothing window, "
                                                       "then the default thresholds (what predict does)",
                                                   "@per-class": "per-class thresholds tuned on validation (micro "
                                                                 "threshold for classes with too few positives), "
                                                                 "smoothed as the rule says",
                                                   "@micro": "one threshold for every class, tuned on the "
                                                             "validation split for micro F1, smoothed",
                                                   "@0.5": "threshold 0.5, smoothed",
                                                   "+raw": "default thresholds on raw activations (no smoothing)",
                                                   "+raw@0.5": "threshold 0.5 on raw activations (nothing "
                                                               "tuned)"}.items()},
        "dominant": {"truth": "the class with the longest active time among the labels",
                     "dominant.accuracy": "predicted as the class with the most frames at or above its threshold "
                                          "(active time, as the truth; = dominant.accuracy_active_time)",
                     "dominant.accuracy_summed_probability": "predicted as the class with the largest summed "
                                                             "activation"},
        "model": run_summary(run),
        "tracks": [{"track_id": r.track_id, "n_frames": len(r.scores), "dominant_true": r.dominant}
                   for r in results],
    }


def _per_class_table(classes, thresholds, windows, scored) -> dict[str, dict[str, Any]]:
    main, at_half = scored[""], scored["@0.5"]
    table = {}
    for c, name in enumerate(classes):
        row = {
            "precision": main["per_class"]["precision"][c], "recall": main["per_class"]["recall"][c],
            "f1": main["per_class"]["f1"][c], "support": int(main["per_class"]["support"][c]),
            "threshold": float(thresholds[c]), "smoothing_s": float(windows[c]), "ap": main["ranking"]["ap"][c],
            "auc": main["ranking"]["auc"][c], "f1@0.5": at_half["per_class"]["f1"][c],
        }
        if "+raw" in scored:
            row["f1+raw"] = scored["+raw"]["per_class"]["f1"][c]
        if main["clip"] is not None:
            row["clip_f1"] = main["clip"]["f1_pos"][c]
            row["clip_f1_posneg"] = main["clip"]["f1_posneg"][c]
        row["n_known_frames"] = int(main["per_class"]["n_known"][c])
        # the class's prior baseline: always active (the best constant decision for its F1 alone)
        share = row["support"] / row["n_known_frames"] if row["n_known_frames"] else 0.0
        row["baseline_f1"] = 2 * share / (1 + share) if share > 0 else None
        table[name] = row
    return table


def _draw_figures(out, run, match, results, main, activations, thresholds, n_track_plots, reader) -> dict[str, Any]:
    figures: dict[str, Any] = {}
    pc = main["per_class"]
    plot_per_class(match.classes, {"precision": pc["precision"], "recall": pc["recall"], "f1": pc["f1"]},
                   path=out / "per_class.png", title="Per-class scores (frame level, reported thresholds)")
    figures["per_class"] = "per_class.png"
    plot_confusion(main["confusion"]["matrix"], main["confusion"]["missed"], match.classes,
                   path=out / "confusion.png")
    figures["confusion"] = "confusion.png"
    if plot_history(list(getattr(run, "history", []) or []), path=out / "history.png") is not None:
        figures["history"] = "history.png"
    figures["tracks"] = {}
    if n_track_plots > 0:
        picks = np.unique(np.linspace(0, len(results) - 1, min(n_track_plots, len(results))).round().astype(int))
        for i in picks:
            r, pred = results[i], main["predictions"][i]
            rel = f"tracks/{re.sub(r'[^A-Za-z0-9._-]', '_', r.track_id)}.png"
            f1 = frame_metrics(r.labels, pred, mask=r.mask)["f1_micro"]
            plot_piano_roll(r.labels, pred, match.classes, hop_s=reader.hop_s, first_centre=reader.first_centre,
                            mask=r.mask, scores=activations[i], thresholds=thresholds,
                            title=f"{r.track_id}: frame F1 (micro) {f1:.3f}", path=out / rel)
            figures["tracks"][r.track_id] = rel
    return figures
