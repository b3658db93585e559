import json
import os

import numpy as np
import pytest
import soundfile as sf

import pipeline.extraction.extract as extract_module
from features.registry import build_config
from pipeline.extraction import FeatureTarget, extract_dataset
from pipeline.track import TrackProblem
from storage.history import expire_snapshots
from storage.store import open_store
from storage.verify import verify_store

TARGETS = [FeatureTarget.from_config(build_config("logmel"))]


@pytest.fixture
def decode_counter(monkeypatch):
    calls = []
    original = extract_module.load_resampled

    def counting(path, rates):
        calls.append(str(path))
        return original(path, rates)

    monkeypatch.setattr(extract_module, "load_resampled", counting)
    return calls


def run(tracks, url, **options):
    return extract_dataset(tracks, url, targets=TARGETS, workers=0, progress=False, **options)


def test_unchanged_new_changed_and_pruned_tracks(tmp_path, make_track, decode_counter):
    url = str(tmp_path / "store")
    tracks = [make_track(f"t{i}", duration=2.0 + i) for i in range(3)]
    first = run(tracks, url)
    assert sorted(first.done) == ["t0", "t1", "t2"] and len(decode_counter) == 3
    snapshot = open_store(url).snapshot_id

    again = run(tracks, url)  # nothing changed: nothing decoded, nothing committed
    assert again.done == [] and sorted(again.skipped) == ["t0", "t1", "t2"] and len(decode_counter) == 3
    assert open_store(url).snapshot_id == snapshot

    old_path = open_store(url).feature_set("logmel").record("t1")["path"]
    changed = make_track("t1", duration=4.0, events=(("bass", 0.5, 3.5),))  # rewrites t1's file
    new = make_track("t3", duration=2.0)
    summary = run([tracks[0], changed, tracks[2], new], url)
    assert sorted(summary.done) == ["t1", "t3"] and sorted(summary.skipped) == ["t0", "t2"]
    assert len(decode_counter) == 5
    reader = open_store(url).feature_set("logmel")
    assert [e.track_id for e in reader.tracks()] == ["t0", "t1", "t2", "t3"]
    assert reader.tracks()[1].content_hash == changed.content_hash and reader.tracks()[1].duration == 4.0
    assert reader.read_labels("t1")[0][:, 1].any() and not reader.read_labels("t1")[0][:, 0].any()
    # the replaced version stays for readers of earlier snapshots until it is expired
    assert os.path.exists(os.path.join(url, old_path))
    assert expire_snapshots(url, older_than_s=0).deleted_versions == [old_path]
    assert not os.path.exists(os.path.join(url, old_path))

    kept = run([tracks[0], changed], url)  # t2 and t3 gone from the dataset: kept without --prune
    assert kept.pruned == [] and len(open_store(url).feature_set("logmel").tracks()) == 4
    pruned = run([tracks[0], changed], url, prune=True)
    assert pruned.pruned == ["t2", "t3"] and len(decode_counter) == 5
    assert [e.track_id for e in open_store(url).feature_set("logmel").tracks()] == ["t0", "t1"]
    assert verify_store(url, deep=True).ok


def test_new_feature_set_computes_only_that_set(tmp_path, make_track, decode_counter):
    url = str(tmp_path / "store")
    tracks = [make_track("a"), make_track("b")]
    run(tracks, url)
    both = [*TARGETS, FeatureTarget.from_config(build_config("logmel", n_mels=64))]
    summary = extract_dataset(tracks, url, targets=both, workers=0, progress=False)
    assert sorted(summary.done) == ["a", "b"] and len(decode_counter) == 4
    store = open_store(url)
    assert len(store.feature_sets()) == 2
    assert all(len(store.feature_set(k).tracks()) == 2 for k in store.feature_sets())


def test_bad_inputs_fail_alone_and_are_logged(tmp_path, make_track):
    url = str(tmp_path / "store")
    good = make_track("good")
    silent = make_track("silent", events=())
    sf.write(str(silent.audio), np.zeros(44100 * 2, dtype=np.float32), 44100)
    stereo8 = make_track("stereo8k", sr=8000, channels=8, duration=1.5)
    empty = make_track("empty")
    empty.audio.write_bytes(b"")
    garbage = make_track("garbage")
    garbage.audio.write_bytes(b"fLaC" + os.urandom(4000))
    problem = TrackProblem("unparsed", tmp_path / "x.arff", "unparseable time '1,2'")
    summary = run([good, silent, stereo8, empty, garbage, problem], url)
    assert sorted(summary.done) == ["good", "silent", "stereo8k"]
    failed = {f["track_id"]: f["problem"] for f in summary.failed}
    assert set(failed) == {"empty", "garbage", "unparsed"}
    assert "empty.flac" in failed["empty"] and "empty" in failed["empty"]
    assert "garbage.flac" in failed["garbage"]
    assert any("silent" in w["message"] for w in summary.warnings)
    log = json.loads(open(os.path.join(url, "runs", f"{summary.run_id}.json")).read())
    assert {f["track_id"] for f in log["failed"]} == set(failed) and log["done"] == 3
    reader = open_store(url).feature_set("logmel")
    quiet = reader.read_features("silent")
    assert np.allclose(quiet, -100.0, atol=0.1)  # the fixed floor, not a per-song normalisation
    entries = {e.track_id: e for e in reader.tracks()}
    assert entries["stereo8k"].n_frames == 1 + 33075 // 512  # 1.5 s of 8 kHz, 8 channels -> 22.05 kHz mono
    assert reader.read_labels("stereo8k")[0][:, 0].sum() > 0
    assert verify_store(url).ok


def test_vocabulary_mismatch_is_refused_per_track(tmp_path, make_track):
    import dataclasses

    url = str(tmp_path / "store")
    a = make_track("a")
    other = dataclasses.replace(make_track("b"), classes=("piano",), events=(), clip_labels={}, clip_mask={})
    summary = run([a, other], url)
    assert summary.done == ["a"] and "class vocabulary" in summary.failed[0]["problem"]


def test_prune_with_an_empty_dataset_is_refused(tmp_path, make_track):
    from pipeline.track import InstrecError

    url = str(tmp_path / "store")
    run([make_track("a")], url)
    with pytest.raises(InstrecError, match="would empty the store"):
        run([], url, prune=True)
    assert len(open_store(url).feature_set("logmel").tracks()) == 1


def test_a_track_whose_split_changed_is_moved_without_recomputing(tmp_path, make_track, decode_counter):
    """A small corpus's split (pipeline.track.assign_splits) moves songs as it grows; the store follows."""
    import dataclasses

    url = str(tmp_path / "store")
    tracks = [make_track(f"t{i}", duration=1.0) for i in range(2)]
    run(tracks, url)
    path = open_store(url).feature_set("logmel").record("t1")["path"]
    moved = [tracks[0], dataclasses.replace(tracks[1], split="validation")]
    summary = run(moved, url)
    assert summary.done == [] and sorted(summary.skipped) == ["t0", "t1"] and len(decode_counter) == 2
    reader = open_store(url).feature_set("logmel")
    assert {e.track_id: e.split for e in reader.tracks()} == {"t0": "train", "t1": "validation"}
    assert reader.record("t1")["path"] == path  # the same version, only its manifest record changed
    assert verify_store(url, deep=True).ok
