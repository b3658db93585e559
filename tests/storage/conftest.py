"""A small store written through the writer API (no audio needed)."""

from __future__ import annotations

import numpy as np
import pytest

from features.logmel import LogMelConfig
from storage.schema import FeatureSetSpec, TrackMeta
from storage.store import open_store

CLASSES = ["flute", "bass", "drums"]


def fill_store(url: str, *, n_tracks: int = 4, n_frames: int = 700, config=None, seed: int = 0) -> dict:
    """Write ``n_tracks`` random tracks; returns {track_id: (features, labels, mask, clip, clip_mask)}."""
    rng = np.random.default_rng(seed)
    config = config or LogMelConfig()
    truth = {}
    with open_store(url, mode="a") as store:
        store.initialize(dataset="folder", classes=CLASSES)
        key = store.add_feature_set(FeatureSetSpec.from_config(config))
        for i in range(n_tracks):
            n = n_frames + 37 * i
            features = rng.uniform(-100, 20, size=(n, *config.frame_shape())).astype(np.float32)
            labels = (rng.random((n, len(CLASSES))) < 0.3).astype(np.uint8)
            mask = np.ones_like(labels, dtype=bool)
            clip = labels.max(axis=0).astype(np.float32)
            clip_mask = np.ones(len(CLASSES), dtype=bool)
            meta = TrackMeta(track_id=f"song {i}", split="train" if i % 2 == 0 else "test", duration=n / 43.0,
                             content_hash=f"{i:064x}", dominant="flute")
            store.write_track(key, meta=meta, features=features, labels=labels, label_mask=mask,
                              clip_labels=clip, clip_mask=clip_mask)
            truth[meta.track_id] = (features, labels, mask, clip, clip_mask)
        store.commit()
    return truth


@pytest.fixture
def small_store(tmp_path):
    url = str(tmp_path / "store")
    return url, fill_store(url)


@pytest.fixture
def fill():
    """The :func:`fill_store` function."""
    return fill_store
