"""Test doubles for the store interface, and small synthetic data with a learnable answer."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
import torch


@dataclass(frozen=True)
class FakeTrackEntry:
    track_id: str
    split: str
    n_frames: int
    duration: float
    dominant: str | None
    content_hash: str


class FakeFeatureSetReader:
    """In-memory test double of storage's FeatureSetReader (same methods and attributes)."""

    def __init__(self, tracks: dict, *, classes: list[str], frame_shape: tuple[int, ...]) -> None:
        self._tracks = tracks
        self.classes = list(classes)
        self.frame_shape = tuple(frame_shape)
        self.key = "logmel-0123abcd"
        self.name = "logmel"
        self.params = {"name": "logmel", "sr": 22050, "hop_length": 512, "n_mels": frame_shape[0]}
        self.config_hash = "0123abcd" + "0" * 56
        self.frame_rate = 22050 / 512
        self.hop_s = 512 / 22050
        self.first_centre = 0.0
        self.reads = 0

    def tracks(self, split: str | None = None) -> list[FakeTrackEntry]:
        return [
            FakeTrackEntry(tid, t["split"], len(t["features"]), len(t["features"]) * self.hop_s, None, tid)
            for tid, t in sorted(self._tracks.items())
            if split is None or t["split"] == split
        ]

    def read_features(self, track_id: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        self.reads += 1
        return self._tracks[track_id]["features"][start:stop].astype(np.float32)

    def read_labels(self, track_id: str, start: int = 0, stop: int | None = None):
        t = self._tracks[track_id]
        return t["labels"][start:stop].astype(np.uint8), t["label_mask"][start:stop].astype(bool)

    def read_clip(self, track_id: str):
        t = self._tracks[track_id]
        return t["clip"].astype(np.float32), t["clip_mask"].astype(bool)


class FakeStore:
    """In-memory test double of storage's FeatureStore."""

    def __init__(self, reader: FakeFeatureSetReader) -> None:
        self._reader = reader
        self.url = "memory://fake-store"
        self.classes = reader.classes
        self.dataset = "demo"
        self.snapshot_id = "snapshot-0001"

    def feature_sets(self) -> list[str]:
        return [self._reader.key]

    def feature_set(self, name_or_key: str) -> FakeFeatureSetReader:
        assert name_or_key in (self._reader.key, self._reader.name)
        return self._reader


def synthetic_track(rng: np.random.Generator, *, n_frames: int, n_bins: int, n_classes: int,
                    split: str) -> dict:
    """Frames where class ``c`` adds energy to bins ``c*k .. (c+1)*k``: a learnable answer."""
    band = n_bins // n_classes
    labels = np.zeros((n_frames, n_classes), dtype=np.uint8)
    for c in range(n_classes):
        onset = int(rng.integers(0, n_frames // 2))
        labels[onset: onset + int(rng.integers(n_frames // 4, n_frames // 2 + 1)), c] = 1
    features = rng.normal(0.0, 0.3, (n_frames, n_bins)).astype(np.float32)
    for c in range(n_classes):
        features[:, c * band:(c + 1) * band] += 2.0 * labels[:, c:c + 1]
    return {
        "split": split, "features": features, "labels": labels,
        "label_mask": np.ones_like(labels, dtype=bool),
        "clip": labels.max(axis=0).astype(np.float32), "clip_mask": np.ones(n_classes, dtype=bool),
    }


def make_fake_store(*, n_train: int = 6, n_val: int = 2, n_bins: int = 16, n_classes: int = 3,
                    seed: int = 0, lengths: tuple[int, int] = (40, 90)) -> FakeStore:
    rng = np.random.default_rng(seed)
    tracks = {}
    for i in range(n_train + n_val):
        split = "train" if i < n_train else "validation"
        n = int(rng.integers(*lengths))
        tracks[f"track{i:02d}"] = synthetic_track(rng, n_frames=n, n_bins=n_bins, n_classes=n_classes, split=split)
    reader = FakeFeatureSetReader(tracks, classes=[f"inst{c}" for c in range(n_classes)], frame_shape=(n_bins,))
    return FakeStore(reader)


@pytest.fixture
def make_store():
    """The :func:`make_fake_store` factory (tests call it with their own sizes)."""
    return make_fake_store


@pytest.fixture(autouse=True)
def _few_threads():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # robust timings on a busy 2-core machine
    yield
    torch.set_num_threads(previous)
