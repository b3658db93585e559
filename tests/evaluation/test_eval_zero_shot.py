"""The zero-shot musicnn baseline: tag -> class scores, grid holding, and its place in reports."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluation.compare import comparison_table
from evaluation.decision import Decision
from evaluation.evaluate import evaluate_loaded
from evaluation.zero_shot import MTT_TAGS, hold_onto_grid, mtt_tags_for, zero_shot_scores
from features.musicnn_weights import MTT_LABELS
from pipeline.readers.taxonomy import AAM_INSTRUMENTS, OPENMIC_CLASSES, slakh_taxonomy

from .eval_fakes import FakeReader, FakeRun, FakeStore, make_tracks

CLASSES = ["piano", "guitar", "drums", "organ"]  # OpenMIC names; MTT has no organ tag


def test_every_mapped_tag_is_an_mtt_tag_and_the_vocabularies_are_covered():
    assert {t for tags in MTT_TAGS.values() for t in tags} <= set(MTT_LABELS)
    assert [c for c in AAM_INSTRUMENTS if mtt_tags_for(c)] and mtt_tags_for("Drums") == ("drums",)
    assert mtt_tags_for("organ") == () and mtt_tags_for("AltoSax") == () and mtt_tags_for("voice")
    known = set(AAM_INSTRUMENTS) | set(OPENMIC_CLASSES) | set(slakh_taxonomy("inst_class").classes) | set(
        slakh_taxonomy("slakh34").classes)
    assert set(MTT_TAGS) <= known, sorted(set(MTT_TAGS) - known)  # no typo in a class name


def test_a_class_scores_its_best_tag_and_an_unmapped_class_has_none():
    taggram = np.zeros((2, 50))
    taggram[:, MTT_LABELS.index("piano")] = [0.2, 0.9]
    taggram[:, MTT_LABELS.index("harpsichord")] = [0.6, 0.1]
    scores = zero_shot_scores(taggram, ["Piano", "piano", "organ"])
    np.testing.assert_allclose(scores[:, :2], [[0.6, 0.2], [0.9, 0.9]])
    assert np.isnan(scores[:, 2]).all()
    with pytest.raises(ValueError, match="--musicnn-layer taggram of an MTT model"):
        zero_shot_scores(np.zeros((2, 753)), ["piano"])


def test_hold_onto_grid_takes_the_nearest_source_frame():
    values = np.array([10.0, 11.0, 12.0])  # 2.99 s frames centred at 1.5, 4.5, 7.5 s (rounded)
    held = hold_onto_grid(values, src_hop_s=3.0, src_first_centre=1.5, n_frames=10, hop_s=1.0, first_centre=0.5)
    np.testing.assert_array_equal(held, [10, 10, 10, 11, 11, 11, 12, 12, 12, 12])
    with pytest.raises(ValueError, match="no source frames"):
        hold_onto_grid(values[:0], src_hop_s=3.0, src_first_centre=1.5, n_frames=2, hop_s=1.0, first_centre=0.5)


class TaggramReader(FakeReader):
    """An MTT musicnn taggram feature set whose tags are the truth: a perfect zero-shot model."""

    key = "musicnn-0badc0de"
    name = "musicnn"
    params = {"name": "musicnn", "model": "MTT_musicnn", "layer": "taggram", "hop_frames": 187}

    def read_features(self, track_id, start=0, stop=None):
        labels = self._tracks[track_id][1]
        taggram = np.full((len(labels), 50), 0.1, dtype=np.float32)
        for c, name in enumerate(self.classes):
            for tag in mtt_tags_for(name):
                taggram[:, MTT_LABELS.index(tag)] = np.where(labels[:, c] > 0, 0.8, 0.1)
        return taggram


class TwoSetStore(FakeStore):
    def __init__(self, reader, taggrams):
        super().__init__(reader)
        self.sets = {reader.key: reader, taggrams.key: taggrams}

    def feature_sets(self):
        return sorted(self.sets)

    def feature_set(self, key):
        return self.sets[key]


def _setup(tmp_path, *, with_taggram=True, classes=CLASSES):
    tracks = make_tracks(classes, n_tracks=9)
    reader = FakeReader(classes, tracks)
    run = FakeRun(classes=classes, store_classes=classes, run_dir=tmp_path / "run")
    run.run_dir.mkdir(parents=True)
    (run.run_dir / "training_data.json").write_text(json.dumps({
        "frame_prior": {c: 0.3 for c in classes}, "dominant_counts": {classes[0]: 3}}))
    store = TwoSetStore(reader, TaggramReader(classes, tracks)) if with_taggram else FakeStore(reader)
    return store, reader, run


def test_the_report_shows_the_zero_shot_baseline_beside_the_prior_one(tmp_path):
    store, reader, run = _setup(tmp_path)
    out = tmp_path / "report"
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=out)
    assert metrics["zero_shot.frame.f1_micro"] == pytest.approx(1.0)  # its tags are the truth here
    assert metrics["zero_shot.frame.map_macro"] == pytest.approx(1.0)
    assert metrics["zero_shot.segment.f1_micro"] == pytest.approx(1.0)
    info = metrics["zero_shot_info"]
    assert info["classes"] == ["piano", "guitar", "drums"] and info["unscored_classes"] == ["organ"]
    assert info["taggram_feature_set"] == "musicnn-0badc0de" and info["tags"]["drums"] == ["drums"]
    assert set(info["model_on_these_classes"]) == {"frame.f1_micro", "frame.f1_macro", "frame.map_macro"}
    assert 0 <= info["model_on_these_classes"]["frame.f1_micro"] <= 1
    note = next(n for n in metrics["notes"] if n.startswith("Zero-shot baseline"))
    assert "scores 3 of 4 classes" in note and "no MTT tag: organ" in note and "tuned for micro F1" in note
    assert "zero-shot musicnn MTT tags" in (out / "report.html").read_text()
    keys, rows = comparison_table([out])
    assert keys.index("zero_shot.frame.f1_micro") == keys.index("baseline.frame.f1_micro") + 1
    assert rows[0]["zero_shot.frame.f1_micro"] == pytest.approx(1.0)
    assert rows[0]["features"] == reader.key  # compare says which feature set each run used


def test_without_a_taggram_the_report_says_how_to_get_one(tmp_path):
    store, reader, run = _setup(tmp_path, with_taggram=False)
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "r")
    assert not any(k.startswith("zero_shot") for k in metrics)
    assert any("--musicnn-layer taggram" in n for n in metrics["notes"])


def test_classes_without_tags_get_no_zero_shot_baseline_and_no_note(tmp_path):
    store, reader, run = _setup(tmp_path, classes=["organ", "accordion"])
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "r")
    assert not any(k.startswith("zero_shot") for k in metrics)
    assert not any("zero-shot" in n.lower() for n in metrics["notes"])


def test_the_threshold_is_tuned_where_the_runs_own_thresholds_were_and_nothing_is_written(tmp_path, monkeypatch):
    store, reader, run = _setup(tmp_path)
    before = sorted(p.name for p in run.run_dir.iterdir())
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "a")
    info = metrics["zero_shot_info"]
    assert info["threshold_source"] == "tuned for micro F1 on this store's validation split"
    assert 0.1 < info["threshold"] < 0.8  # between the fake taggram's off (0.1) and on (0.8) values
    untuned = evaluate_loaded(store=store, reader=reader, run=run, split="all", out=tmp_path / "b")
    assert untuned["zero_shot_info"]["threshold"] == 0.5  # "all" holds the validation split: no tuning
    # a run whose thresholds were tuned on another store's validation split: the same split tunes the baseline
    tuning_store, _, _ = _setup(tmp_path / "other")
    monkeypatch.setattr("storage.store.open_store", lambda url, **_: tuning_store if url == "memory://tuning" else None)
    run.decision = Decision.untuned(CLASSES).to_json() | {"tuned_on": {"store": "memory://tuning", "split": "validation"}}
    again = evaluate_loaded(store=store, reader=reader, run=run, split="all", out=tmp_path / "c")
    assert again["zero_shot_info"]["threshold_source"] == (
        "tuned for micro F1 on the validation split of memory://tuning, where the run's thresholds were tuned")
    assert 0.1 < again["zero_shot_info"]["threshold"] < 0.8
    assert sorted(p.name for p in run.run_dir.iterdir()) == before  # evaluation never writes to the run
