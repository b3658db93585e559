"""Metric functions against hand-computed values (derivations in the comments)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import f1_score

from evaluation.clip import clip_metrics
from evaluation.confusion import confusion_matrix, ranked_confusions
from evaluation.dominant import dominant_accuracy, predicted_dominant, true_dominant
from evaluation.frame import frame_metrics, per_class_metrics, ranking_metrics
from evaluation.segment import segment_activity, segment_metrics
from evaluation.smoothing import median_filter_frames, smooth_activations
from evaluation.thresholds import tune_micro_threshold, tune_thresholds

# Two classes, four frames.
Y_TRUE = np.array([[1, 0], [1, 1], [0, 0], [0, 1]])
Y_PRED = np.array([[1, 1], [0, 1], [0, 0], [0, 1]])


def test_frame_metrics_full_mask_hand_computed():
    m = frame_metrics(Y_TRUE, Y_PRED)
    # class 0: t=1100 p=1000 -> tp1 fp0 fn1: P=1, R=1/2, F1=2/3
    # class 1: t=0101 p=1101 -> tp2 fp1 fn0: P=2/3, R=1, F1=4/5
    # micro: tp3 fp1 fn1 -> P=R=F1=3/4
    assert m["f1_micro"] == pytest.approx(0.75)
    assert m["precision_micro"] == pytest.approx(0.75)
    assert m["f1_macro"] == pytest.approx((2 / 3 + 0.8) / 2)
    assert m["f1_weighted"] == pytest.approx((2 / 3 + 0.8) / 2)  # supports 2 and 2
    assert m["recall_macro"] == pytest.approx((0.5 + 1.0) / 2)
    # rows: F1 2/3, 2/3, undefined (nothing true, nothing predicted: skipped), 1
    assert m["f1_samples"] == pytest.approx(7 / 9)
    # jaccard rows: 1/2, 1/2, skipped, 1
    assert m["jaccard_samples"] == pytest.approx(2 / 3)
    # wrong pairs (0,1) and (1,0) out of 8
    assert m["hamming_loss"] == pytest.approx(0.25)
    assert m["n_frames"] == 4 and m["n_known"] == 8


def test_frame_metrics_masked_hand_computed():
    mask = np.ones_like(Y_TRUE, dtype=bool)
    mask[1, 0] = False  # hide the missed class-0 frame
    m = frame_metrics(Y_TRUE, Y_PRED, mask=mask)
    # class 0 on frames 0,2,3: t=100 p=100 -> F1=1; class 1 unchanged F1=4/5
    # micro: tp3 fp1 fn0 -> F1 = 6/7
    assert m["f1_micro"] == pytest.approx(6 / 7)
    assert m["recall_micro"] == pytest.approx(1.0)
    assert m["f1_macro"] == pytest.approx(0.9)
    # weighted by supports 1 and 2: (1*1 + 2*0.8)/3
    assert m["f1_weighted"] == pytest.approx(2.6 / 3)
    # rows: 2/3; frame 1 knows only class 1 (tp) -> 1; skipped; 1
    assert m["f1_samples"] == pytest.approx(8 / 9)
    # jaccard rows 1/2, 1, 1
    assert m["jaccard_samples"] == pytest.approx(5 / 6)
    assert m["hamming_loss"] == pytest.approx(1 / 7)  # one wrong of 7 known pairs
    assert m["n_known"] == 7


def test_partial_mask_path_agrees_with_sklearn_on_full_data():
    rng = np.random.default_rng(0)
    y_true = (rng.random((60, 4)) < 0.4).astype(int)
    y_pred = (rng.random((60, 4)) < 0.4).astype(int)
    from evaluation.frame import _partial_mask_scores

    full = frame_metrics(y_true, y_pred)
    partial = _partial_mask_scores(y_true.astype(np.uint8), y_pred.astype(np.uint8), np.ones((60, 4), bool))
    for key in ("f1_micro", "f1_macro", "f1_weighted", "f1_samples", "hamming_loss", "jaccard_samples"):
        assert partial[key] == pytest.approx(full[key]), key
    assert full["f1_macro"] == pytest.approx(f1_score(y_true, y_pred, average="macro"))


def test_undefined_class_is_nan_not_zero():
    y_true = np.array([[1, 0], [0, 0]])
    y_pred = np.array([[1, 0], [0, 0]])
    per = per_class_metrics(y_true, y_pred)
    # class 1 never true, never predicted: precision, recall and F1 undefined
    assert per["f1"][0] == 1.0 and math.isnan(per["f1"][1])
    assert math.isnan(per["precision"][1]) and math.isnan(per["recall"][1])
    # macro skips the undefined class instead of counting it as 0
    assert frame_metrics(y_true, y_pred)["f1_macro"] == 1.0
    masked = frame_metrics(y_true, y_pred, mask=np.array([[True, False], [False, True]]))
    assert masked["f1_macro"] == 1.0


def test_ranking_metrics_hand_computed_and_nan():
    y_true = np.array([[1, 0], [0, 0], [1, 0], [0, 0]])
    y_score = np.array([[0.9, 0.1], [0.8, 0.2], [0.4, 0.3], [0.1, 0.4]])
    r = ranking_metrics(y_true, y_score)
    # class 0 ranked 0.9(+) 0.8(-) 0.4(+) 0.1(-): AP = (1/1 + 2/3)/2 = 5/6
    assert r["ap"][0] == pytest.approx(5 / 6)
    # AUC: of 4 (pos, neg) pairs, only (0.4, 0.8) is misordered -> 3/4
    assert r["auc"][0] == pytest.approx(0.75)
    # class 1 has no positives: AP and AUC undefined, and the macro skips it
    assert math.isnan(r["ap"][1]) and math.isnan(r["auc"][1])
    assert r["map_macro"] == pytest.approx(5 / 6)
    # masking the 0.8 negative makes class 0 perfectly ranked
    mask = np.ones((4, 2), bool)
    mask[1, 0] = False
    assert ranking_metrics(y_true, y_score, mask=mask)["auc"][0] == pytest.approx(1.0)


def test_input_errors_guess_the_mistake():
    with pytest.raises(ValueError, match="logits"):
        ranking_metrics(Y_TRUE, Y_TRUE * 3.0 - 1.0)
    with pytest.raises(ValueError, match="transposed"):
        frame_metrics(Y_TRUE, Y_PRED.T)
    with pytest.raises(ValueError, match="multi-hot"):
        frame_metrics(Y_TRUE * 0.5, Y_PRED)
    with pytest.raises(ValueError, match="2-D"):
        frame_metrics(Y_TRUE[:, 0], Y_PRED[:, 0])
    with pytest.raises(ValueError, match="mask has shape"):
        frame_metrics(Y_TRUE, Y_PRED, mask=np.ones((3, 2), bool))


def test_segment_activity_and_metrics():
    # hop 0.25 s: frames 0-3 fall in segment 0, frames 4-7 in segment 1
    y = np.zeros((8, 2), int)
    y[2, 0] = 1  # one frame of class 0 makes segment 0 active
    y[5:7, 1] = 1
    act, known = segment_activity(y, hop_s=0.25, segment_s=1.0)
    np.testing.assert_array_equal(act, [[1, 0], [0, 1]])
    assert known.all()
    truth = np.array([[1, 0], [1, 1]])
    pred = np.array([[0, 1], [1, 0]])
    m = segment_metrics(truth, pred)
    # seg 0: FN1 FP1 -> S=1; seg 1: FN1 FP0 -> D=1; N=3 -> ER=2/3
    assert m["error_rate"] == pytest.approx(2 / 3)
    assert m["substitution_rate"] == pytest.approx(1 / 3)
    assert m["insertion_rate"] == 0
    # tp1 fp1 fn2: P=1/2, R=1/3, F1=2/(2+1+2)
    assert m["f1_micro"] == pytest.approx(0.4)
    assert math.isnan(segment_metrics(np.zeros((2, 2)), np.zeros((2, 2)))["f1_micro"])
    with pytest.raises(ValueError, match="seconds"):
        segment_activity(y, hop_s=0.25, segment_s=0.1)


def test_segment_activity_uses_only_known_frames():
    y = np.array([[1], [0], [0], [0]])
    mask = np.array([[False], [True], [True], [True]])
    act, known = segment_activity(y, hop_s=0.5, segment_s=1.0, mask=mask)
    # segment 0 = frames 0,1: frame 0 unknown, frame 1 known inactive -> known, inactive
    np.testing.assert_array_equal(act[:, 0], [0, 0])
    assert known.all()


def test_clip_metrics_openmic_pos_and_posneg():
    y_true = np.array([[0.9, 0.0], [0.2, 0.0], [0.6, 0.0], [0.0, 0.0]])
    y_score = np.array([[0.7, 0.1], [0.6, 0.2], [0.3, 0.3], [0.9, 0.4]])
    mask = np.array([[1, 1], [1, 1], [1, 1], [0, 1]], bool)
    m = clip_metrics(y_true, y_score, mask=mask)
    # class 0, clips 0-2: truth 101 (relevance >= .5), pred 110
    #   positive F1: tp1 fp1 fn1 -> 1/2; negative F1: tp0 fp1 fn1 -> 0; posneg = 1/4
    assert m["f1_pos"][0] == pytest.approx(0.5)
    assert m["f1_posneg"][0] == pytest.approx(0.25)
    # class 1: all negative, none predicted -> positive F1 undefined (NaN),
    #   only label 0 occurs and its F1 is 1 -> posneg = 1
    assert math.isnan(m["f1_pos"][1])
    assert m["f1_posneg"][1] == pytest.approx(1.0)
    assert m["f1_pos_macro"] == pytest.approx(0.5)
    assert m["f1_posneg_macro"] == pytest.approx(0.625)
    # the unknown clip (predicted 0.9) did not count as a false positive
    assert m["n_known"].tolist() == [3, 4]


def test_dominant():
    y = np.array([[1, 0, 0], [1, 1, 0], [0, 1, 0], [0, 1, 0]])
    assert true_dominant(y) == 1  # class 1 active in 3 frames, class 0 in 2
    assert true_dominant(np.zeros((3, 2))) is None
    scores = np.array([[0.9, 0.4], [0.9, 0.4], [0.0, 0.6]])
    # sums 1.8 vs 1.4 -> class 0; active frames at 0.5: 2 vs 1 -> class 0
    assert predicted_dominant(scores) == 0
    assert predicted_dominant(scores, mode="active_time", thresholds=[0.95, 0.3]) == 1
    assert predicted_dominant(scores, mode="active_time", thresholds=1.0) is None
    acc = dominant_accuracy(["a", "b", None, "c"], ["a", "c", "a", None])
    # scored 3 tracks (third has no truth); only the first is right
    assert acc["accuracy"] == pytest.approx(1 / 3) and acc["n_unscored"] == 1
    assert math.isnan(dominant_accuracy([None], ["a"])["accuracy"])
    with pytest.raises(ValueError, match="one of each"):
        dominant_accuracy(["a"], [])


def test_tune_thresholds_hand_computed():
    t = np.array([0, 1, 1, 0, 1])
    s = np.array([0.1, 0.4, 0.35, 0.8, 0.9])
    y_true = np.stack([t, np.zeros(5, int)], axis=1)
    y_score = np.stack([s, s], axis=1)
    out = tune_thresholds(y_true, y_score)
    # cut >=0.9: F1 1/2; >=0.8: 2/5; >=0.4: 2/3; >=0.35: tp3 fp1 fn0 -> 6/7 (best);
    # >=0.1: 3/4.  Threshold halfway between 0.35 and the next lower score 0.1.
    assert out["thresholds"][0] == pytest.approx(0.225)
    assert out["f1"][0] == pytest.approx(6 / 7)
    # class 1 has no positives: keeps the default, untuned
    assert out["thresholds"][1] == 0.5 and not out["tuned"][1] and math.isnan(out["f1"][1])


def test_tune_micro_threshold_hand_computed():
    y_true = np.array([[1, 0], [0, 1], [1, 0], [0, 1]])
    y_score = np.array([[0.9, 0.1], [0.8, 0.6], [0.4, 0.3], [0.2, 0.05]])
    # all 8 decisions pooled, by score: 0.9 T, 0.8 F, 0.6 T, 0.4 T, 0.3 F, 0.2 F, 0.1 F, 0.05 T
    # micro F1 at cut >=0.9: 2/5; >=0.8: 1/3; >=0.6: 4/7; >=0.4: tp3 fp1 fn1 -> 3/4 (best);
    # >=0.3: 6/9; >=0.2: 6/10; >=0.1: 6/11; >=0.05: 8/12.  Halfway to the next lower score 0.3.
    out = tune_micro_threshold(y_true, y_score)
    assert out["tuned"] and out["threshold"] == pytest.approx(0.35)
    assert out["f1"] == pytest.approx(0.75)
    # unknown pairs do not count: masking the 0.8 false positive makes >=0.4 give tp3 fp0 fn1
    mask = np.ones_like(y_true, dtype=bool)
    mask[1, 0] = False
    assert tune_micro_threshold(y_true, y_score, mask=mask)["f1"] == pytest.approx(6 / 7)
    # no positive: the default, untuned
    out = tune_micro_threshold(np.zeros((3, 2)), np.full((3, 2), 0.7), default=0.4)
    assert not out["tuned"] and out["threshold"] == 0.4


def test_median_smoothing():
    y = np.array([0, 1, 0, 0, 1, 1, 1, 0], float)[:, None]
    # windows of 3 with edge frames repeated: the lone 1 at frame 1 goes, the run of 3 stays
    np.testing.assert_array_equal(smooth_activations(y, size=3)[:, 0], [0, 0, 0, 0, 1, 1, 1, 0])
    assert median_filter_frames(10.0, 0.5) == 5
    assert median_filter_frames(10.0, 0.4) == 5  # 4 frames rounded up to odd
    with pytest.raises(ValueError, match="odd"):
        smooth_activations(y, size=4)


def test_confusion_counts_substitutes():
    y_true = np.array([[1, 0, 0], [1, 0, 0], [0, 1, 0]])
    y_pred = np.array([[0, 1, 1], [0, 1, 0], [1, 1, 0]])
    c = confusion_matrix(y_true, y_pred)
    # frame 0: class 0 missed, 1 and 2 false positives; frame 1: 0 missed, 1 false positive;
    # frame 2: nothing missed (class 0 is a false positive without a miss)
    expected = np.zeros((3, 3), int)
    expected[0, 1], expected[0, 2] = 2, 1
    np.testing.assert_array_equal(c["matrix"], expected)
    np.testing.assert_array_equal(c["missed"], [2, 0, 0])
    rows = ranked_confusions(c["matrix"], c["missed"], ["piano", "guitar", "bass"])
    assert rows[0] == {"true": "piano", "predicted": "guitar", "frames": 2, "share_of_misses": 1.0}
    assert [r["predicted"] for r in rows] == ["guitar", "bass"]


def test_classes_with_too_few_validation_positives_keep_the_default_threshold():
    from evaluation.thresholds import tune_micro_threshold, tune_thresholds

    # class 0: 3 positive frames (scores 0.2-0.3); class 1: 1 positive frame at 0.1
    y_true = np.array([[1, 0], [1, 0], [1, 1], [0, 0], [0, 0]])
    y_score = np.array([[0.3, 0.0], [0.25, 0.0], [0.2, 0.1], [0.05, 0.0], [0.01, 0.0]])
    out = tune_thresholds(y_true, y_score, min_positives=2)
    assert out["tuned"].tolist() == [True, False]
    # class 0: all three positives kept, both negatives dropped -> halfway between 0.2 and 0.05
    assert out["thresholds"][0] == pytest.approx(0.125)
    assert out["thresholds"][1] == 0.5
