"""Prior / majority baselines from training statistics, against hand-computed values."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluation.baseline import (
    PriorBaseline, baseline_metrics, best_constant_decisions, load_prior_baseline, majority_decisions,
    most_frequent,
)
from evaluation.compare import comparison_table
from evaluation.evaluate import evaluate_loaded

from .eval_fakes import FakeReader, FakeRun, FakeStore, make_tracks


def test_best_constant_set_maximises_expected_micro_f1():
    # P = 1.4; top-k F1 = 2 * cumsum / (k + P): k=1 .5, k=2 .588, k=3 .591, k=4 .519
    np.testing.assert_array_equal(best_constant_decisions(np.array([0.3, 0.6, 0.1, 0.4])),
                                  [True, True, False, True])
    np.testing.assert_array_equal(majority_decisions(np.array([0.3, 0.6, 0.1, 0.5])), [False, True, False, True])
    # never-known classes (NaN) count as never active; all-zero priors choose nothing
    np.testing.assert_array_equal(best_constant_decisions(np.array([np.nan, 0.9])), [False, True])
    assert not best_constant_decisions(np.zeros(3)).any()
    assert most_frequent({"B": 3, "A": 3, "C": 1}) == "A" and most_frequent({}) is None
    with pytest.raises(ValueError, match="fractions"):
        PriorBaseline(["a"], np.array([3.0]), {}, "x")


def test_baseline_metrics_hand_computed():
    # run classes A, X, B; the store lacks X. Best constant on (.6, .9, .45): P = 1.95,
    # k=1 .610, k=2 .759, k=3 .788 -> all three; majority -> A and X.
    baseline = PriorBaseline(["A", "X", "B"], np.array([0.6, 0.9, 0.45]), {"B": 3, "A": 3}, "test")
    t1 = np.array([[1, 0], [1, 1], [0, 1], [0, 1]], np.uint8)  # frames at .25 .75 1.25 1.75 s
    t2 = np.array([[1, 0], [1, 0]], np.uint8)
    masks = [np.ones_like(t1, bool), np.ones_like(t2, bool)]
    out = baseline_metrics(baseline, np.array([0, 2]), ["A", "B"], [t1, t2], masks, ["B", "A"],
                           hop_s=0.5, first_centre=0.25, segment_s=1.0)
    # prior baseline predicts A and B everywhere: A tp 4 fp 2, B tp 3 fp 3
    assert out["baseline.frame.f1_micro"] == pytest.approx(14 / 19)
    assert out["baseline.frame.f1_macro"] == pytest.approx((8 / 10 + 6 / 9) / 2)
    # constant scores: AP = prevalence (A 4/6, B 3/6)
    assert out["baseline.frame.map_macro"] == pytest.approx((4 / 6 + 3 / 6) / 2)
    # segments A = (1, 0, 1), B = (1, 1, 0), all predicted: tp 4 fp 2
    assert out["baseline.segment.f1_micro"] == pytest.approx(8 / 10)
    # majority predicts A only: tp 4 fp 2 fn 3; B has F1 0 (missed, never predicted)
    assert out["baseline_majority.frame.f1_micro"] == pytest.approx(8 / 13)
    assert out["baseline_majority.frame.f1_macro"] == pytest.approx((0.8 + 0.0) / 2)
    assert out["baseline_majority.segment.f1_micro"] == pytest.approx(4 / 7)
    # dominant guess: tie 3-3 between A and B -> A; right for the second track only
    assert out["baseline.dominant.accuracy"] == pytest.approx(0.5)
    info = out["baseline_info"]
    assert info["predicted_classes"] == {"baseline": ["A", "B"], "baseline_majority": ["A"]}
    assert info["dominant"] == "A" and info["prior"] == {"A": 0.6, "B": 0.45}


def test_baseline_metrics_with_unknown_labels_and_no_dominant():
    baseline = PriorBaseline(["A", "B"], np.array([0.2, 0.1]), {}, "test")
    labels = np.array([[1, 1], [0, 1], [0, 0]], np.uint8)
    mask = np.array([[True, False], [True, True], [True, True]])
    out = baseline_metrics(baseline, np.array([0, 1]), ["A", "B"], [labels], [mask], [None],
                           hop_s=0.5, segment_s=1.0)
    # best constant: P = .3, k=1 .4/1.3, k=2 .6/2.3 -> A only; known: A tp 1 fp 2, B fn 1
    assert out["baseline.frame.f1_micro"] == pytest.approx(2 / (2 + 2 + 1))
    assert np.isnan(out["baseline.dominant.accuracy"])  # nothing to score, NaN not 0
    assert out["baseline_majority.frame.f1_micro"] == pytest.approx(0.0)


def _fake_setup(tmp_path, *, with_stats=True):
    classes = ["piano", "guitar", "drums"]
    reader = FakeReader(classes, make_tracks(classes, n_tracks=9))
    run = FakeRun(classes=classes, store_classes=classes, run_dir=tmp_path / "run")
    run.run_dir.mkdir()
    if with_stats:
        (run.run_dir / "training_data.json").write_text(json.dumps({
            "frame_prior": {"piano": 0.1, "guitar": 0.3, "drums": 0.6},
            "dominant_counts": {"drums": 5, "piano": 1}}))
    return FakeStore(reader), reader, run


def test_evaluation_reports_the_baseline_beside_the_model(tmp_path):
    store, reader, run = _fake_setup(tmp_path)
    assert load_prior_baseline(run).dominant == "drums"
    out = tmp_path / "report"
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=out)
    for key in ("baseline.frame.f1_micro", "baseline.frame.f1_macro", "baseline.frame.map_macro",
                "baseline.segment.f1_micro", "baseline.dominant.accuracy", "baseline_majority.frame.f1_micro"):
        assert key in metrics, key
    # recompute the prior baseline's frame F1 from the test tracks by hand
    tracks = reader.tracks("test")
    y = np.concatenate([reader.read_labels(t.track_id)[0] for t in tracks]).astype(bool)
    on = best_constant_decisions(np.array([0.1, 0.3, 0.6]))
    tp, fp, fn = (y & on).sum(), (~y & on).sum(), (y & ~on).sum()
    assert metrics["baseline.frame.f1_micro"] == pytest.approx(2 * tp / (2 * tp + fp + fn))
    dominant = [t.dominant for t in tracks]
    assert metrics["baseline.dominant.accuracy"] == pytest.approx(np.mean([d == "drums" for d in dominant]))
    # the fake model sees the labels through noise: it beats the baseline
    assert metrics["frame.f1_micro"] > metrics["baseline.frame.f1_micro"]
    html = (out / "report.html").read_text()
    assert "prior baseline (no audio)" in html and "majority baseline (no audio)" in html
    keys, rows = comparison_table([out])
    assert keys.index("baseline.frame.f1_micro") == keys.index("frame.f1_micro") + 1
    assert rows[0]["baseline.frame.f1_micro"] == pytest.approx(metrics["baseline.frame.f1_micro"])


def test_evaluation_without_training_statistics_notes_the_missing_baseline(tmp_path):
    store, reader, run = _fake_setup(tmp_path, with_stats=False)
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "r")
    assert not any(k.startswith("baseline") for k in metrics)
    assert any("No prior baseline" in n for n in metrics["notes"])
