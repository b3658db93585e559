"""Folder reader: any tree of audio files, unlabelled, for prediction."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.readers import read_dataset
from pipeline.track import DatasetError, Track, TrackProblem, deterministic_split


def write_tone(path: Path, seconds: float, sr: int, **kwargs) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(path, (0.1 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), sr, **kwargs)


@pytest.fixture
def music(tmp_path: Path) -> Path:
    root = tmp_path / "music"
    write_tone(root / "a.wav", 1.0, 8000)
    write_tone(root / "a.flac", 0.5, 16000)  # same name, other extension
    write_tone(root / "album" / "b.flac", 2.0, 22050)
    write_tone(root / "album" / "disc 2" / "c.ogg", 0.25, 8000, format="OGG", subtype="VORBIS")
    (root / "album" / "cover.jpg").write_bytes(b"\xff\xd8 not audio")
    (root / "notes.txt").write_text("not audio")
    (root / "album" / "._b.flac").write_bytes(b"\x00\x05\x16\x07 macOS resource fork")
    (root / "album" / "broken.mp3").write_bytes(b"ID3 but nothing else")
    os.symlink(root, root / "album" / "loop")  # a directory link back to the root
    return root


def test_folder_reads_every_audio_file_once(music):
    items = list(read_dataset("folder", music))
    tracks = {item.track_id: item for item in items if isinstance(item, Track)}
    problems = [item for item in items if isinstance(item, TrackProblem)]
    # a.wav / a.flac collide without extension, so both keep it
    assert set(tracks) == {"a.wav", "a.flac", "album/b", "album/disc 2/c"}
    assert tracks["album/b"].duration == pytest.approx(2.0) and tracks["album/b"].sample_rate == 22050
    assert tracks["a.flac"].duration == pytest.approx(0.5) and tracks["a.flac"].sample_rate == 16000
    assert tracks["album/disc 2/c"].duration == pytest.approx(0.25)
    for track in tracks.values():
        assert track.split == "test" and track.classes == () and track.events == ()
        assert track.clip_labels == {} and track.clip_mask == {} and track.dominant is None
        assert track.strong_labels is False and track.dataset == "folder"
    assert set(tracks["album/b"].source_hashes) == {"album/b.flac"}
    (problem,) = problems
    assert problem.track_id == "album/broken" and problem.path.name == "broken.mp3"


def test_folder_deterministic_split(music):
    tracks = [t for t in read_dataset("folder", music, split="deterministic") if isinstance(t, Track)]
    assert {t.track_id: t.split for t in tracks} == {t.track_id: deterministic_split(t.track_id) for t in tracks}
    with pytest.raises(DatasetError, match="split must be one of"):
        read_dataset("folder", music, split="holdout")


def test_folder_without_audio(tmp_path):
    (tmp_path / "readme.md").write_text("no songs")
    with pytest.raises(DatasetError, match="no audio file"):
        read_dataset("folder", tmp_path)
    with pytest.raises(DatasetError, match="not a directory"):
        read_dataset("folder", tmp_path / "readme.md")
