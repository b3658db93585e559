"""The unit of work: one track, decoded once, into every requested feature set.

:func:`extract_track` runs anywhere (a Dask worker, a test, a REPL): it decodes the track
once (one resample per target rate), computes each configuration's frames block by block
(so memory is bounded by the song's audio plus one block, whatever the song's length),
writes them chunk-aligned under a fresh version path, and returns the manifest records for
the driver to commit.  A bad track returns an error instead of raising.

With ``stems=True`` every stem with a class is decoded too (one at a time, after the mix, so
memory holds the mix plus one stem) and written into the song's stem group on the same frame
grid, with its own activity.  With ``activity.mode == "stem-energy"`` the mix labels are the
union of the stems' energy activity per class (see :mod:`features.activity`), so the stems are
decoded even without ``stems``.  A stem that is missing, silent or shorter than its notes is
left out (reported as a warning naming its file); it never fails the song.
"""

from __future__ import annotations

import contextlib
import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from features.activity import ActivityConfig, energy_activity, frame_energy_db
from features.grid import frame_labels
from pipeline.audio import load_resampled
from pipeline.track import InstrecError, Stem
from storage.schema import FeatureSetSpec, StemMeta, TrackMeta
from storage.writer import VersionWriter

DEFAULT_BLOCK_FRAMES = 2048  # a multiple of the store's 512-frame chunks
SILENCE_PEAK = 1e-6
# A stem may end this much before its last note's offset (release, rounding) and still count.
STEM_END_TOLERANCE_S = 0.1


@dataclass(frozen=True)
class FeatureTarget:
    """A configuration to compute and the store spec it is written under."""

    config: Any
    spec: FeatureSetSpec

    @classmethod
    def from_config(cls, config: Any, **spec_options: Any) -> "FeatureTarget":
        return cls(config=config, spec=FeatureSetSpec.from_config(config, **spec_options))


@dataclass
class TrackResult:
    """What became of one track: its records (per feature key) or the reason it failed."""

    track_id: str
    path: str
    records: dict[str, dict] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    error: str | None = None
    audio_seconds: float = 0.0
    compute_seconds: float = 0.0

    @property
    def ok(self) -> bool:
        return self.error is None


def iter_feature_blocks(config: Any, y: np.ndarray, *, block_frames: int = DEFAULT_BLOCK_FRAMES) -> Iterator[tuple[int, np.ndarray]]:
    """Compute a configuration's frames block by block; the blocks equal the whole-song output.

    Block ``[f0, f1)`` is computed from the audio around it with ``L`` samples of context on
    each side, ``L = context_samples`` rounded up to a whole number of hops (zeros outside the
    song, as the whole-song framing pads), and frames ``L / hop ..`` of that are kept.

    Parameters
    ----------
    config : FeatureConfig
    y : np.ndarray [shape=(n_samples,)]
        Mono audio at ``config.sr``.
    block_frames : int
        Frames per block; a multiple of the store's chunk length keeps writes chunk-aligned.

    Yields
    ------
    start : int
        Index of the block's first frame.
    block : np.ndarray [shape=(n, *frame_shape), dtype=float32]
    """
    grid = config.grid
    n_frames = grid.n_frames(len(y))
    if n_frames <= block_frames:
        frames = config.compute(y)
        _check_frames(config, frames, n_frames)
        yield 0, frames
        return
    hop = grid.hop_length
    pad_frames = int(math.ceil(config.context_samples / hop))
    pad = pad_frames * hop
    for f0 in range(0, n_frames, block_frames):
        f1 = min(f0 + block_frames, n_frames)
        lo, hi = f0 * hop - pad, f1 * hop + pad
        segment = np.zeros(hi - lo, dtype=np.float32)
        src_lo, src_hi = max(lo, 0), min(hi, len(y))
        if src_hi > src_lo:
            segment[src_lo - lo: src_hi - lo] = y[src_lo:src_hi]
        frames = config.compute(segment)
        block = frames[pad_frames: pad_frames + (f1 - f0)]
        if block.shape[0] != f1 - f0:
            raise RuntimeError(
                f"{config.name}: chunked computation gave {block.shape[0]} frames for block {f0}:{f1}; "
                "the configuration's grid and compute() disagree"
            )
        yield f0, block


def _check_frames(config: Any, frames: np.ndarray, n_frames: int) -> None:
    if frames.shape[0] != n_frames:
        raise RuntimeError(
            f"{config.name}: compute() returned {frames.shape[0]} frames, its grid says {n_frames}; "
            "fix the feature configuration"
        )


