"""On-the-fly remixing: new training mixtures built from stored stems of different songs.

With ``TrainConfig.remix = P``, each training example is, with probability ``P``, a mixture
nobody composed: 2-6 stems (:class:`RemixOptions`) of distinct classes, each from a different
song, each at a random gain, with a random timbre change (a smooth EQ curve in dB), starting at
its own random frame, summed in the power domain (:mod:`features.mixing`).  Its labels are the
union of the stems' activity; every label is known (absent classes are truly absent).  Classes
are drawn uniformly, then a stem of each class, so rare classes are heard as often as common
ones; at most one stem per class (a class's activity is then exactly its stem's).

Determinism: the sampler decides which positions of an epoch's plan become remixes and gives
each a seed (:class:`RemixSampler`, state ``(seed, epoch)`` like every sampler), and the
dataset builds a remix from its seed alone (:class:`RemixDataset`), so a run is reproducible
and resumable, with or without DataLoader workers.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Iterator, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

from features.mixing import MixingDomain, mix_frames

if TYPE_CHECKING:
    from storage.store import FeatureSetReader
    from training.data import WindowDataset
    from training.sampler import RandomWindowSampler


@dataclass(frozen=True)
class RemixRequest:
    """A sampler item asking for a new mixture; ``seed`` decides everything about it."""

    seed: int


@dataclass(frozen=True)
class RemixOptions:
    """How remixes are drawn.

    Parameters
    ----------
    min_stems, max_stems : int
        Stems per mixture (uniform; capped by the classes available).
    gain_db : float
        Each stem's gain is uniform in ``[-gain_db, gain_db / 2]`` dB.
    eq_db : float
        Size of each stem's random EQ curve (gain, tilt and bumps, dB); 0 turns it off.
    active_bias : float
        Probability that a stem's window is placed over one of its active frames (else uniform).
    """

    min_stems: int = 2
    max_stems: int = 6
    gain_db: float = 6.0
    eq_db: float = 6.0
    active_bias: float = 0.9

    def __post_init__(self) -> None:
        if not 1 <= self.min_stems <= self.max_stems:
            raise ValueError(f"need 1 <= min_stems <= max_stems, got {self.min_stems} and {self.max_stems}")
        if self.gain_db < 0 or self.eq_db < 0 or not 0 <= self.active_bias <= 1:
            raise ValueError("gain_db and eq_db must be >= 0 and active_bias in [0, 1]")


class StemPool:
    """The stems a run remixes: their entries by class, with their activity held in memory.

    Parameters
    ----------
    reader : FeatureSetReader
        A feature set with stems.
    split : str
        Stems of the songs of this split only.
    classes : sequence of str
        The store's vocabulary (label columns).
    """

    def __init__(self, reader: FeatureSetReader, split: str, classes: Sequence[str]) -> None:
        self.reader = reader
        self.classes = list(classes)
        index = {name: i for i, name in enumerate(self.classes)}
        self.entries = [e for e in reader.stems(split) if e.label in index and e.n_frames > 0]
        self.class_of = np.array([index[e.label] for e in self.entries], dtype=np.int64)
        self.songs = [e.track_id for e in self.entries]
        self.activity = [reader.read_stem(e.track_id, e.index)[1] for e in self.entries]
        self.by_class = {c: np.flatnonzero(self.class_of == c) for c in np.unique(self.class_of)}

    def __len__(self) -> int:
        return len(self.entries)

    @property
    def available_classes(self) -> np.ndarray:
        return np.array(sorted(self.by_class), dtype=np.int64)


def _eq_curve(rng: np.random.Generator, n_bins: int, size_db: float) -> np.ndarray:
    """A smooth random EQ curve over ``n_bins`` (gain, tilt and two bumps), in dB."""
    position = np.linspace(0.0, 1.0, n_bins)
    curve = rng.uniform(-1, 1) * size_db / 2 + rng.uniform(-1, 1) * size_db * (position - 0.5)
    for _ in range(2):
        centre, width = rng.random(), 0.05 + 0.2 * rng.random()
        curve = curve + rng.uniform(-1, 1) * size_db * np.exp(-0.5 * ((position - centre) / width) ** 2)
    return curve.astype(np.float32)


class RemixDataset(Dataset):
    """A window dataset whose :class:`RemixRequest` items are new mixtures of pooled stems.

    Other items go to ``base`` (a :class:`training.data.WindowDataset`); both give the same
    example dict (``features, labels, label_mask, frame_mask, clip, clip_mask``).
    """

    def __init__(self, base: WindowDataset, pool: StemPool, *, options: RemixOptions, domain: MixingDomain) -> None:
        if not len(pool):
            raise ValueError("the stem pool is empty: no stems to remix")
        self.base, self.pool, self.options, self.domain = base, pool, options, domain
        self.window = base.window
        self.n_classes = base.n_classes

    def __len__(self) -> int:
        return len(self.base)

    def __getitem__(self, index: Any) -> dict[str, torch.Tensor]:
        if isinstance(index, RemixRequest):
            return self.remix(index.seed)
        return self.base[index]

    def choose_stems(self, rng: np.random.Generator) -> list[int]:
        """Pool indices of one mixture's stems: distinct classes, distinct songs."""
        classes = self.pool.available_classes
        k = int(rng.integers(self.options.min_stems, self.options.max_stems + 1))
        picked: list[int] = []
        songs: set[str] = set()
        for c in rng.permutation(classes)[: min(k, len(classes))]:
            candidates = self.pool.by_class[int(c)]
            free = [i for i in candidates if self.pool.songs[i] not in songs]
            if free:
                choice = int(free[int(rng.integers(len(free)))])
                picked.append(choice)
                songs.add(self.pool.songs[choice])
        return picked

    def _start(self, rng: np.random.Generator, activity: np.ndarray) -> int:
        n, w = len(activity), self.window
        if n <= w:
            return 0
        active = np.flatnonzero(activity)
        if len(active) and rng.random() < self.options.active_bias:
            centre = int(active[int(rng.integers(len(active)))])
            return int(np.clip(centre - int(rng.integers(0, w)), 0, n - w))
        return int(rng.integers(0, n - w + 1))

    def remix(self, seed: int) -> dict[str, torch.Tensor]:
        """The mixture of ``seed`` (see the module docstring)."""
        rng = np.random.default_rng(seed)
        w = self.window
        frames, gains = [], []
        labels = np.zeros((w, self.n_classes), dtype=np.float32)
        for i in self.choose_stems(rng):
            entry = self.pool.entries[i]
            start = self._start(rng, self.pool.activity[i])
            x, active = self.pool.reader.read_stem(entry.track_id, entry.index, start, start + w)
            padded = np.full((w,) + x.shape[1:], self.domain.floor if np.isfinite(self.domain.floor) else x.min(),
                             dtype=np.float32)
            padded[: len(x)] = x
            if self.options.eq_db > 0:
                curve = _eq_curve(rng, padded.shape[-1], self.options.eq_db)
                sounding = padded > self.domain.floor
                padded = np.where(sounding, padded + curve, padded)
            frames.append(padded)
            gains.append(float(rng.uniform(-self.options.gain_db, self.options.gain_db / 2)))
            labels[: len(active), self.pool.class_of[i]] = np.maximum(labels[: len(active), self.pool.class_of[i]],
                                                                      active)
        features = mix_frames(frames, gains, self.domain)
        return {
            "features": torch.from_numpy(features),
            "labels": torch.from_numpy(labels),
            "label_mask": torch.ones((w, self.n_classes), dtype=torch.bool),
            "frame_mask": torch.ones(w, dtype=torch.bool),
            "clip": torch.from_numpy(labels.max(axis=0)),
            "clip_mask": torch.ones(self.n_classes, dtype=torch.bool),
        }


