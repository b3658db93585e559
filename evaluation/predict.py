"""Instrument activity of new songs with one or more trained runs: ``instrec predict``.

For each audio file the run's features are computed from the raw audio with the run's own
parameters (rebuilt by ``features.registry.config_from_params`` and checked against the
run's configuration hash), the run predicts frame activations, and its decision rule
(:meth:`evaluation.decision.Decision.apply`: each class's median-filter window, then the
thresholds of its default variant or the one asked for) turns them into decisions; runs of
active frames become segments ``(instrument, start, end, confidence)``.

Outputs are named after the track, not the file (every Slakh mix is ``mix.flac``: the name is
its folder, ``Track00013``; see :func:`track_names`).  Per song, in ``out``:

``<name>.json``
    ``schema`` (:data:`SCHEMA`), the audio, duration, and per run: the rule used, segments,
    activation summary, dominant instrument (by active time, and by summed activation), clip
    scores, the same as OpenMIC-2018 labels (:mod:`evaluation.mirex`) and where its frames are.
``<name>.framewise.npz``
    The frame-level activation matrix of each run, as PANNs' ``framewise_output``:
    ``<run>/framewise`` float32 ``(n_frames, n_classes)`` (raw probabilities),
    ``<run>/framewise_smoothed`` (as thresholded), ``<run>/times`` (frame centres, s) and
    ``<run>/classes``.
``<name>.segments.csv``
    ``run,instrument,start,end,confidence``, one row per segment.
``<name>.jams``
    One ``tag_open`` annotation per run (JAMS, the MIR annotation format), one observation per
    segment, confidence = mean activation.
``<name>.png``
    The runs' activation timelines.

and per run ``mirex-<run>.csv``: one row per song, one confidence per OpenMIC-2018 label (the
MIREX 2026 "Audio Instrument Recognition" form).
"""

from __future__ import annotations

import csv
import json
import logging
import re
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from core.errors import InstrecError, PredictionError  # re-exported: defined in core.errors
from evaluation.choices import THRESHOLD_MODES
from evaluation.dominant import predicted_dominant
from evaluation.mirex import openmic_scores, write_mirex_csv
from evaluation.plots import plot_timeline
from evaluation.report import json_safe

if TYPE_CHECKING:
    from evaluation.decision import Decision
    from training.run import LoadedRun

log = logging.getLogger(__name__)

SCHEMA = "instrec-prediction-2"
# File stems that name a mix, not a track: the track is the folder (Slakh: TrackXXXXX/mix.flac).
MIX_STEMS = ("mix", "mixture")


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
        Song length in seconds; segments are clipped to ``[0, duration]``, and one active in the
        first (last) frame starts at 0 (ends at ``duration``).
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
    n_frames = active.shape[0]
    for c, name in enumerate(classes):
        padded = np.concatenate([[False], active[:, c], [False]]).astype(np.int8)
        edges = np.flatnonzero(np.diff(padded))
        for a, b in zip(edges[::2], edges[1::2]):
            start = 0.0 if a == 0 else max(0.0, first_centre + a * hop_s - hop_s / 2)
            # a segment that lasts to the last frame lasts to the end of the song
            end = duration if b == n_frames else min(duration, first_centre + (b - 1) * hop_s + hop_s / 2)
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


def decision_rule(run: LoadedRun, mode: str = "default") -> tuple[Decision, str | None]:
    """The run's decision rule and the threshold variant ``mode`` names (None: the rule's default).

    A run whose thresholds were never tuned decides at 0.5 with the default smoothing windows.

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
            return Decision.untuned(run.classes), None
        raise PredictionError(
            f"{run.run_dir}: the run's thresholds were never tuned, so there is no {mode} rule; run `instrec "
            "tune-thresholds --run RUN --store STORE` on a validation split first, or use --thresholds 0.5")
    return Decision.from_json(doc, run.classes), None if mode == "default" else mode


def decision_thresholds(run: LoadedRun, mode: str = "default") -> np.ndarray:
    """The run's thresholds, one per class, for ``mode`` (:data:`THRESHOLD_MODES`)."""
    decision, variant = decision_rule(run, mode)
    return decision.thresholds(variant)