def track_label_arrays(track: Any, classes: Sequence[str], grid: Any, n_frames: int) -> tuple[np.ndarray, ...]:
    """Frame labels, frame mask, clip labels and clip mask of a track on a grid.

    Strongly labelled tracks get labels from their events and an all-known mask; weakly
    labelled ones (OpenMIC) get zero labels with an all-unknown mask (their truth is clip-level).
    """
    n_classes = len(classes)
    if track.strong_labels:
        labels = frame_labels(track.events, classes, grid, n_frames)
        mask = np.ones((n_frames, n_classes), dtype=bool)
    else:
        labels = np.zeros((n_frames, n_classes), dtype=np.uint8)
        mask = np.zeros((n_frames, n_classes), dtype=bool)
    clip = np.array([float(track.clip_labels.get(c, 0.0)) for c in classes], dtype=np.float32)
    clip_mask = np.array([bool(track.clip_mask.get(c, False)) for c in classes], dtype=bool)
    return labels, mask, clip, clip_mask


def dominant_of(labels: np.ndarray, classes: Sequence[str]) -> str | None:
    """The class with the most active frames (ties: the first name in sort order), None when none is active."""
    totals = {name: int(total) for name, total in zip(classes, np.asarray(labels).sum(axis=0)) if total > 0}
    return min(totals, key=lambda name: (-totals[name], name)) if totals else None


def _peak(y: np.ndarray) -> float:
    return float(max(y.max(), -y.min())) if y.size else 0.0  # no song-sized temporary


def _fit_length(y: np.ndarray, n: int) -> np.ndarray:
    """``y`` zero-padded or cut to ``n`` samples (a stem on its mix's time line)."""
    if len(y) >= n:
        return y[:n]
    return np.concatenate([y, np.zeros(n - len(y), dtype=y.dtype)])


def _stem_problem(stem: Stem, y: np.ndarray, sr: int) -> str | None:
    """Why a decoded stem cannot be used (silent, shorter than its notes), or None."""
    if _peak(y) < SILENCE_PEAK:
        return f"{stem.audio}: stem {stem.name} ({stem.label}) is silent; left out of the stems"
    last_note = max((e.offset for e in stem.events), default=0.0)
    if len(y) / sr < last_note - STEM_END_TOLERANCE_S:
        return (f"{stem.audio}: stem {stem.name} ({stem.label}) lasts {len(y) / sr:.2f} s but its notes run to "
                f"{last_note:.2f} s; left out of the stems (re-render it)")
    return None


def _extract_stems(track: Any, targets: Sequence[FeatureTarget], lengths: dict[int, int], *, writer: VersionWriter,
                   meta: TrackMeta, classes: Sequence[str], write: bool, activity: ActivityConfig,
                   block_frames: int, result: "TrackResult") -> dict[str, np.ndarray]:
    """Decode the stems one by one; write their group per target when ``write``.

    Returns, per target key, the union over usable stems of their activity per class
    ``(n_frames, C)`` (the mix labels in ``stem-energy`` mode).
    """
    index = {name: i for i, name in enumerate(classes)}
    candidates: list[Stem] = []
    for stem in track.stems.values():
        if stem.label is None or stem.label not in index:
            continue  # no class in the store's vocabulary: its audio labels nothing
        candidates.append(stem)
    metas = [StemMeta(stem.name, stem.label, stem.program) for stem in candidates]
    groups, unions = {}, {}
    for target in targets:
        n_frames = target.config.grid.n_frames(lengths[target.config.sr])
        unions[target.spec.key] = np.zeros((n_frames, len(classes)), dtype=np.uint8)
        if write:
            groups[target.spec.key] = writer.begin_stems(target.spec, meta, stems=metas, n_frames=n_frames)
    for i, stem in enumerate(candidates):
        try:
            audio = load_resampled(stem.audio, {t.config.sr for t in targets})
        except InstrecError as exc:
            problem = f"stem {stem.name} ({stem.label}) left out: {exc}"
        else:
            problem = _stem_problem(stem, next(iter(audio.values())), min(audio))
        if problem is not None:
            result.warnings.append(problem)
            for group in groups.values():
                group.exclude(i, problem)
            continue
        for target in targets:
            config, key = target.config, target.spec.key
            y = _fit_length(audio[config.sr], lengths[config.sr])
            n_frames = len(unions[key])
            if activity.mode == "stem-energy":
                active = energy_activity(frame_energy_db(y, config.grid, n_frames, window_s=activity.window_s),
                                         activity)
            else:
                active = frame_labels(stem.events, [stem.label], config.grid, n_frames)[:, 0]
            unions[key][:, index[stem.label]] |= active
            if write:
                groups[key].write_stem(i, activity=active, blocks=_checked_blocks(track, target, y, block_frames))
        del audio
    for key, group in groups.items():
        result.records[f"{key}#stems"] = group.record()
    return unions


def _checked_blocks(track: Any, target: FeatureTarget, y: np.ndarray, block_frames: int) -> Iterator:
    for start, block in iter_feature_blocks(target.config, y, block_frames=block_frames):
        if not np.isfinite(block).all():
            raise InstrecError(f"{track.audio}: {target.spec.key} frames contain NaN/Inf; check the audio")
        yield start, block


