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


def write_stem_store(url: str, *, n_songs: int = 8, n_classes: int = 4, n_bins: int = 16, seed: int = 0,
                     n_frames: tuple[int, int] = (60, 120), n_val: int = 2) -> None:
    """A real store with stems: each song has 2-3 stems of distinct classes; stem ``c`` sounds in
    bins of band ``c`` (dB, floor -100) while active; the mix is the power sum of its stems."""
    from features.mixing import mix_frames, mixing_domain
    from storage import FeatureSetSpec, StemMeta, TrackMeta, open_store

    rng = np.random.default_rng(seed)
    params = {"name": "logmel", "scale": "db", "power": 2.0, "ref": 1.0, "floor_db": -100.0, "n_mels": n_bins}
    domain = mixing_domain(params)
    spec = FeatureSetSpec(name="logmel", params=params, config_hash="ab" * 32, frame_shape=(n_bins,),
                          frame_rate=22050 / 512, hop_s=512 / 22050, first_centre=0.0)
    classes = [f"inst{c}" for c in range(n_classes)]
    band = n_bins // n_classes
    with open_store(url, mode="a") as store:
        store.initialize(dataset="demo", classes=classes, settings={"stems": True})
        key = store.add_feature_set(spec)
        for s in range(n_songs):
            n = int(rng.integers(*n_frames))
            chosen = sorted(rng.choice(n_classes, size=int(rng.integers(2, 4)), replace=False).tolist())
            frames, acts = [], []
            for c in chosen:
                act = np.zeros(n, dtype=np.uint8)
                a = int(rng.integers(0, n // 2))
                act[a: a + int(rng.integers(n // 4, n // 2 + 1))] = 1
                x = np.full((n, n_bins), -100.0, dtype=np.float32)
                x[:, c * band:(c + 1) * band] = np.where(act[:, None] == 1, -20.0 + rng.normal(0, 1, (n, band)),
                                                         -100.0)
                frames.append(x), acts.append(act)
            labels = np.zeros((n, n_classes), dtype=np.uint8)
            for c, act in zip(chosen, acts):
                labels[:, c] = act
            split = "validation" if s >= n_songs - n_val else "train"
            meta = TrackMeta(track_id=f"song{s:02d}", split=split, duration=n * spec.hop_s, content_hash=f"h{s}")
            record = store.version_writer.write_track(
                spec, meta, classes=classes, features=mix_frames(frames, [0.0] * len(frames), domain),
                labels=labels, label_mask=np.ones_like(labels, dtype=bool),
                clip_labels=labels.max(axis=0).astype(np.float32), clip_mask=np.ones(n_classes, dtype=bool))
            group = store.version_writer.begin_stems(
                spec, meta, stems=[StemMeta(f"S{i:02d}", classes[c], c) for i, c in enumerate(chosen)], n_frames=n)
            for i, (x, act) in enumerate(zip(frames, acts)):
                group.write_stem(i, activity=act, blocks=[(0, x)])
            store.commit([record, group.record()])


@pytest.fixture
def stem_store(tmp_path):
    """Path of a small real store with stems (:func:`write_stem_store`)."""
    url = str(tmp_path / "stem-store")
    write_stem_store(url)
    return url
