"""One smoke test per flow under ``prefect_test_harness``, and the change scan the scheduled
reprocessing relies on, tested without the engine."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from pipeline.extraction.changes import compare_tracks, find_changes
from pipeline.readers import read_dataset
from pipeline.track import Track, TrackProblem
from storage.store import open_store

from ..reliability.conftest import listening_sockets, off_loopback
from .conftest import SONGS, render_corpus

IDS = [f"Track{i:05d}" for i in range(1, SONGS + 1)]
NEW = f"Track{SONGS + 1:05d}"


@pytest.fixture(scope="session")
def logmel_key() -> str:
    from flows.reprocess import feature_keys

    return feature_keys(["logmel"])[0]


@pytest.fixture(scope="session")
def trained_run(prefect_harness, store_template, tmp_path_factory) -> str:
    """A 2-epoch crnn run trained through the ``train-model`` flow."""
    from flows.train import train_model

    out = tmp_path_factory.mktemp("runs") / "crnn"
    return train_model(store=store_template, out=str(out), features="logmel", model="crnn", epochs=2,
                       device="cpu", options={"batch_size": 4, "window": 64, "augment": [], "workers": 0,
                                              "patience": 5})


def _track(track_id: str, content: str) -> Track:
    return Track(track_id=track_id, dataset="folder", audio=Path(f"{track_id}.flac"), duration=1.0,
                 sample_rate=22050, split="train", classes=("a",), source_hashes={f"{track_id}.flac": content})


def _change_audio(path: Path) -> None:
    y, sr = sf.read(str(path))
    sf.write(str(path), (0.5 * y).astype(np.float32), sr, subtype="PCM_16")


# --- the change scan (no engine) ---------------------------------------------------------

def test_compare_tracks_sorts_songs_into_new_changed_unchanged_gone():
    same, other = _track("same", "h1"), _track("edited", "new-hash")
    half = _track("half", "h3")  # committed in one feature set only: still new for the other
    fresh = _track("fresh", "h4")
    committed = {"logmel-aaaa": {"same": same.content_hash, "edited": _track("edited", "old").content_hash,
                                 "half": half.content_hash, "deleted": "x"},
                 "scalogram-bbbb": {"same": same.content_hash, "edited": other.content_hash}}
    problem = TrackProblem(track_id="broken", path=Path("broken.flac"), message="unreadable FLAC header")
    changes = compare_tracks([same, other, half, fresh, problem], committed)
    assert [t.track_id for t in changes.new] == ["half", "fresh"]
    assert [t.track_id for t in changes.changed] == ["edited"]
    assert changes.unchanged == ("same",)
    assert changes.gone == ("deleted",)
    assert changes.problems == ("broken.flac: unreadable FLAC header",)
    assert [t.track_id for t in changes.todo] == ["half", "fresh", "edited"]


def test_compare_tracks_needs_a_feature_set():
    with pytest.raises(ValueError, match="at least one feature key"):
        compare_tracks([_track("a", "h")], {})


def song_folder(root: Path, track_id: str) -> Path:
    """The folder of a song of the Slakh-layout corpus, under whichever split it was given."""
    (folder,) = root.glob(f"*/{track_id}")
    return folder


def test_find_changes_against_a_real_store(store_template, copy_corpus, tmp_path, logmel_key):
    root = copy_corpus()
    store = str(tmp_path / "store.zarr")
    shutil.copytree(store_template, store)
    render_corpus(root, songs=SONGS + 1)  # NEW is new; the others are rewritten identically
    _change_audio(song_folder(root, "Track00002") / "mix.flac")
    shutil.rmtree(song_folder(root, "Track00003"))
    changes = find_changes(read_dataset("slakh", root), store, [logmel_key])
    assert changes.to_json() == {"new": [NEW], "changed": ["Track00002"],
                                 "unchanged": [t for t in IDS if t not in ("Track00002", "Track00003")],
                                 "gone": ["Track00003"], "problems": [],
                                 "store_exists": True}


def test_find_changes_without_a_store_finds_everything_new(corpus_template, tmp_path, logmel_key):
    changes = find_changes(read_dataset("slakh", corpus_template), str(tmp_path / "absent.zarr"), [logmel_key])
    assert len(changes.new) == SONGS and not changes.changed and not changes.unchanged and not changes.gone
    assert not changes.store_exists


# --- one smoke test per flow ---------------------------------------------------------------

def test_extract_features_flow_builds_the_store_then_skips_it(prefect_harness, corpus_template, tmp_path,
                                                              logmel_key):
    from flows.extract import extract_features

    store = str(tmp_path / "store.zarr")
    first = extract_features(dataset="slakh", root=str(corpus_template), store=store, workers=1)
    assert first["done"] == SONGS and not first["failed"]
    reader = open_store(store).feature_set(logmel_key)
    assert [e.track_id for e in reader.tracks()] == IDS
    assert reader.read_features("Track00001").shape[1:] == reader.frame_shape
    again = extract_features(dataset="slakh", root=str(corpus_template), store=store, workers=1)
    assert again["done"] == 0 and again["skipped_unchanged"] == SONGS


def test_extract_features_flow_cluster_listens_on_localhost_only(prefect_harness, corpus_template, tmp_path,
                                                                monkeypatch):
    """The flow's local DaskTaskRunner cluster, listed from inside a running task."""
    import pipeline.extraction.extract as extract_module
    from flows.extract import extract_features

    real, during = extract_module.extract_batch, []

    def listing_extract_batch(*args, **kwargs):  # runs on the cluster's in-process worker
        during.append(listening_sockets())
        return real(*args, **kwargs)

    monkeypatch.setattr(extract_module, "extract_batch", listing_extract_batch)
    before = listening_sockets()
    summary = extract_features(dataset="slakh", root=str(corpus_template), store=str(tmp_path / "s.zarr"), workers=2)
    assert summary["done"] == SONGS and during, summary
    opened = set().union(*during) - before
    assert opened, "no listening socket while a task ran: is the flow still on a local Dask cluster?"
    assert not off_loopback(opened), opened


