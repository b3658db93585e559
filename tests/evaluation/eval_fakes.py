"""Small stand-ins for a feature store and a trained run (duck-typed to the agreed interfaces)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np


@dataclass(frozen=True)
class FakeEntry:
    track_id: str
    split: str
    n_frames: int
    duration: float
    dominant: str | None
    content_hash: str = "x"


class FakeReader:
    """Features are the labels plus noise, so a 'model' that returns its input is decent."""

    key = "logmel-abcdef12"
    name = "logmel"
    config_hash = "abcdef12" + "0" * 56
    frame_rate = 10.0
    hop_s = 0.1
    first_centre = 0.0

    def __init__(self, classes, tracks):
        self.classes = list(classes)
        self._tracks = tracks  # id -> (split, labels (T,C), mask (T,C))
        self.frame_shape = (len(classes),)

    def tracks(self, split=None):
        out = []
        for tid, (sp, labels, _) in sorted(self._tracks.items()):
            if split is None or sp == split:
                counts = labels.sum(axis=0)
                dom = self.classes[int(np.argmax(counts))] if counts.max() else None
                out.append(FakeEntry(tid, sp, len(labels), len(labels) * self.hop_s, dom))
        return out

    def read_features(self, track_id, start=0, stop=None):
        labels = self._tracks[track_id][1]
        rng = np.random.default_rng(abs(hash(track_id)) % 2**32)
        return np.clip(0.7 * labels + 0.3 * rng.random(labels.shape), 0, 1).astype(np.float32)

    def read_labels(self, track_id, start=0, stop=None):
        _, labels, mask = self._tracks[track_id]
        return labels.astype(np.uint8), mask

    def read_clip(self, track_id):
        _, labels, mask = self._tracks[track_id]
        return labels.max(axis=0).astype(np.float32), mask.all(axis=0)


class FakeStore:
    url = "memory://fake"
    dataset = "demo"
    snapshot_id = "00000003-deadbeef"

    def __init__(self, reader):
        self.reader = reader
        self.classes = reader.classes

    def feature_sets(self):
        return [self.reader.key]

    def feature_set(self, key):
        return self.reader


@dataclass
class FakeRun:
    """Predicts the store's features (aligned to its own class order) as probabilities."""

    classes: list
    store_classes: list
    run_dir: Path
    thresholds: np.ndarray = None
    history: list = field(default_factory=lambda: [
        {"epoch": 1, "train_loss": 0.7, "val_loss": 0.6, "val_f1_micro": 0.4},
        {"epoch": 2, "train_loss": 0.5, "val_loss": 0.45, "val_f1_micro": 0.6},
        {"epoch": 3, "train_loss": 0.4, "val_loss": 0.42, "val_f1_micro": 0.65},
    ])
    feature_name: str = "logmel"
    feature_config_hash: str = FakeReader.config_hash
    feature_params: dict = field(default_factory=dict)
    store: dict = field(default_factory=dict)
    saved: list = field(default_factory=list)
    decision: dict | None = None

    def __post_init__(self):
        if self.thresholds is None:
            self.thresholds = np.full(len(self.classes), 0.5, dtype=np.float32)

    def predict(self, features):
        out = np.full((len(features), len(self.classes)), 0.05, dtype=np.float32)
        for i, name in enumerate(self.classes):
            if name in self.store_classes:
                out[:, i] = features[:, self.store_classes.index(name)]
        return out

    def predict_clip(self, features):
        return self.predict(features).max(axis=0)


def make_tracks(classes, *, n_tracks=6, n_frames=50, seed=0, partial=False):
    rng = np.random.default_rng(seed)
    tracks = {}
    for k in range(n_tracks):
        labels = np.zeros((n_frames, len(classes)), np.uint8)
        for c in range(len(classes)):
            if rng.random() < 0.7:
                a = int(rng.integers(0, n_frames // 2))
                labels[a: a + int(rng.integers(5, n_frames // 2)), c] = 1
        mask = np.ones_like(labels, dtype=bool)
        if partial:
            mask[:, 0] = k % 2 == 0
        split = ["train", "validation", "test"][k % 3]
        tracks[f"track-{k:02d}"] = (split, labels, mask)
    return tracks