def track_names(paths: Sequence[str | Path]) -> list[str]:
    """A distinct, file-safe output name for each song, after the track rather than the file.

    A file named like a mix (``mix.flac``, ``mixture.wav``) is named after its folder
    (Slakh's ``Track00013/mix.flac`` -> ``Track00013``), AAM's ``0001_mix.flac`` -> ``0001``,
    any other file after its stem.  Songs that would share a name keep their extension when
    that tells them apart (``a.wav``, ``a.ogg``, as the folder reader names tracks), else are
    prefixed with their parent folders until they differ; the same file given twice gets
    ``-2``, ``-3``.
    """
    paths = [Path(p) for p in paths]

    def base(path: Path) -> str:
        stem = path.stem
        if stem.lower() in MIX_STEMS and path.parent.name:
            return path.parent.name
        return stem[: -len("_mix")] if stem.lower().endswith("_mix") and len(stem) > 4 else stem

    def candidates(path: Path) -> list[str]:
        """Ever more specific names: the base, with the extension, then with 1, 2... parent folders."""
        parents = [part for part in path.parent.parts if part not in ("/", "")]
        if base(path) == path.parent.name:  # a mix named after its folder: the folder is already in it
            parents = parents[:-1]
        out = [base(path), base(path) + path.suffix]
        for depth in range(1, len(parents) + 1):
            stem = "_".join([*parents[-depth:], base(path)])
            out += [stem, stem + path.suffix]
        return out

    options = [candidates(p) for p in paths]
    level = [0] * len(paths)
    while True:
        names = [o[min(k, len(o) - 1)] for o, k in zip(options, level)]
        # a name is a clash when different files share it (the same file twice gets -2 below)
        clashes = {n for n in set(names) if len({str(p) for p, m in zip(paths, names) if m == n}) > 1}
        movable = [i for i, n in enumerate(names) if n in clashes and level[i] < len(options[i]) - 1]
        if not movable:
            break
        for i in movable:
            level[i] += 1
    return track_names_from(names)


def audio_inputs(paths: Sequence[str | Path]) -> list[Path]:
    """The songs behind ``paths``: files as given; a folder's audio files, sorted, at any depth.

    In a folder holding mixes (``mix.*``, ``mixture.*``, ``*_mix.*``: Slakh, AAM) only the mixes
    are songs; their stems are not.
    """
    from pipeline.audio import AUDIO_EXTENSIONS
    from pipeline.readers.files import walk_files

    songs: list[Path] = []
    for path in map(Path, paths):
        if not path.is_dir():
            songs.append(path)
            continue
        files = [f for f in walk_files(path) if f.suffix.lower() in AUDIO_EXTENSIONS]
        mixes = [f for f in files if f.stem.lower() in MIX_STEMS or f.stem.lower().endswith("_mix")]
        if not files:
            raise PredictionError(f"{path}: no audio file ({', '.join(AUDIO_EXTENSIONS)}) under this folder")
        songs.extend(mixes or files)
    return songs


