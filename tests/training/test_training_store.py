"""Training from a real (tiny, local) feature store, through the ``instrec train`` command."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from instrec.cli import main
from training.data import WindowDataset
from training.run import load_run


storage = pytest.importorskip("storage.store", reason="storage.store (open_store) is not importable yet")


def write_tiny_store(path, fake):
    """Copy the fake store's tracks into a real store at ``path`` through the storage API."""
    from storage.schema import FeatureSetSpec, TrackMeta

    reader = fake.feature_set("logmel")
    spec = FeatureSetSpec(name=reader.name, params=reader.params, config_hash=reader.config_hash,
                          frame_shape=reader.frame_shape, frame_rate=reader.frame_rate, hop_s=reader.hop_s,
                          first_centre=reader.first_centre, dtype="float32", chunk_frames=32)
    store = storage.open_store(str(path), mode="a")
    try:
        store.initialize(dataset="demo", classes=reader.classes)
        key = store.add_feature_set(spec)
        for entry in reader.tracks():
            labels, mask = reader.read_labels(entry.track_id)
            clip, clip_mask = reader.read_clip(entry.track_id)
            meta = TrackMeta(track_id=entry.track_id, split=entry.split, duration=entry.duration,
                             content_hash=f"hash-{entry.track_id}")
            store.write_track(key, meta=meta, features=reader.read_features(entry.track_id), labels=labels,
                              label_mask=mask, clip_labels=clip, clip_mask=clip_mask)
        store.commit()
    finally:
        store.close()
    return key


def test_windows_from_a_real_store_match_the_source(tmp_path, make_store):
    fake = make_store()
    write_tiny_store(tmp_path / "store", fake)
    reader = storage.open_store(str(tmp_path / "store")).feature_set("logmel")
    source = fake.feature_set("logmel")
    tracks = reader.tracks("train")
    assert [t.track_id for t in tracks] == [t.track_id for t in source.tracks("train")]
    ds = WindowDataset(reader, track_ids=[t.track_id for t in tracks], n_frames=[t.n_frames for t in tracks],
                       window=20)
    item = ds[(1, 7)]
    np.testing.assert_allclose(item["features"].numpy(), source.read_features(tracks[1].track_id, 7, 27))
    np.testing.assert_array_equal(item["labels"].numpy(), source.read_labels(tracks[1].track_id, 7, 27)[0])


def test_instrec_train_from_a_real_store(tmp_path, make_store):
    from instrec.cli import main

    key = write_tiny_store(tmp_path / "store", make_store())
    out = tmp_path / "run"
    argv = ["train", "--store", str(tmp_path / "store"), "--features", "logmel", "--model", "crnn",
            "--out", str(out), "--epochs", "2", "--device", "cpu", "--batch-size", "4", "--window", "32",
            "--workers", "0", "--augment", "specaugment,mixup", "--no-progress",
            "--model-options", json.dumps({"channels": [4, 4], "hidden": 8, "fc": 16})]
    assert main(argv) == 0
    run = load_run(out)
    store_record = json.loads((out / "store.json").read_text())
    assert store_record["snapshot_id"] == storage.open_store(str(tmp_path / "store")).snapshot_id
    assert json.loads((out / "features.json").read_text())["key"] == key
    assert len(run.history) == 2
    assert run.predict(np.zeros((50, 16), dtype=np.float32)).shape == (50, 3)
    # a second run into the same directory must be an explicit resume
    assert main(argv) == 2
    assert main(argv[:-2] + ["--model-options", json.dumps({"channels": [4, 4], "hidden": 8, "fc": 16}),
                             "--epochs", "3", "--resume"]) == 0
    assert len(load_run(out).history) == 3


# -- a store that lost or damaged data: one line, never zeros; an older snapshot (--snapshot) -----------

MODEL = json.dumps({"channels": [4, 4], "hidden": 8, "fc": 16})


def _train_argv(store, out, *extra):
    return ["train", "--store", str(store), "--features", "logmel", "--model", "crnn", "--out", str(out),
            "--epochs", "1", "--device", "cpu", "--batch-size", "4", "--window", "32", "--workers", "0",
            "--no-progress", "--model-options", MODEL, *extra]


def _chunk(store, split, array, chunk="0/0"):
    """A track of ``split`` and the file of one of its chunks."""
    reader = storage.open_store(str(store)).feature_set("logmel")
    entry = reader.tracks(split)[0]
    return entry.track_id, os.path.join(str(store), reader.record(entry.track_id)["path"], array, "c." + chunk.replace("/", "."))


def _one_line_error(capsys, *words):
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and all(w in err[0] for w in words), err
    return err[0]


def test_train_stops_with_one_line_on_a_deleted_chunk(tmp_path, make_store, capsys):
    write_tiny_store(tmp_path / "store", make_store())
    track_id, path = _chunk(tmp_path / "store", "train", "features")
    os.remove(path)
    assert main(_train_argv(tmp_path / "store", tmp_path / "run")) == 2
    _one_line_error(capsys, "instrec train: error:", f"'{track_id}'", "features", "lost a chunk", "store verify")


def test_train_stops_with_one_line_on_a_flipped_byte_in_labels(tmp_path, make_store, capsys):
    write_tiny_store(tmp_path / "store", make_store())
    track_id, path = _chunk(tmp_path / "store", "train", "labels")
    data = bytearray(open(path, "rb").read())
    data[len(data) // 2] ^= 0x01
    open(path, "wb").write(bytes(data))
    assert main(_train_argv(tmp_path / "store", tmp_path / "run")) == 2
    _one_line_error(capsys, "instrec train: error:", f"'{track_id}'", "labels", "checksum", "--deep")


def test_train_and_evaluate_an_older_snapshot_and_evaluate_refuses_lost_data(tmp_path, make_store, capsys):
    store = tmp_path / "store"
    write_tiny_store(store, make_store())
    first = storage.open_store(str(store)).snapshot_id
    write_tiny_store(store, make_store(seed=3))  # the store moves on: every track re-extracted
    assert main(_train_argv(store, tmp_path / "run", "--snapshot", first)) == 0
    assert json.loads((tmp_path / "run" / "store.json").read_text())["snapshot_id"] == first
    resume = _train_argv(store, tmp_path / "run", "--resume")
    resume[resume.index("--epochs") + 1] = "2"
    assert main(resume) == 2  # the store moved on: resuming on the latest would train on other data
    _one_line_error(capsys, f"started on store snapshot {first}", f"resume with --snapshot {first}")
    assert main([*resume, "--snapshot", first]) == 0
    evaluate = ["evaluate", "--store", str(store), "--run", str(tmp_path / "run"), "--split", "validation",
                "--no-progress", "--track-plots", "0"]
    assert main([*evaluate, "--out", str(tmp_path / "report"), "--snapshot", first]) == 0
    assert json.loads((tmp_path / "report" / "metrics.json").read_text())["snapshot_id"] == first
    capsys.readouterr()
    track_id, path = _chunk(store, "validation", "features")
    os.remove(path)
    assert main([*evaluate, "--out", str(tmp_path / "report2")]) == 2  # not a skipped track
    _one_line_error(capsys, "instrec evaluate: error:", f"'{track_id}'", "lost a chunk")