class RemixSampler(Sampler):
    """A window sampler whose positions become :class:`RemixRequest` items with probability ``probability``.

    The epoch length and the order of the other windows are those of ``base``; which positions
    are remixed and their seeds depend only on ``(seed, epoch)``.
    """

    def __init__(self, base: RandomWindowSampler, *, probability: float, seed: int = 0) -> None:
        if not 0.0 <= probability <= 1.0:
            raise ValueError(f"remix probability must be in [0, 1], got {probability}")
        self.base, self.probability, self.seed = base, float(probability), int(seed)

    def set_epoch(self, epoch: int) -> None:
        self.base.set_epoch(epoch)

    @property
    def epoch(self) -> int:
        return self.base.epoch

    def state_dict(self) -> dict[str, int]:
        return self.base.state_dict()

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.base.load_state_dict(state)
        self.seed = int(state["seed"])

    def plan(self) -> list[Any]:
        items: list[Any] = list(self.base.plan())
        rng = np.random.default_rng([self.seed, self.base.epoch, 0x5E3])
        chosen = rng.random(len(items)) < self.probability
        seeds = rng.integers(0, 2**62, size=len(items))
        return [RemixRequest(int(s)) if c else item for item, c, s in zip(items, chosen, seeds)]

    def __iter__(self) -> Iterator[Any]:
        return iter(self.plan())

    def __len__(self) -> int:
        return len(self.base)
