"""Synthetic songs with known events, as pipeline.track.Track records."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from storage.store import open_store

from pipeline.track import Event, Track, clip_labels_from_events, dominant_instrument, file_hash

CLASSES = ("flute", "bass")
FREQS = {"flute": 2000.0, "bass": 110.0}


def write_song(path: Path, *, duration: float, events: tuple[Event, ...], sr: int = 44100,
               channels: int = 1, seed: int = 0) -> Path:
    """Tones of each event's class inside its interval, faint noise elsewhere."""
    n = int(round(duration * sr))
    t = np.arange(n) / sr
    y = 1e-4 * np.random.default_rng(seed).standard_normal(n)
    for event in events:
        on = (t >= event.onset) & (t < event.offset)
        y[on] += 0.3 * np.sin(2 * np.pi * FREQS[event.label] * t[on])
    data = np.repeat(y[:, None], channels, axis=1) if channels > 1 else y
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), data.astype(np.float32), sr, subtype="PCM_16")
    return path


def track_for(path: Path, *, track_id: str, duration: float, events: tuple[Event, ...],
              split: str = "train", sr: int = 44100) -> Track:
    clip, mask = clip_labels_from_events(events, CLASSES)
    return Track(
        track_id=track_id, dataset="folder", audio=path, duration=duration, sample_rate=sr, split=split,
        classes=CLASSES, events=events, clip_labels=clip, clip_mask=mask,
        dominant=dominant_instrument(events), source_hashes={path.name: file_hash(path)},
    )


@pytest.fixture
def make_track(tmp_path):
    """Factory: make_track(track_id, duration=3.0, events=(...), **write options) -> Track."""

    def make(track_id: str, *, duration: float = 3.0, events=(("flute", 1.0, 2.0),), folder: str = "audio",
             split: str = "train", sr: int = 44100, **options) -> Track:
        evs = tuple(Event(*e) for e in events)
        path = write_song(tmp_path / folder / f"{track_id}.flac", duration=duration, events=evs, sr=sr, **options)
        return track_for(path, track_id=track_id, duration=duration, events=evs, split=split, sr=sr)

    return make


def assert_same_content(url_a: str, url_b: str, **options_b) -> None:
    """Two stores hold the same committed tracks, frames, labels and metadata."""
    a, b = open_store(url_a), open_store(url_b, **options_b)
    assert a.feature_sets() == b.feature_sets() and a.classes == b.classes
    for key in a.feature_sets():
        ra, rb = a.feature_set(key), b.feature_set(key)
        assert ra.tracks() == rb.tracks()
        for entry in ra.tracks():
            assert np.array_equal(ra.read_features(entry.track_id), rb.read_features(entry.track_id))
            for x, y in zip(ra.read_labels(entry.track_id), rb.read_labels(entry.track_id)):
                assert np.array_equal(x, y)
            for x, y in zip(ra.read_clip(entry.track_id), rb.read_clip(entry.track_id)):
                assert np.array_equal(x, y)


@pytest.fixture
def same_content():
    """The :func:`assert_same_content` check."""
    return assert_same_content
