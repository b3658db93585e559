"""Windows of frames with their labels and masks, read straight from the feature store.

:class:`WindowDataset` reads through the store's ``FeatureSetReader`` interface
(``read_features``, ``read_labels``, ``read_clip``), so the same code trains from a local
store, an S3 store or a test double.  An example is one window of ``window`` frames; a
shorter track (or the last window of a track) is padded with zeros and its padding marked
in ``frame_mask``.  Samplers (:mod:`training.sampler`) choose the windows.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Any, Protocol, Sequence

import numpy as np
import torch
from torch.utils.data import DataLoader, Sampler

# Labels at or above this value count as present when computing statistics.
PRESENT = 0.5


class TrackReader(Protocol):
    """What the training data reads of a feature set: :class:`storage.store.FeatureSetReader`, or
    any object with the same attributes and methods (the tests' in-memory double)."""

    classes: list[str]
    frame_shape: tuple[int, ...]

    def read_features(self, track_id: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``[start, stop)`` of a track [shape=(n_frames, *frame_shape)]."""

    def read_labels(self, track_id: str, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Frame labels and their known-mask [shape=(n_frames, n_classes)]."""

    def read_clip(self, track_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Clip labels and their known-mask [shape=(n_classes,)]."""


class WindowDataset(torch.utils.data.Dataset):
    """Examples ``{features, labels, label_mask, frame_mask, clip, clip_mask}`` indexed by
    ``(track_index, start_frame)``.

    Parameters
    ----------
    reader : TrackReader
        The feature set to read (a store's ``FeatureSetReader``).
    track_ids : sequence of str
    n_frames : sequence of int
        Frames of each track (from the store's track entries).
    window : int
        Frames per example.

    Each example holds ``features [shape=(window, *frame_shape), float32]``,
    ``labels [shape=(window, C), float32]``, ``label_mask [shape=(window, C), bool]`` (known
    and not padding), ``frame_mask [shape=(window,), bool]``, and the window's clip target
    ``clip [shape=(C,), float32]`` with ``clip_mask [shape=(C,), bool]``: where frame labels
    are known the clip target is their maximum over the window; otherwise the track's clip
    label, which only stays known for a window covering part of the track when it is
    negative (an instrument absent from the song is absent from every window of it).
    """

    def __init__(self, reader: TrackReader, *, track_ids: Sequence[str], n_frames: Sequence[int], window: int) -> None:
        if len(track_ids) != len(n_frames):
            raise ValueError("track_ids and n_frames must have the same length")
        if window < 1:
            raise ValueError(f"window must be >= 1, got {window}")
        self.reader = reader
        self.track_ids = list(track_ids)
        self.n_frames = [int(n) for n in n_frames]
        self.window = int(window)
        self.frame_shape = tuple(reader.frame_shape)
        self.n_classes = len(reader.classes)

    def __len__(self) -> int:
        return len(self.track_ids)

    def __getitem__(self, index: tuple[int, int]) -> dict[str, torch.Tensor]:
        track, start = index
        track_id, n = self.track_ids[track], self.n_frames[track]
        stop = min(start + self.window, n)
        length = max(stop - start, 0)
        features = np.zeros((self.window,) + self.frame_shape, dtype=np.float32)
        labels = np.zeros((self.window, self.n_classes), dtype=np.float32)
        label_mask = np.zeros((self.window, self.n_classes), dtype=bool)
        if length:
            features[:length] = self.reader.read_features(track_id, start, stop)
            values, known = self.reader.read_labels(track_id, start, stop)
            labels[:length] = values
            label_mask[:length] = known
        frame_mask = np.arange(self.window) < length
        clip, clip_mask = self.reader.read_clip(track_id)
        clip = np.asarray(clip, dtype=np.float32).copy()
        clip_mask = np.asarray(clip_mask, dtype=bool).copy()
        if length < n:  # a part of the track: positives may lie outside the window
            clip_mask &= clip < PRESENT
        frame_known = label_mask.any(axis=0)
        clip = np.where(frame_known, (labels * label_mask).max(axis=0), clip).astype(np.float32)
        clip_mask = frame_known | clip_mask
        return {
            "features": torch.from_numpy(features),
            "labels": torch.from_numpy(labels),
            "label_mask": torch.from_numpy(label_mask),
            "frame_mask": torch.from_numpy(frame_mask),
            "clip": torch.from_numpy(clip),
            "clip_mask": torch.from_numpy(clip_mask),
        }


@dataclass(frozen=True)
class LabelStatistics:
    """Label counts of a set of tracks.

    Attributes
    ----------
    presence : np.ndarray [shape=(n_tracks, C), dtype=bool]
        Class known present somewhere in the track (frame or clip labels).
    frame_positive, frame_negative : np.ndarray [shape=(C,), dtype=int64]
        Known positive / negative frame labels.
    clip_positive, clip_negative : np.ndarray [shape=(C,), dtype=int64]
        Known positive / negative clip labels.
    """

    presence: np.ndarray
    frame_positive: np.ndarray
    frame_negative: np.ndarray
    clip_positive: np.ndarray
    clip_negative: np.ndarray

    def pos_weight(self, *, max_weight: float = 10.0, level: str = "frame") -> np.ndarray:
        """``negatives / positives`` per class, clipped to ``[1, max_weight]`` (1 without positives)."""
        pos = self.frame_positive if level == "frame" else self.clip_positive
        neg = self.frame_negative if level == "frame" else self.clip_negative
        ratio = np.where(pos > 0, neg / np.maximum(pos, 1), 1.0)
        return np.clip(ratio, 1.0, max_weight).astype(np.float32)


def label_statistics(reader: TrackReader, track_ids: Sequence[str]) -> LabelStatistics:
    """Count the known labels of ``track_ids`` (reads every track's labels once)."""
    c = len(reader.classes)
    presence = np.zeros((len(track_ids), c), dtype=bool)
    counts = np.zeros((4, c), dtype=np.int64)
    for i, track_id in enumerate(track_ids):
        values, known = reader.read_labels(track_id)
        positive = (np.asarray(values) >= PRESENT) & known
        counts[0] += positive.sum(axis=0)
        counts[1] += (~positive & known).sum(axis=0)
        clip, clip_known = reader.read_clip(track_id)
        clip_positive = (np.asarray(clip) >= PRESENT) & clip_known
        counts[2] += clip_positive
        counts[3] += ~clip_positive & clip_known
        presence[i] = positive.any(axis=0) | clip_positive
    return LabelStatistics(presence, counts[0], counts[1], counts[2], counts[3])


def feature_statistics(reader: TrackReader, track_ids: Sequence[str], n_frames: Sequence[int], *,
                       window: int = 1000, max_tracks: int = 64) -> tuple[np.ndarray, np.ndarray]:
    """Per-bin mean and standard deviation of the features, from a sample of the tracks.

    Reads one window from the middle of up to ``max_tracks`` evenly spaced tracks.

    Returns
    -------
    mean, std : np.ndarray [shape=frame_shape, dtype=float32]
    """
    if not track_ids:
        raise ValueError("need at least one track to compute feature statistics")
    picks = np.unique(np.linspace(0, len(track_ids) - 1, min(max_tracks, len(track_ids))).astype(int))
    total = count = squares = 0.0
    for i in picks:
        start = max(0, (int(n_frames[i]) - window) // 2)
        frames = np.asarray(reader.read_features(track_ids[i], start, start + window), dtype=np.float64)
        total = total + frames.sum(axis=0)
        squares = squares + (frames ** 2).sum(axis=0)
        count += len(frames)
    mean = total / max(count, 1)
    std = np.sqrt(np.maximum(squares / max(count, 1) - mean ** 2, 0.0))
    return mean.astype(np.float32), std.astype(np.float32)


def default_workers(device: torch.device) -> int:
    """DataLoader workers: most free cores on a GPU machine; on a CPU, none up to 4 cores.

    Reading windows from a local store runs at about 250,000 frames/s in-process, far above what
    a CPU trains at, so on a small CPU machine a loader process only takes a core from the model.
    """
    cores = os.cpu_count() or 1
    if device.type == "cuda":
        return max(1, min(8, cores - 1))
    return 0 if cores <= 4 else 1


def _init_worker(worker_id: int) -> None:
    # Workers only read and decompress; leave the cores' BLAS threads to the model.
    torch.set_num_threads(1)


def make_loader(dataset: WindowDataset, sampler: Sampler, *, batch_size: int, workers: int,
                device: torch.device, drop_last: bool = False) -> DataLoader:
    """A DataLoader that keeps the device busy: worker processes, prefetch, pinned memory."""
    options: dict[str, Any] = {}
    if workers > 0:
        # forkserver: workers start from a clean process, not a fork of this one, which may hold
        # threads and handlers of Prefect, Dask or Zarr (a forked worker inside a Prefect flow run
        # exited with code 1 at shutdown)
        options.update(persistent_workers=True, prefetch_factor=4, worker_init_fn=_init_worker,
                       multiprocessing_context="forkserver")
    return DataLoader(
        dataset, batch_size=batch_size, sampler=sampler, num_workers=workers,
        pin_memory=device.type == "cuda", drop_last=drop_last, **options,
    )