def extract_track(
    track: Any,
    targets: Sequence[FeatureTarget],
    *,
    writer: VersionWriter,
    classes: Sequence[str],
    block_frames: int = DEFAULT_BLOCK_FRAMES,
    stems: bool = False,
    activity: ActivityConfig | None = None,
) -> TrackResult:
    """Decode ``track`` once and write every target feature set for it (uncommitted).

    Parameters
    ----------
    track : pipeline.track.Track
    targets : sequence of FeatureTarget
    writer : storage.writer.VersionWriter
    classes : sequence of str
        The store's vocabulary (columns of the labels).
    block_frames : int
        Frames computed at once for long songs (memory bound).
    stems : bool
        Also write the song's stem group per target (see the module docstring).
    activity : ActivityConfig, optional
        How frame labels are made (default: from the notes).

    Returns
    -------
    TrackResult
        ``records[key]`` for each target (and ``records[key + "#stems"]`` with stems) on
        success; ``error`` set when the track is bad.
    """
    activity = activity or ActivityConfig()
    result = TrackResult(track_id=track.track_id, path=str(track.audio))
    started = time.perf_counter()
    try:
        if tuple(track.classes) != tuple(classes):
            raise InstrecError(
                f"{track.audio}: track {track.track_id!r} uses a class vocabulary of {len(track.classes)} "
                f"classes, the store has {len(classes)}; extract each taxonomy into its own store"
            )
        if (stems or activity.needs_stem_audio) and not track.stems:
            raise InstrecError(f"{track.audio}: track {track.track_id!r} has no stems, but the store holds stems "
                               f"or stem-based labels ({activity.describe()}); use a store without them")
        audio = load_resampled(track.audio, {t.config.sr for t in targets})
        first = next(iter(audio.values()))
        peak = _peak(first)
        if peak < SILENCE_PEAK:
            result.warnings.append(f"{track.audio}: audio is silent (peak {peak:.2g}); features are all quiet")
        result.audio_seconds = len(first) / min(audio)
        for target in targets:  # e.g. musicnn: "shorter than one patch, repeat-padded"
            notes = getattr(target.config, "track_notes", None)
            if notes is not None:
                result.warnings += [f"{track.audio}: {note}" for note in notes(len(audio[target.config.sr]))]
        meta = TrackMeta.from_track(track, warnings=result.warnings)
        unions = {}
        if stems or activity.needs_stem_audio:
            unions = _extract_stems(track, targets, {sr: len(y) for sr, y in audio.items()}, writer=writer,
                                    meta=meta, classes=classes, write=stems, activity=activity,
                                    block_frames=block_frames, result=result)
            meta = TrackMeta.from_track(track, warnings=result.warnings)
            if activity.needs_stem_audio:  # dominance by the labels actually stored
                meta = dataclasses.replace(meta, dominant=dominant_of(unions[targets[0].spec.key], classes))
        for target in targets:
            y = audio[target.config.sr]
            grid = target.config.grid
            n_frames = grid.n_frames(len(y))
            labels, mask, clip, clip_mask = track_label_arrays(track, classes, grid, n_frames)
            if activity.needs_stem_audio:
                labels = unions[target.spec.key]
                clip = labels.max(axis=0, initial=0).astype(np.float32)
            version = writer.begin(
                target.spec, meta, classes=list(classes), labels=labels, label_mask=mask,
                clip_labels=clip, clip_mask=clip_mask,
            )
            for start, block in _checked_blocks(track, target, y, block_frames):
                version.write_features(start, block)
            result.records[target.spec.key] = version.record(n_samples=len(y))
        del audio
    except InstrecError as exc:
        result.error, result.records = str(exc), {}
    except Exception as exc:  # a bad song never stops a batch
        result.error = f"{track.audio}: unexpected {type(exc).__name__} while extracting: {exc}"
        result.records = {}
    result.compute_seconds = time.perf_counter() - started
    return result


def extract_batch(
    tracks: Sequence[Any],
    targets_by_track: Sequence[Sequence[FeatureTarget]],
    *,
    writer: VersionWriter,
    classes: Sequence[str],
    block_frames: int = DEFAULT_BLOCK_FRAMES,
    stems: bool = False,
    activity: ActivityConfig | None = None,
) -> list[TrackResult]:
    """:func:`extract_track` over a few tracks (one Dask task, to amortise task overhead), with BLAS
    limited to one thread (see :func:`single_threaded_blas`)."""
    with single_threaded_blas():
        return [
            extract_track(track, targets, writer=writer, classes=classes, block_frames=block_frames, stems=stems,
                          activity=activity)
            for track, targets in zip(tracks, targets_by_track)
        ]


def single_threaded_blas() -> Any:
    """A context limiting BLAS (OpenBLAS/MKL) to one thread in this process.

    Parallelism comes from the workers (one track each); BLAS threads on top only spin: on
    2 cores a 2-thread extraction spent about 30 % more CPU with OpenBLAS's default 2 threads
    (the mel product is a small matrix product per block).  A no-op without ``threadpoolctl``.
    """
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # pragma: no cover - threadpoolctl comes with scikit-learn
        return contextlib.nullcontext()
    return threadpool_limits(limits=1, user_api="blas")
