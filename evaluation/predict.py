"""Instrument activity of new songs with one or more trained runs: ``instrec predict``.

For each audio file the run's features are computed from the raw audio with the run's own
parameters (rebuilt by ``features.registry.config_from_params`` and checked against the
run's configuration hash), the run predicts frame activations, these are median-filtered and
thresholded with the run's decision rule (its default variant, or the one asked for, see
:mod:`evaluation.decision`), and runs of active frames become segments
``(instrument, start, end, confidence)``.  Per song, one JSON holds every run's summary,
segments and dominant instrument, and one PNG timeline shows the runs one above the other.
"""

from __future__ import annotations

import json
import logging
import re
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from evaluation.dominant import predicted_dominant
from evaluation.inputs import binarize
from evaluation.plots import plot_timeline
from evaluation.report import json_safe
from evaluation.smoothing import median_filter_frames, smooth_activations
from pipeline.track import InstrecError

log = logging.getLogger(__name__)


class PredictionError(InstrecError):
    """A run whose features cannot be recomputed, or an unreadable song."""


def activity_segments(
    active: np.ndarray,
    scores: np.ndarray,
    classes: Sequence[str],
    *,
    hop_s: float,
    first_centre: float,
    duration: float,
    min_duration_s: float = 0.0,
) -> list[dict[str, Any]]:
    """Runs of active frames as segments.

    Parameters
    ----------
    active : np.ndarray [shape=(n_frames, n_classes)]
        Thresholded activity.
    scores : np.ndarray [shape=(n_frames, n_classes)]
        Activations; a segment's confidence is their mean over its frames.
    classes : sequence of str
    hop_s, first_centre : float
        Frame grid: frame ``i`` is centred at ``first_centre + i * hop_s`` seconds and covers
        half a hop either side.
    duration : float
        Song length in seconds; segments are clipped to ``[0, duration]``.
    min_duration_s : float
        Shorter segments are dropped.

    Returns
    -------
    list of dict
        ``instrument``, ``start``, ``end`` (seconds), ``confidence``, sorted by start then
        instrument.
    """
    active = np.asarray(active).astype(bool)
    if active.shape != np.shape(scores) or active.shape[1] != len(classes):
        raise ValueError(
            f"active {active.shape}, scores {np.shape(scores)} and {len(classes)} classes do not match"
        )
    segments = []
    for c, name in enumerate(classes):
        padded = np.concatenate([[False], active[:, c], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        for a, b in zip(edges[::2], edges[1::2]):
            start = max(0.0, first_centre + a * hop_s - hop_s / 2)
            end = min(duration, first_centre + (b - 1) * hop_s + hop_s / 2)
            if end - start < max(min_duration_s, 1e-9):
                continue
            segments.append({"instrument": name, "start": round(start, 3), "end": round(end, 3),
                             "confidence": round(float(np.mean(scores[a:b, c])), 4)})
    segments.sort(key=lambda s: (s["start"], s["instrument"]))
    return segments


def summarize_activations(scores: np.ndarray, active: np.ndarray, classes: Sequence[str], *, hop_s: float
                          ) -> dict[str, dict[str, float]]:
    """Per class: mean and max activation, active fraction and active seconds."""
    return {
        name: {"mean": round(float(scores[:, c].mean()), 4) if len(scores) else None,
               "max": round(float(scores[:, c].max()), 4) if len(scores) else None,
               "active_fraction": round(float(active[:, c].mean()), 4) if len(scores) else None,
               "active_s": round(float(active[:, c].sum() * hop_s), 3)}
        for c, name in enumerate(classes)
    }


def load_runs(run_dirs: Sequence[str | Path]) -> list[tuple[Any, Any]]:
    """Each run with the feature configuration rebuilt from its parameters, hash-checked."""
    from features.base import config_hash
    from features.registry import config_from_params
    from training.run import load_run

    loaded = []
    for run_dir in run_dirs:
        run = load_run(run_dir)
        try:
            config = config_from_params(run.feature_params)
        except ValueError as exc:
            raise PredictionError(f"{run_dir}: cannot rebuild the run's feature configuration ({exc}); "
                                  "was it trained with a newer instrec?") from exc
        if config.name == "musicnn":  # its checkpoint is where `instrec fetch-musicnn` put it (sha256-checked)
            from pipeline.musicnn_options import with_weights

            config = with_weights(config)
        if config_hash(config) != run.feature_config_hash:
            raise PredictionError(
                f"{run_dir}: the run's feature parameters now hash to {config_hash(config)[:8]} but it was "
                f"trained on {run.feature_config_hash[:8]}; the feature code changed since training, so "
                "predictions would be meaningless. Retrain the run, or use the instrec version it was trained with"
            )
        loaded.append((run, config))
    return loaded


THRESHOLD_MODES = ("default", "per-class", "micro", "0.5")


def decision_thresholds(run: Any, mode: str = "default") -> np.ndarray:
    """The run's decision thresholds, one per class, for ``mode`` (:data:`THRESHOLD_MODES`).

    ``default`` is the rule chosen when the run's thresholds were tuned (0.5 for a run never tuned).

    Raises
    ------
    PredictionError
        Unknown mode, or a tuned mode for a run whose thresholds were never tuned.
    """
    from evaluation.decision import Decision

    if mode not in THRESHOLD_MODES:
        raise PredictionError(f"unknown thresholds mode {mode!r}; choose one of {', '.join(THRESHOLD_MODES)}")
    doc = getattr(run, "decision", None)
    if doc is None:
        if mode in ("default", "0.5"):
            return np.full(len(run.classes), 0.5)
        raise PredictionError(
            f"{run.run_dir}: the run's thresholds were never tuned, so there is no {mode} rule; run `instrec "
            "tune-thresholds --run RUN --store STORE` on a validation split first, or use --thresholds 0.5")
    decision = Decision.from_json(doc, run.classes)
    return decision.thresholds(None if mode == "default" else mode)


def predict_song(audio: str | Path, runs: Sequence[tuple[Any, Any]], *, smoothing_s: float = 0.5,
                 min_duration_s: float = 0.0, thresholds: str = "default"
                 ) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Predict one song with each ``(run, config)``; returns the JSON record and plot panels."""
    from pipeline.audio import load_mono, resample

    y, sr = load_mono(audio)
    duration = len(y) / sr
    features: dict[str, np.ndarray] = {}
    record: dict[str, Any] = {"audio": str(audio), "duration": round(duration, 3), "runs": []}
    panels = []
    for run, config in runs:
        key = run.feature_config_hash
        if key not in features:
            features[key] = config.compute(resample(y, sr, config.sr))
        grid = config.grid
        scores = np.clip(run.predict(features[key]), 0.0, 1.0)
        size = median_filter_frames(grid.frame_rate, smoothing_s) if smoothing_s > 0 else 1
        smoothed = smooth_activations(scores, size=size)
        decision = decision_thresholds(run, thresholds)
        active = binarize(smoothed, decision)
        segments = activity_segments(active, smoothed, run.classes, hop_s=grid.hop_s,
                                     first_centre=grid.first_centre, duration=duration,
                                     min_duration_s=min_duration_s)
        dominant = predicted_dominant(scores, mode="sum") if len(scores) else None
        by_time = predicted_dominant(smoothed, mode="active_time", thresholds=decision) \
            if len(scores) else None
        name = Path(run.run_dir).name
        record["runs"].append({
            "run": str(run.run_dir), "name": name, "feature_name": run.feature_name,
            "feature_config_hash": run.feature_config_hash, "frame_rate": grid.frame_rate,
            "n_frames": int(len(scores)), "smoothing_frames": size,
            "thresholds": dict(zip(run.classes, decision.round(4).tolist())), "threshold_mode": thresholds,
            "dominant": None if dominant is None else run.classes[dominant],
            "dominant_by_active_time": None if by_time is None else run.classes[by_time],
            "summary": summarize_activations(smoothed, active, run.classes, hop_s=grid.hop_s),
            "segments": segments,
        })
        panels.append({"name": f"{name} (dominant: {record['runs'][-1]['dominant']})", "classes": run.classes,
                       "scores": smoothed, "hop_s": grid.hop_s, "first_centre": grid.first_centre,
                       "segments": segments})
    return record, panels


def predict_files(audio_paths: Sequence[str | Path], run_dirs: Sequence[str | Path], out: str | Path, *,
                  smoothing_s: float = 0.5, min_duration_s: float = 0.0, thresholds: str = "default"
                  ) -> dict[str, Any]:
    """Write ``<file name>.json`` and ``<file name>.png`` into ``out`` for each song.

    A song that cannot be read is reported and skipped; the others go on.

    Returns
    -------
    dict
        ``written`` (JSON paths) and ``problems`` (one line per skipped song).
    """
    if not run_dirs:
        raise PredictionError("no run given; pass at least one --run RUN_DIR")
    runs = load_runs(run_dirs)
    for run, _ in runs:
        decision_thresholds(run, thresholds)  # fail before any song is read
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, problems, used = [], [], set()
    for audio in audio_paths:
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", Path(audio).name) or "song"
        name, k = stem, 1
        while name in used:
            k += 1
            name = f"{stem}-{k}"
        used.add(name)
        try:
            record, panels = predict_song(audio, runs, smoothing_s=smoothing_s, min_duration_s=min_duration_s,
                                          thresholds=thresholds)
        except InstrecError as exc:
            problems.append(str(exc))
            log.warning("predict skipped a song: %s", exc)
            continue
        plot_timeline(panels, duration=record["duration"], title=Path(audio).name, path=out / f"{name}.png")
        record["timeline"] = f"{name}.png"
        path = out / f"{name}.json"
        path.write_text(json.dumps(json_safe(record), indent=2, allow_nan=False) + "\n")
        written.append(path)
    return {"written": written, "problems": problems}
