"""Macro averages say which classes they leave out; the dominant instrument is predicted as it is defined."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluation.evaluate import evaluate_loaded

from .eval_fakes import FakeReader, FakeRun, FakeStore

CLASSES = ["piano", "guitar", "drums", "flute"]


class ScriptedReader(FakeReader):
    """Features (= the fake run's activations) given per track."""

    def __init__(self, classes, tracks, scores):
        super().__init__(classes, tracks)
        self._scores = scores

    def read_features(self, track_id, start=0, stop=None):
        return self._scores[track_id].astype(np.float32)


def _setup(tmp_path):
    n = 100
    tracks, scores = {}, {}
    for k in range(4):
        labels = np.zeros((n, 4), np.uint8)
        labels[: 60, 0] = 1  # piano plays 60 % of every track: the dominant instrument
        labels[70: 90, 1] = 1
        # drums: never present and never predicted; flute: never present but predicted (false positives)
        s = np.full((n, 4), 0.05)
        s[: 60, 0] = 0.6  # piano: above 0.5 when it plays
        s[:, 1] = 0.45  # guitar: just under the threshold everywhere, above it where it plays
        s[70: 90, 1] = 0.9
        s[40: 50, 3] = 0.8
        tracks[f"t{k}"] = ("test", labels, np.ones_like(labels, dtype=bool))
        scores[f"t{k}"] = s
    reader = ScriptedReader(CLASSES, tracks, scores)
    run = FakeRun(classes=CLASSES, store_classes=CLASSES, run_dir=tmp_path / "run")
    return FakeStore(reader), reader, run


def test_classes_left_out_of_macro_averages_are_listed_in_metrics_and_report(tmp_path):
    store, reader, run = _setup(tmp_path)
    evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "r", smoothing_s=0,
                    n_track_plots=0)
    data = json.loads((tmp_path / "r" / "metrics.json").read_text())
    left_out = data["macro_left_out"]
    assert left_out["frame.f1_macro"] == {"left_out": ["drums"], "n_averaged": 3,
                                          "why": "no positive frame and no predicted frame"}
    assert left_out["frame.recall_macro"]["left_out"] == ["drums", "flute"]
    assert left_out["frame.map_macro"]["left_out"] == ["drums", "flute"]
    assert left_out["segment.f1_macro"]["left_out"] == ["drums", "flute"]  # sed_eval's rule
    # the macro F1 is the mean over exactly the other classes
    f1 = [data["per_class"][c]["f1"] for c in ("piano", "guitar", "flute")]
    assert data["frame.f1_macro"] == pytest.approx(np.mean(f1)) and data["per_class"]["flute"]["f1"] == 0.0
    assert data["undefined"]["per_class.drums.recall"] == "no positive frame"
    assert "per_class.drums.f1" in data["undefined"] and data["undefined"] != {}
    assert any("leave out drums" in n and "frame.f1_macro" in n for n in data["notes"])
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Left out of macro averages" in html and "per_class.drums.recall" in html


def test_dominant_accuracy_predicts_by_active_time_as_the_truth_is_defined(tmp_path):
    store, reader, run = _setup(tmp_path)
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "r", smoothing_s=0,
                              n_track_plots=0)
    # truth: piano plays longest.  Summed activation: guitar (0.45 everywhere + 0.9) beats piano (0.6 x 60 %)
    assert [t["dominant_true"] for t in metrics["tracks"]] == ["piano"] * 4
    assert metrics["dominant.accuracy"] == 1.0 == metrics["dominant.accuracy_active_time"]
    assert metrics["dominant.accuracy_summed_probability"] == 0.0
    assert "active time" in metrics["dominant"]["dominant.accuracy"]
    html = (tmp_path / "r" / "report.html").read_text()
    assert "by active time" in html and "by summed activation" in html
