"""Smoothing is part of a run's decision rule: one median-filter window per class, tuned on validation."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.decision import Decision, default_smoothing_s, tune_decision, tune_smoothing
from evaluation.evaluate import evaluate_loaded
from evaluation.smoothing import smooth_per_class

from .eval_fakes import FakeReader, FakeRun, FakeStore

RATE = 10.0  # frames per second (FakeReader's grid)


def _drums_and_bass(n_tracks: int = 6, n_frames: int = 300, seed: int = 0):
    """Drums: 1-frame hits every 5 frames (a 0.5 s median filter erases them); bass: long notes whose
    activation drops out in single frames (a median filter fills the dropouts)."""
    rng = np.random.default_rng(seed)
    tracks = {}
    for k in range(n_tracks):
        labels = np.zeros((n_frames, 2), np.uint8)
        labels[::5, 0] = 1
        labels[20:140, 1] = labels[180:280, 1] = 1
        tracks[f"t{k}"] = (["validation", "test"][k % 2], labels, np.ones_like(labels, dtype=bool))
    return tracks, rng


class DropoutReader(FakeReader):
    """Features: drums exactly their hits; bass its notes with 25 % of the frames dropped to 0.05."""

    def read_features(self, track_id, start=0, stop=None):
        labels = self._tracks[track_id][1].astype(np.float32)
        rng = np.random.default_rng(int(track_id[1:]))
        scores = 0.1 + 0.8 * labels
        drop = (rng.random(len(labels)) < 0.25) & (labels[:, 1] > 0)
        scores[drop, 1] = 0.05  # below the silent frames: no threshold tells a dropout from silence
        return scores


def test_untuned_windows_leave_percussion_alone():
    assert [default_smoothing_s(c) for c in ("Drums", "Percussive", "Chromatic Percussion", "cymbals", "Bass",
                                             "Piano", "Synth Pad")] == [0.0, 0.0, 0.0, 0.0, 0.5, 0.5, 0.5]
    np.testing.assert_array_equal(Decision.untuned(["Drums", "Bass"]).smoothing(), [0.0, 0.5])


def test_smooth_per_class_filters_each_column_with_its_window():
    scores = np.zeros((20, 2))
    scores[2::4] = 1.0  # isolated one-frame spikes in both classes
    out = smooth_per_class(scores, sizes=np.array([1, 5]))
    np.testing.assert_array_equal(out[:, 0], scores[:, 0])  # left alone
    assert out[:, 1].max() == 0.0  # spikes shorter than half the window are gone
    with pytest.raises(ValueError, match="one filter length per class"):
        smooth_per_class(scores, sizes=np.array([1]))


def test_evaluation_does_not_erase_drums_with_one_window_for_all(tmp_path):
    tracks, _ = _drums_and_bass()
    reader = DropoutReader(["Drums", "Bass"], tracks)
    run = FakeRun(classes=["Drums", "Bass"], store_classes=["Drums", "Bass"], run_dir=tmp_path / "run")
    per_class = evaluate_loaded(store=FakeStore(reader), reader=reader, run=run, split="test", out=tmp_path / "a",
                                n_track_plots=0)
    assert per_class["smoothing"]["per_class_s"] == {"Drums": 0.0, "Bass": 0.5}
    assert per_class["per_class"]["Drums"]["smoothing_s"] == 0.0
    assert per_class["per_class"]["Drums"]["f1"] == pytest.approx(1.0)  # every hit kept
    assert per_class["per_class"]["Bass"]["f1"] > per_class["per_class"]["Bass"]["f1+raw"]  # dropouts filled
    uniform = evaluate_loaded(store=FakeStore(reader), reader=reader, run=run, split="test", out=tmp_path / "b",
                              n_track_plots=0, smoothing_s=0.5)
    assert uniform["per_class"]["Drums"]["f1"] is None or uniform["per_class"]["Drums"]["f1"] < 0.1  # erased
    assert any("--smoothing" in note for note in uniform["notes"])


def test_windows_are_tuned_per_class_on_validation():
    tracks, _ = _drums_and_bass(n_frames=1200)
    reader = DropoutReader(["Drums", "Bass"], tracks)
    validation = [(reader.read_labels(t)[0], reader.read_features(t), reader.read_labels(t)[1]) for t in tracks]
    windows, tuned = tune_smoothing(validation, ["Drums", "Bass"], frame_rate=RATE, min_positives=100)
    assert tuned.all() and windows[0] == 0.0 and windows[1] > 0.0
    decision = tune_decision(validation, ["Drums", "Bass"], frame_rate=RATE, min_positive_seconds=10.0)
    assert decision.smoothing()[0] == 0.0 and decision.smoothing()[1] > 0.0 and decision.smoothing_tuned.all()
    again = Decision.from_json(decision.to_json(), ["Drums", "Bass"])
    np.testing.assert_array_equal(again.smoothing(), decision.smoothing())
    smoothed, active = again.apply(validation[0][1], frame_rate=RATE)
    assert active[:, 0].sum() == validation[0][0][:, 0].sum()  # every drum hit survives the rule
    # a class with too few positive frames keeps its default window
    windows, tuned = tune_smoothing(validation[:1], ["Drums", "Bass"], frame_rate=RATE, min_positives=10_000)
    assert not tuned.any() and windows.tolist() == [0.0, 0.5]
