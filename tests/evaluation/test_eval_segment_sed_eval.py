"""Segment-based scores against values sed_eval 0.2.1 computed on the same activities (stored:
sed_eval is no dependency; tests/evaluation/data/make_sed_eval_reference.py regenerates them)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from evaluation.segment import segment_metrics

REFERENCE = json.loads((Path(__file__).parent / "data" / "sed_eval_segment_reference.json").read_text())
KEYS = ("f1_micro", "precision_micro", "recall_micro", "error_rate", "substitution_rate", "deletion_rate",
        "insertion_rate", "f1_macro")


@pytest.mark.parametrize("case", REFERENCE["cases"], ids=[c["name"] for c in REFERENCE["cases"]])
def test_segment_scores_equal_sed_eval(case):
    scores = segment_metrics(np.array(case["reference"]), np.array(case["estimated"]))
    for key in KEYS:
        assert scores[key] == pytest.approx(case[key], abs=1e-12), key
    expected = np.array([np.nan if v is None else v for v in case["f1_per_class"]])
    np.testing.assert_allclose(scores["f1_per_class"], expected, atol=1e-12)  # NaN where sed_eval has NaN


def test_macro_f1_leaves_out_false_positive_only_and_never_predicted_classes_as_sed_eval_does():
    case = REFERENCE["cases"][0]
    ref, est = np.array(case["reference"]), np.array(case["estimated"])
    assert ref[:, 1].sum() == 0 and est[:, 1].sum() > 0  # class 1: false positives only
    assert ref[:, 2].sum() > 0 and est[:, 2].sum() == 0  # class 2: never predicted
    scores = segment_metrics(ref, est)
    assert np.isnan(scores["f1_per_class"][[1, 2]]).all()
    assert scores["f1_macro"] == pytest.approx(np.mean(scores["f1_per_class"][[0, 3, 4]]))