def test_extract_features_flow_rejects_a_missing_root(prefect_harness, tmp_path):
    from flows.extract import extract_features

    from prefect.exceptions import FailedRun

    with pytest.raises(FailedRun, match="parameter root=.*dataset root is not a folder"):
        extract_features(dataset="slakh", root=str(tmp_path / "nowhere"), store=str(tmp_path / "s.zarr"))


@pytest.mark.slow
def test_train_model_flow_writes_a_run(trained_run):
    from training.run import load_run

    run = load_run(trained_run)
    assert len(run.history) == 2
    assert run.predict(np.zeros((100, *run_shape(run)), np.float32)).shape == (100, len(run.classes))


def run_shape(run) -> tuple[int, ...]:
    from features.registry import config_from_params

    return tuple(config_from_params(run.feature_params).frame_shape())


@pytest.mark.slow
def test_evaluate_model_flow_writes_a_report(prefect_harness, trained_run, store_template, tmp_path):
    from flows.evaluate import evaluate_model

    out = tmp_path / "report"
    metrics = evaluate_model(store=store_template, run=trained_run, out=str(out), split="all")
    assert (out / "report.html").is_file()
    assert json.loads((out / "metrics.json").read_text())["frame.f1_micro"] == metrics["frame.f1_micro"]


def test_reprocess_new_songs_flow_adds_exactly_the_new_song(prefect_harness, store_template, copy_corpus,
                                                            tmp_path, logmel_key):
    from flows.reprocess import reprocess_new_songs

    root = copy_corpus()
    store = str(tmp_path / "store.zarr")
    shutil.copytree(store_template, store)
    nothing = reprocess_new_songs(dataset="slakh", root=str(root), store=store, workers=1)
    assert nothing["added"] == [] and nothing["extraction"] is None and nothing["history"] is None  # no commit
    assert open_store(store).feature_set(logmel_key).tracks() == open_store(store_template).feature_set(
        logmel_key).tracks()

    render_corpus(root, songs=SONGS + 1)
    result = reprocess_new_songs(dataset="slakh", root=str(root), store=store, workers=1)
    assert result["added"] == [NEW] and result["predictions"] is None
    assert sorted(result["scan"]["unchanged"]) == IDS
    assert [e.track_id for e in open_store(store).feature_set(logmel_key).tracks()] == IDS + [NEW]
    # keep_history="1d" (the default): the snapshot this run replaced stays readable
    assert result["history"]["expired"] == [] and result["history"]["deleted_versions"] == 0
    assert len(snapshot_log(store)) == len(snapshot_log(store_template)) + 1


def snapshot_log(url: str) -> list:
    from storage.history import snapshot_log as log

    store = open_store(url)
    return log(store.location, store.manifest)


