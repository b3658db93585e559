"""The decision rule: per-class / micro / 0.5 thresholds and the cross-validated default."""

from __future__ import annotations

import numpy as np
import pytest

from evaluation.decision import Decision, tune_decision

RATE = 10.0  # frames per second: 60 s of positives = 600 frames


def _tracks(offsets: list[float], *, n_tracks: int = 6, n_frames: int = 400, seed: int = 0):
    """Tracks where class c's scores are its labels scaled into [offset_c, offset_c + 0.3] plus noise."""
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n_tracks):
        labels = (rng.random((n_frames, len(offsets))) < 0.4).astype(np.uint8)
        scores = np.clip(np.array(offsets) + 0.3 * labels + rng.normal(0, 0.05, labels.shape), 0, 1)
        out.append((labels, scores, np.ones_like(labels, dtype=bool)))
    return out


def test_per_class_thresholds_win_when_classes_are_calibrated_differently():
    # class 0 scores 0.05 (absent) / 0.35 (present), class 1 0.55 / 0.85: no single threshold fits both
    decision = tune_decision(_tracks([0.05, 0.55]), ["a", "b"], frame_rate=RATE)
    assert decision.default == "per-class" and decision.tuned.all()
    assert 0.1 < decision.per_class[0] < 0.35 < 0.55 < decision.per_class[1] < 0.85
    cv = decision.info["cross_validated_f1_micro_plus_macro"]
    assert cv["per-class"] > cv["micro"] and cv["per-class"] > cv["0.5"]


def test_classes_with_too_few_positive_seconds_take_the_micro_threshold():
    tracks = _tracks([0.3, 0.3], n_frames=100)  # ~40 positive frames = 4 s per class and track
    decision = tune_decision(tracks[:1], ["a", "b"], frame_rate=RATE)
    assert not decision.tuned.any()
    np.testing.assert_allclose(decision.per_class, decision.micro)
    assert decision.default == "micro"  # one track: no cross-validation, the micro rule


def test_decision_json_round_trip_and_variants():
    decision = tune_decision(_tracks([0.05, 0.55]), ["a", "b"], frame_rate=RATE)
    again = Decision.from_json(decision.to_json(), ["a", "b"])
    np.testing.assert_allclose(again.per_class, decision.per_class)
    assert again.default == decision.default and again.micro == decision.micro
    np.testing.assert_allclose(again.thresholds("0.5"), [0.5, 0.5])
    np.testing.assert_allclose(again.thresholds("micro"), [decision.micro] * 2)
    with pytest.raises(ValueError, match="unknown decision variant"):
        again.thresholds("median")
    untuned = Decision.untuned(["a", "b"])
    assert untuned.default == "0.5" and (untuned.thresholds() == 0.5).all()
    with pytest.raises(ValueError, match="at least one validation track"):
        tune_decision([], ["a"], frame_rate=RATE)
