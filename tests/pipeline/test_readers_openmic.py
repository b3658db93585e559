"""OpenMIC-2018 reader against the real label/class-map/partition files (tests/fixtures/openmic2018).

Expected values read off the fixture by hand: the aggregated-labels CSV has three rows for
000046_3840 (clarinet 0.17105, flute 0.0, trumpet 0.0); class-map.json lists 20 classes;
000046_3840 is the first line of partitions/split01_train.csv.  Audio is a silent stand-in
written to tmp_path (the real OGG is not redistributable here).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.readers import openmic_vggish_path, read_dataset
from pipeline.track import DatasetError, Track, TrackProblem, deterministic_split

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "openmic2018"
KEY = "000046_3840"


def write_clip(root: Path, key: str, *, seconds: float = 10.0, ext: str = ".ogg") -> Path:
    path = root / "audio" / key[:3] / f"{key}{ext}"
    path.parent.mkdir(parents=True, exist_ok=True)
    fmt = {"format": "OGG", "subtype": "VORBIS"} if ext == ".ogg" else {}
    sf.write(path, np.zeros(int(seconds * 8000), dtype=np.float32), 8000, **fmt)
    return path


@pytest.fixture
def openmic_root(tmp_path: Path) -> Path:
    root = tmp_path / "openmic-2018"
    shutil.copytree(FIXTURE, root)
    write_clip(root, KEY)
    return root


def test_openmic_fixture_clip(openmic_root):
    (track,) = list(read_dataset("openmic", openmic_root, validation_fraction=0.0))
    assert isinstance(track, Track), track
    assert track.track_id == KEY and track.dataset == "openmic"
    assert track.audio == openmic_root / "audio" / "000" / f"{KEY}.ogg"
    assert track.duration == pytest.approx(10.0) and track.sample_rate == 8000
    assert track.split == "train"  # first line of split01_train.csv
    assert len(track.classes) == 20 and track.classes[0] == "accordion" and track.classes[-1] == "voice"
    assert track.clip_labels["clarinet"] == pytest.approx(0.17105)
    assert track.clip_labels["flute"] == 0.0 and track.clip_labels["trumpet"] == 0.0
    assert {name for name, known in track.clip_mask.items() if known} == {"clarinet", "flute", "trumpet"}
    # the 17 unannotated classes are unknown (masked), not negative
    assert sum(not known for known in track.clip_mask.values()) == 17
    assert track.events == () and track.dominant is None and track.strong_labels is False
    assert set(track.source_hashes) == {"audio/000/000046_3840.ogg", f"openmic-2018-aggregated-labels.csv#{KEY}"}


def test_openmic_vggish_path_points_at_the_official_features(openmic_root):
    path = openmic_vggish_path(openmic_root, KEY)
    assert path == openmic_root / "vggish" / "000" / f"{KEY}.json"
    features = json.loads(path.read_text())
    assert len(features["time_points"]) == 10 and len(features["features"][0]) == 128


def test_openmic_splits_and_labels_of_more_clips(openmic_root):
    root = openmic_root
    rows = (root / "openmic-2018-aggregated-labels.csv").read_text().splitlines()
    rows += [
        "000135_483840,guitar,0.9,3",  # split01_train line 2
        "000178_3840,drums,0.5,2",  # split01_test line 1
        "000308_61440,voice,1.0,3",  # split01_test line 2, no audio -> problem
        "000999_0,piano,0.7,3",  # in no partition -> deterministic split
        "000139_119040,kazoo,0.7,3",  # line 9 (header + 3 + 5): unknown instrument -> problem
        "000141_153600,piano,1.5,3",  # relevance outside [0, 1] -> problem
    ]
    (root / "openmic-2018-aggregated-labels.csv").write_text("\n".join(rows) + "\n")
    for key in ("000135_483840", "000178_3840", "000999_0", "000139_119040", "000141_153600"):
        write_clip(root, key, seconds=1.0, ext=".flac")
    items = {item.track_id: item for item in read_dataset("openmic", root, validation_fraction=0.0)}
    tracks = {k: v for k, v in items.items() if isinstance(v, Track)}
    problems = {k: v for k, v in items.items() if isinstance(v, TrackProblem)}
    assert set(tracks) == {KEY, "000135_483840", "000178_3840", "000999_0"}
    assert tracks["000135_483840"].split == "train"
    assert tracks["000178_3840"].split == "test"
    assert tracks["000999_0"].split == deterministic_split("000999_0")
    assert tracks["000178_3840"].clip_labels["drums"] == 0.5  # relevance kept; positive at >= 0.5
    assert tracks["000178_3840"].clip_mask == {name: name == "drums" for name in tracks[KEY].classes}
    assert set(problems) == {"000308_61440", "000139_119040", "000141_153600"}
    assert problems["000308_61440"].path == root / "audio" / "000" / "000308_61440.ogg"
    assert "audio file is missing" in problems["000308_61440"].message
    assert problems["000139_119040"].path.name == "openmic-2018-aggregated-labels.csv"
    assert "line 9: unknown instrument; expected one of accordion," in problems["000139_119040"].message
    assert "kazoo" not in problems["000139_119040"].message  # the line, not the file's content
    assert "not a probability" in problems["000141_153600"].message


def test_openmic_validation_is_a_stable_share_of_train(tmp_path):
    root = tmp_path / "openmic"
    shutil.copytree(FIXTURE, root)
    keys = [f"{i:06d}_0" for i in range(150)]
    (root / "partitions" / "split01_train.csv").write_text("\n".join(keys) + "\n")
    rows = ["sample_key,instrument,relevance,num_responses"] + [f"{key},piano,1.0,1" for key in keys]
    (root / "openmic-2018-aggregated-labels.csv").write_text("\n".join(rows) + "\n")
    for key in keys:
        write_clip(root, key, seconds=0.05, ext=".wav")
    splits = [t.split for t in read_dataset("openmic", root, validation_fraction=0.2)]
    assert set(splits) == {"train", "validation"}
    assert 0.12 < splits.count("validation") / len(splits) < 0.28
    again = [t.split for t in read_dataset("openmic", root, validation_fraction=0.2)]
    assert again == splits
    assert all(t.split == "train" for t in read_dataset("openmic", root, validation_fraction=0.0))


def test_openmic_npz_labels_match_the_csv(openmic_root):
    from_csv = next(iter(read_dataset("openmic", openmic_root)))
    (openmic_root / "openmic-2018-aggregated-labels.csv").unlink()
    classes = list(from_csv.classes)
    y_true = np.zeros((1, 20), dtype=np.float32)
    y_mask = np.zeros((1, 20), dtype=bool)
    for name, value in (("clarinet", 0.17105), ("flute", 0.0), ("trumpet", 0.0)):
        y_true[0, classes.index(name)] = value
        y_mask[0, classes.index(name)] = True
    np.savez(openmic_root / "openmic-2018.npz", X=np.zeros((1, 10, 128), np.uint8), Y_true=y_true,
             Y_mask=y_mask, sample_key=np.array([KEY]))
    from_npz = next(iter(read_dataset("openmic", openmic_root)))
    assert from_npz.clip_mask == from_csv.clip_mask
    assert from_npz.clip_labels == pytest.approx(from_csv.clip_labels)
    assert from_npz.split == from_csv.split


def test_openmic_bad_audio_and_bad_roots(openmic_root, tmp_path):
    clip = openmic_root / "audio" / "000" / f"{KEY}.ogg"
    clip.write_bytes(b"")
    (problem,) = list(read_dataset("openmic", openmic_root))
    assert problem.path == clip and "empty" in problem.message
    with pytest.raises(DatasetError, match="no OpenMIC labels"):
        read_dataset("openmic", tmp_path)
    (openmic_root / "openmic-2018-aggregated-labels.csv").write_text("key,label\nx,y\n")
    with pytest.raises(DatasetError, match="header lacks column"):
        read_dataset("openmic", openmic_root)
    with pytest.raises(DatasetError, match="validation_fraction"):
        read_dataset("openmic", openmic_root, validation_fraction=1.5)