def test_reprocess_new_songs_expires_old_snapshots_after_a_commit(prefect_harness, store_template, copy_corpus,
                                                                 tmp_path, logmel_key):
    """A store reprocessed on a schedule does not keep every snapshot forever: ``keep_history``."""
    from flows.reprocess import reprocess_new_songs
    from storage.errors import StoreError

    root = copy_corpus()
    store = str(tmp_path / "store.zarr")
    shutil.copytree(store_template, store)
    before = open_store(store)
    render_corpus(root, songs=SONGS + 1)
    result = reprocess_new_songs(dataset="slakh", root=str(root), store=store, workers=1, keep_history="0s")
    assert result["added"] == [NEW] and before.snapshot_id in result["history"]["expired"]
    (latest,) = snapshot_log(store)  # only the latest is left
    assert latest.snapshot_id == result["extraction"]["snapshot_id"]
    with pytest.raises(StoreError, match=r"is not in the store \(expired by `instrec store expire`"):
        open_store(store, snapshot=before.snapshot_id)
    assert [e.track_id for e in open_store(store).feature_set(logmel_key).tracks()] == IDS + [NEW]


def test_reprocess_keep_history_is_a_duration_or_none(tmp_path):
    from flows.params import FlowParameterError, ReprocessParams, parse_parameters

    params = dict(dataset="slakh", root=str(tmp_path), store="s.zarr")
    assert parse_parameters(ReprocessParams, **params).keep_history_s() == 86400
    assert parse_parameters(ReprocessParams, **params, keep_history=None).keep_history_s() is None
    with pytest.raises(FlowParameterError, match=r"^parameter keep_history='a week': 'a week' is not a duration"):
        parse_parameters(ReprocessParams, **params, keep_history="a week")


def test_reprocess_new_songs_flow_leaves_building_the_store_to_extract_features(prefect_harness, corpus_template,
                                                                               tmp_path):
    from flows.reprocess import reprocess_new_songs

    result = reprocess_new_songs(dataset="slakh", root=str(corpus_template), store=str(tmp_path / "s.zarr"),
                                 run=str(tmp_path / "not-trained-yet"))
    assert result["added"] == [] and not result["scan"]["store_exists"] and len(result["scan"]["new"]) == SONGS
    assert not (tmp_path / "s.zarr").exists()


@pytest.mark.slow
def test_reprocess_new_songs_flow_predicts_the_new_song(prefect_harness, trained_run, store_template,
                                                        copy_corpus, tmp_path):
    from flows.reprocess import reprocess_new_songs

    root = copy_corpus()
    store = str(tmp_path / "store.zarr")
    shutil.copytree(store_template, store)
    render_corpus(root, songs=SONGS + 1)
    out = tmp_path / "predictions"
    result = reprocess_new_songs(dataset="slakh", root=str(root), store=store, workers=1, run=trained_run,
                                 predictions=str(out))
    assert result["added"] == [NEW] and list(result["predictions"]) == [NEW]
    record = json.loads(Path(result["predictions"][NEW]["json"]).read_text())
    assert record["audio"].endswith(f"{NEW}/mix.flac") and record["runs"][0]["run"] == trained_run
    assert record["track"] == NEW and Path(result["predictions"][NEW]["json"]).name == f"{NEW}.json"
    assert Path(result["predictions"][NEW]["json"]).parent == out


def test_reprocess_rejects_a_folder_that_is_not_a_run(prefect_harness, corpus_template, tmp_path):
    from flows.reprocess import reprocess_new_songs

    from prefect.exceptions import FailedRun

    with pytest.raises(FailedRun, match="parameter run=.*not a run directory"):
        reprocess_new_songs(dataset="slakh", root=str(corpus_template), store=str(tmp_path / "s.zarr"),
                            run=str(tmp_path))


def test_extract_params_take_feature_parameters(tmp_path):
    from flows.params import ExtractParams
    from flows.reprocess import feature_keys
    from pipeline.feature_specs import feature_set_key

    params = ExtractParams(dataset="slakh", root=str(tmp_path), store="s", features=["logmel:n_mels=64", "scalogram"])
    assert feature_keys(params.features)[0] == feature_set_key("logmel:n_mels=64")
    with pytest.raises(ValueError, match="unexpected keyword argument 'n_mel'"):
        ExtractParams(dataset="slakh", root=str(tmp_path), store="s", features=["logmel:n_mel=64"])


def test_expiry_leaves_a_busy_store_for_the_next_run(store_template, tmp_path):
    from prefect.logging import disable_run_logger

    from flows.params import ReprocessParams
    from flows.reprocess import expire_old_snapshots

    store = str(tmp_path / "store.zarr")
    shutil.copytree(store_template, store)
    params = ReprocessParams(dataset="slakh", root=str(tmp_path), store=store, keep_history="0s")
    with open_store(store, mode="a"), disable_run_logger():  # another writer holds the lock
        assert expire_old_snapshots.fn(params) is None
    with disable_run_logger():
        assert expire_old_snapshots.fn(params)["kept"] >= 1
