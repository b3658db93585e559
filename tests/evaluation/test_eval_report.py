"""evaluate_loaded and the report writer with fake store/run objects and synthetic arrays."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evaluation.evaluate import EvaluationError, evaluate_loaded, match_classes
from evaluation.report import json_safe, write_report

from .eval_fakes import FakeReader, FakeRun, FakeStore, make_tracks

REQUIRED = ("frame.f1_micro", "frame.f1_macro", "frame.f1_weighted", "frame.hamming_loss",
            "frame.jaccard_samples", "frame.map_macro", "segment.f1_micro", "dominant.accuracy")


@pytest.fixture
def setup(tmp_path, monkeypatch):
    classes = ["piano", "guitar", "drums", "bass"]
    reader = FakeReader(classes, make_tracks(classes, n_tracks=9, partial=True))
    store = FakeStore(reader)
    # the run knows a class the store lacks ("flute") and not "bass"
    run = FakeRun(classes=["guitar", "piano", "drums", "flute"], store_classes=classes, run_dir=tmp_path / "run")
    saved = {}
    monkeypatch.setattr("evaluation.evaluate.save_tuned_thresholds",
                        lambda run_dir, names, values, micro=None: saved.update(dict(zip(names, values)),
                                                                                 _micro=micro))
    return store, reader, run, saved


def test_evaluate_writes_metrics_and_report(setup, tmp_path):
    store, reader, run, saved = setup
    out = tmp_path / "report"
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=out)
    data = json.loads((out / "metrics.json").read_text())  # strict JSON: NaN became null
    for key in REQUIRED:
        assert key in data, key
    for key in ("frame@0.5.f1_micro", "frame+smooth.f1_micro", "clip.f1_posneg_macro"):
        assert key in data
    assert data["classes"] == ["guitar", "piano", "drums"]
    assert data["missing_classes"] == ["flute"] and data["extra_classes"] == ["bass"]
    assert data["snapshot_id"] == "00000003-deadbeef" and data["feature_hash"] == reader.config_hash
    assert set(data["per_class"]["piano"]) >= {"precision", "recall", "f1", "support", "threshold"}
    # thresholds were tuned on validation tracks and handed to the run for saving
    assert "validation" in data["thresholds"]["source"]
    micro = saved.pop("_micro")
    assert set(saved) == {"guitar", "piano", "drums", "flute"} and saved["flute"] == 0.5
    # one micro-F1 threshold tuned beside them, reported as the @micro variant
    assert 0 < micro < 1 and data["thresholds"]["micro"] == micro
    assert data["frame@micro.f1_micro"] > 0.8
    # features = 0.7 * labels + 0.3 * noise: a good "model"
    assert metrics["frame.f1_micro"] > 0.8
    assert any("partly unknown" in n for n in data["notes"])
    html = (out / "report.html").read_text()
    assert "flute" in html and "data:image/png;base64," in html
    assert html.count("<img") == 3 + len(data["figures"]["tracks"])  # per-class, confusion, history
    for rel in ["per_class.png", "confusion.png", "history.png", *data["figures"]["tracks"].values()]:
        assert (out / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'href="{rel}"' in html


def test_evaluate_on_validation_does_not_tune(setup, tmp_path):
    store, reader, run, saved = setup
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="validation", out=tmp_path / "r",
                              smoothing_s=0, n_track_plots=0)
    assert not saved and metrics["thresholds"]["source"].startswith("0.5")
    assert any("not tuned" in n for n in metrics["notes"])
    assert "frame+smooth.f1_micro" not in metrics


def test_evaluate_errors(setup, tmp_path):
    store, reader, run, _ = setup
    with pytest.raises(EvaluationError, match="unknown split"):
        evaluate_loaded(store=store, reader=reader, run=run, split="dev", out=tmp_path)
    with pytest.raises(EvaluationError, match="no class in common"):
        match_classes(["violin"], ["piano"])


def test_report_writer_nan_is_null_with_note(tmp_path):
    metrics = {
        "run": {"name": "crnn", "dir": "/runs/crnn"}, "store": {"url": "s3://b/x", "snapshot_id": "s1"},
        "frame.f1_micro": 0.5, "frame.map_macro": float("nan"), "dominant.accuracy": np.float32(np.nan),
        "per_class": {"piano": {"f1": np.nan, "support": np.int64(0)}},
        "figures": {"per_class": "missing.png"},
    }
    html_path = write_report(tmp_path, metrics)
    data = json.loads((tmp_path / "metrics.json").read_text())
    assert data["frame.map_macro"] is None and data["dominant.accuracy"] is None
    assert "positive" in data["undefined"]["frame.map_macro"]
    html = html_path.read_text()
    assert "n/a" in html and "frame.map_macro" in html
    assert "<img" not in html  # a missing figure is left out, never a broken image
    assert json_safe({"a": [np.float64(np.inf)]}) == {"a": [None]}


def test_cli_registers_evaluation_commands():
    from pipeline.cli import build_parser

    args = build_parser().parse_args(["evaluate", "--store", "s3://b/store", "--run", "r", "--out", "o",
                                      "--split", "validation", "--no-tune"])
    assert args.split == "validation" and args.no_tune and callable(args.handler)
    args = build_parser().parse_args(["predict", "a.wav", "b.mp3", "--run", "r1", "--run", "r2", "--out", "o"])
    assert [str(r) for r in args.runs] == ["r1", "r2"] and len(args.audio) == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["evaluate", "--store", "s", "--run", "r", "--out", "o", "--split", "dev"])