def predict_song(audio: str | Path, runs: Sequence[tuple[Any, Any]], *, smoothing_s: float | None = None,
                 min_duration_s: float = 0.0, thresholds: str = "default"
                 ) -> tuple[dict[str, Any], list[dict[str, Any]], dict[str, np.ndarray]]:
    """Predict one song with each ``(run, config)``.

    ``smoothing_s`` replaces every class's smoothing window of the rule (0: raw activations).

    Returns
    -------
    record : dict
        The JSON record (without the output file names).
    panels : list of dict
        Timeline panels for :func:`evaluation.plots.plot_timeline`.
    framewise : dict
        ``<run>/framewise``, ``<run>/framewise_smoothed``, ``<run>/times``, ``<run>/classes`` arrays.
    """
    from pipeline.audio import load_mono, resample

    y, sr = load_mono(audio)
    duration = len(y) / sr
    features: dict[str, np.ndarray] = {}
    record: dict[str, Any] = {"schema": SCHEMA, "audio": str(audio), "duration": round(duration, 3), "runs": []}
    panels, framewise = [], {}
    names = _run_names(runs)
    for (run, config), name in zip(runs, names):
        key = run.feature_config_hash
        if key not in features:
            features[key] = config.compute(resample(y, sr, config.sr))
        grid = config.grid
        scores = np.clip(run.predict(features[key]), 0.0, 1.0)
        decision, variant = decision_rule(run, thresholds)
        smoothed, active = decision.apply(scores, frame_rate=grid.frame_rate, variant=variant, override_s=smoothing_s)
        decided = decision.thresholds(variant)
        windows = decision.smoothing() if smoothing_s is None else np.full(len(run.classes), float(smoothing_s))
        segments = activity_segments(active, smoothed, run.classes, hop_s=grid.hop_s,
                                     first_centre=grid.first_centre, duration=duration,
                                     min_duration_s=min_duration_s)
        by_time = predicted_dominant(smoothed, mode="active_time", thresholds=decided) if len(scores) else None
        by_sum = predicted_dominant(scores, mode="sum") if len(scores) else None
        clip = np.clip(run.predict_clip(features[key]), 0.0, 1.0) if len(scores) else np.zeros(len(run.classes))
        record["runs"].append({
            "run": str(run.run_dir), "name": name, "feature_name": run.feature_name,
            "feature_config_hash": run.feature_config_hash, "frame_rate": grid.frame_rate, "hop_s": grid.hop_s,
            "first_centre": grid.first_centre, "n_frames": int(len(scores)), "classes": list(run.classes),
            "thresholds": dict(zip(run.classes, np.round(decided, 4).tolist())), "threshold_mode": thresholds,
            "smoothing_s": dict(zip(run.classes, windows.tolist())),
            "dominant": None if by_time is None else run.classes[by_time],
            "dominant_by_summed_probability": None if by_sum is None else run.classes[by_sum],
            "summary": summarize_activations(smoothed, active, run.classes, hop_s=grid.hop_s),
            "segments": segments,
            "clip_scores": dict(zip(run.classes, np.round(clip, 4).tolist())),
            "openmic": openmic_scores(run.classes, clip),
        })
        framewise.update({f"{name}/framewise": scores.astype(np.float32),
                          f"{name}/framewise_smoothed": smoothed.astype(np.float32),
                          f"{name}/times": grid.times(len(scores)), f"{name}/classes": np.asarray(run.classes)})
        panels.append({"name": f"{name} (dominant: {record['runs'][-1]['dominant']})", "classes": run.classes,
                       "scores": smoothed, "hop_s": grid.hop_s, "first_centre": grid.first_centre,
                       "segments": segments})
    return record, panels, framewise


def _run_names(runs: Sequence[tuple[Any, Any]]) -> list[str]:
    """Each run's folder name, made distinct (``-2``...) when two runs share one."""
    names: list[str] = []
    for run, _ in runs:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", Path(run.run_dir).name) or "run"
        unique, k = name, 1
        while unique in names:
            k += 1
            unique = f"{name}-{k}"
        names.append(unique)
    return names


