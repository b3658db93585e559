"""The unit of work: one track, decoded once, into every requested feature set.

:func:`extract_track` runs anywhere (a Dask worker, a test, a REPL): it decodes the track
once (one resample per target rate), computes each configuration's frames block by block
(so memory is bounded by the song's audio plus one block, whatever the song's length),
writes them chunk-aligned under a fresh version path, and returns the manifest records for
the driver to commit.  A bad track returns an error instead of raising.
"""

from __future__ import annotations

import contextlib
import math
import time
from dataclasses import dataclass, field
from typing import Any, Iterator, Sequence

import numpy as np

from features.grid import frame_labels
from pipeline.audio import load_resampled
from pipeline.track import InstrecError
from storage.schema import FeatureSetSpec, TrackMeta
from storage.writer import VersionWriter

DEFAULT_BLOCK_FRAMES = 2048  # a multiple of the store's 512-frame chunks
SILENCE_PEAK = 1e-6


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


def extract_track(
    track: Any,
    targets: Sequence[FeatureTarget],
    *,
    writer: VersionWriter,
    classes: Sequence[str],
    block_frames: int = DEFAULT_BLOCK_FRAMES,
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

    Returns
    -------
    TrackResult
        ``records[key]`` for each target on success; ``error`` set when the track is bad.
    """
    result = TrackResult(track_id=track.track_id, path=str(track.audio))
    started = time.perf_counter()
    try:
        if tuple(track.classes) != tuple(classes):
            raise InstrecError(
                f"{track.audio}: track {track.track_id!r} uses a class vocabulary of {len(track.classes)} "
                f"classes, the store has {len(classes)}; extract each taxonomy into its own store"
            )
        audio = load_resampled(track.audio, {t.config.sr for t in targets})
        first = next(iter(audio.values()))
        peak = float(max(first.max(), -first.min())) if first.size else 0.0  # no song-sized temporary
        if peak < SILENCE_PEAK:
            result.warnings.append(f"{track.audio}: audio is silent (peak {peak:.2g}); features are all quiet")
        result.audio_seconds = len(first) / min(audio)
        for target in targets:  # e.g. musicnn: "shorter than one patch, repeat-padded"
            notes = getattr(target.config, "track_notes", None)
            if notes is not None:
                result.warnings += [f"{track.audio}: {note}" for note in notes(len(audio[target.config.sr]))]
        meta = TrackMeta.from_track(track, warnings=result.warnings)
        for target in targets:
            y = audio[target.config.sr]
            grid = target.config.grid
            n_frames = grid.n_frames(len(y))
            labels, mask, clip, clip_mask = track_label_arrays(track, classes, grid, n_frames)
            version = writer.begin(
                target.spec, meta, classes=list(classes), labels=labels, label_mask=mask,
                clip_labels=clip, clip_mask=clip_mask,
            )
            for start, block in iter_feature_blocks(target.config, y, block_frames=block_frames):
                if not np.isfinite(block).all():
                    raise InstrecError(f"{track.audio}: {target.spec.key} frames contain NaN/Inf; check the audio")
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
) -> list[TrackResult]:
    """:func:`extract_track` over a few tracks (one Dask task, to amortise task overhead), with BLAS
    limited to one thread (see :func:`single_threaded_blas`)."""
    with single_threaded_blas():
        return [
            extract_track(track, targets, writer=writer, classes=classes, block_frames=block_frames)
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
