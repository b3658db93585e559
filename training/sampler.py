"""Which windows of which tracks an epoch visits.

Samplers yield ``(track_index, start_frame)`` pairs that :class:`training.data.WindowDataset`
turns into examples.  They live in the main process, so a new epoch's plan reaches
persistent DataLoader workers, and their whole state is ``(seed, epoch)``: resuming a run
at epoch ``e`` replays exactly the windows an uninterrupted run would have seen.
"""

from __future__ import annotations

from typing import Iterator, Sequence

import numpy as np
from torch.utils.data import Sampler


def rare_class_repeats(presence: np.ndarray, *, rare_track_count: int = 5, factor: int = 4) -> np.ndarray:
    """How often each track is sampled per epoch: ``factor`` for tracks holding a rare class.

    Parameters
    ----------
    presence : np.ndarray [shape=(n_tracks, n_classes), dtype=bool]
        Whether each class occurs (is known positive) in each track.
    rare_track_count : int
        A class present in fewer than this many tracks (but at least one) is rare.
    factor : int

    Returns
    -------
    repeats : np.ndarray [shape=(n_tracks,), dtype=int64]
    """
    presence = np.asarray(presence, dtype=bool)
    if presence.ndim != 2:
        raise ValueError(f"presence must be (n_tracks, n_classes), got shape {presence.shape}")
    counts = presence.sum(axis=0)
    rare = (counts > 0) & (counts < rare_track_count)
    has_rare = presence[:, rare].any(axis=1)
    return np.where(has_rare, factor, 1).astype(np.int64)


class RandomWindowSampler(Sampler):
    """Random windows: each track ``repeats[i] * ceil(n_frames / window)`` times per epoch.

    Each visit picks a uniform random start; the order is shuffled.  Call :meth:`set_epoch`
    before each epoch.
    """

    def __init__(self, n_frames: Sequence[int], *, window: int, repeats: Sequence[int] | None = None,
                 seed: int = 0, max_samples: int | None = None) -> None:
        self.n_frames = np.asarray(n_frames, dtype=np.int64)
        self.window = int(window)
        self.repeats = (np.ones(len(self.n_frames), dtype=np.int64) if repeats is None
                        else np.asarray(repeats, dtype=np.int64))
        if len(self.repeats) != len(self.n_frames):
            raise ValueError("repeats and n_frames must have one entry per track")
        self.seed = int(seed)
        self.max_samples = max_samples
        self.epoch = 0
        visits = np.maximum(1, np.ceil(self.n_frames / self.window).astype(np.int64)) * self.repeats
        self._tracks = np.repeat(np.arange(len(self.n_frames)), visits)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def state_dict(self) -> dict[str, int]:
        return {"seed": self.seed, "epoch": self.epoch}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.seed, self.epoch = int(state["seed"]), int(state["epoch"])

    def plan(self) -> list[tuple[int, int]]:
        """This epoch's ``(track_index, start)`` pairs, in order."""
        rng = np.random.default_rng([self.seed, self.epoch])
        tracks = rng.permutation(self._tracks)
        if self.max_samples is not None:
            tracks = tracks[: self.max_samples]
        spans = np.maximum(self.n_frames[tracks] - self.window, 0)
        starts = np.floor(rng.random(len(tracks)) * (spans + 1)).astype(np.int64)
        return [(int(t), int(s)) for t, s in zip(tracks, starts)]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.plan())

    def __len__(self) -> int:
        n = len(self._tracks)
        return n if self.max_samples is None else min(n, self.max_samples)


class SequentialWindowSampler(Sampler):
    """Consecutive non-overlapping windows covering every frame of every track exactly once."""

    def __init__(self, n_frames: Sequence[int], *, window: int) -> None:
        self.pairs = [
            (i, start)
            for i, n in enumerate(int(n) for n in n_frames)
            for start in range(0, max(n, 1), window)
        ]

    def __iter__(self) -> Iterator[tuple[int, int]]:
        return iter(self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