def write_song(out: Path, name: str, record: dict[str, Any], panels: list[dict[str, Any]],
               framewise: dict[str, np.ndarray]) -> Path:
    """Every file of one song (see the module docstring); returns the JSON path."""
    import jams

    np.savez(out / f"{name}.framewise.npz", **framewise)
    with open(out / f"{name}.segments.csv", "w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["run", "instrument", "start", "end", "confidence"])
        for run in record["runs"]:
            writer.writerows([run["name"], s["instrument"], s["start"], s["end"], s["confidence"]]
                             for s in run["segments"])
    jam = jams.JAMS()
    jam.file_metadata.duration = max(record["duration"], 1e-3)
    jam.file_metadata.title = name
    for run in record["runs"]:
        annotation = jams.Annotation(namespace="tag_open", time=0.0, duration=jam.file_metadata.duration)
        annotation.annotation_metadata = jams.AnnotationMetadata(
            data_source="instrec predict", annotator={"name": run["name"], "run": run["run"]},
            annotation_rules=f"segments of active frames, {run['threshold_mode']} thresholds")
        for seg in run["segments"]:
            annotation.append(time=seg["start"], duration=round(seg["end"] - seg["start"], 6),
                              value=seg["instrument"], confidence=seg["confidence"])
        jam.annotations.append(annotation)
    with warnings.catch_warnings():  # jams validates through a jsonschema API that jsonschema deprecates
        warnings.simplefilter("ignore", DeprecationWarning)
        jam.save(str(out / f"{name}.jams"))
    plot_timeline(panels, duration=record["duration"], title=name, path=out / f"{name}.png")
    for run in record["runs"]:
        run["framewise"] = {"file": f"{name}.framewise.npz", "activations": f"{run['name']}/framewise",
                            "smoothed": f"{run['name']}/framewise_smoothed", "times": f"{run['name']}/times",
                            "classes": f"{run['name']}/classes"}
    record.update(files={"timeline": f"{name}.png", "framewise": f"{name}.framewise.npz",
                         "segments_csv": f"{name}.segments.csv", "jams": f"{name}.jams"})
    record["timeline"] = f"{name}.png"
    path = out / f"{name}.json"
    path.write_text(json.dumps(json_safe(record), indent=2, allow_nan=False) + "\n")
    return path


def predict_files(audio_paths: Sequence[str | Path], run_dirs: Sequence[str | Path], out: str | Path, *,
                  names: Sequence[str] | None = None, smoothing_s: float | None = None,
                  min_duration_s: float = 0.0, thresholds: str = "default", progress: bool = False
                  ) -> dict[str, Any]:
    """Predict every song of ``audio_paths`` (files or folders, see :func:`audio_inputs`) into ``out``.

    ``progress`` shows a bar on stderr over the songs (after folders are expanded), once the runs
    have loaded, so an error raised before stays alone on stderr.

    ``names`` gives each file's output name (e.g. the dataset's track ids; files only); by default
    :func:`track_names`.  A song that cannot be read is reported and skipped; the others go on.

    Returns
    -------
    dict
        ``written`` (JSON paths), ``names`` (song path -> output name), ``mirex`` (CSV per run) and
        ``problems`` (one line per skipped song).
    """
    if not run_dirs:
        raise PredictionError("no run given; pass at least one --run RUN_DIR")
    runs = load_runs(run_dirs)
    for run, _ in runs:
        decision_rule(run, thresholds)  # fail before any song is read
    songs = audio_inputs(audio_paths) if names is None else [Path(p) for p in audio_paths]
    if names is not None and len(names) != len(songs):
        raise PredictionError(f"{len(names)} names for {len(songs)} songs; give one output name per audio file")
    names = track_names(songs) if names is None else track_names_from(names)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    written, problems, rows = [], [], {name: [] for name in _run_names(runs)}
    from tqdm import tqdm

    for audio, name in tqdm(list(zip(songs, names)), desc="predict", unit="song", disable=not progress):
        try:
            record, panels, framewise = predict_song(audio, runs, smoothing_s=smoothing_s,
                                                     min_duration_s=min_duration_s, thresholds=thresholds)
        except InstrecError as exc:
            problems.append(str(exc))
            log.warning("predict skipped a song: %s", exc)
            continue
        record["track"] = name
        written.append(write_song(out, name, record, panels, framewise))
        for run in record["runs"]:
            rows[run["name"]].append((name, run["openmic"]["scores"]))
    mirex = {run: write_mirex_csv(found, out / f"mirex-{run}.csv") for run, found in rows.items() if found}
    return {"written": written, "names": {str(a): n for a, n in zip(songs, names)}, "mirex": mirex,
            "problems": problems}


def track_names_from(names: Sequence[str]) -> list[str]:
    """Caller-given names (track ids) made file-safe and distinct."""
    safe, used = [], set()
    for name in names:
        name = re.sub(r"[^A-Za-z0-9._-]", "_", str(name)).strip(".") or "song"
        unique, k = name, 1
        while unique in used:
            k += 1
            unique = f"{name}-{k}"
        used.add(unique)
        safe.append(unique)
    return safe
