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


DECISION = {"format": "instrec-decision-1", "default": "micro", "micro": 0.35, "version": 2,
            "per_class": {"guitar": 0.3, "piano": 0.6, "drums": 0.35, "flute": 0.35},
            "per_class_tuned": ["guitar", "piano"], "tuned_on": {"store": "held-out", "split": "validation",
                                                                 "n_tracks": 7}}


@pytest.fixture
def setup(tmp_path):
    classes = ["piano", "guitar", "drums", "bass"]
    reader = FakeReader(classes, make_tracks(classes, n_tracks=9, partial=True))
    store = FakeStore(reader)
    # the run knows a class the store lacks ("flute") and not "bass"
    run = FakeRun(classes=["guitar", "piano", "drums", "flute"], store_classes=classes, run_dir=tmp_path / "run",
                  decision=DECISION)
    return store, reader, run


def test_evaluate_writes_metrics_and_report(setup, tmp_path):
    store, reader, run = setup
    out = tmp_path / "report"
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=out)
    data = json.loads((out / "metrics.json").read_text())  # strict JSON: NaN became null
    for key in REQUIRED:
        assert key in data, key
    for key in ("frame@0.5.f1_micro", "frame@micro.f1_micro", "frame@per-class.f1_micro", "frame+raw.f1_micro",
                "clip.f1_posneg_macro"):
        assert key in data
    assert data["classes"] == ["guitar", "piano", "drums"]
    assert data["missing_classes"] == ["flute"] and data["extra_classes"] == ["bass"]
    assert data["snapshot_id"] == "00000003-deadbeef" and data["feature_hash"] == reader.config_hash
    assert set(data["per_class"]["piano"]) >= {"precision", "recall", "f1", "support", "threshold"}
    # the run's own decision rule: its default variant (micro) decides the unsuffixed scores
    assert data["thresholds"]["default"] == "micro" and "version 2" in data["thresholds"]["source"]
    assert "7 validation tracks of held-out" in data["thresholds"]["source"]
    assert data["thresholds"]["values"] == {"guitar": 0.35, "piano": 0.35, "drums": 0.35}
    assert data["thresholds"]["per_class"] == {"guitar": 0.3, "piano": 0.6, "drums": 0.35}
    assert data["frame.f1_micro"] == data["frame@micro.f1_micro"]
    assert data["per_class"]["piano"]["threshold"] == 0.35
    assert not run.run_dir.exists()  # evaluation wrote nothing into the run
    # features = 0.7 * labels + 0.3 * noise: a good "model"
    assert metrics["frame.f1_micro"] > 0.8
    assert any("partly unknown" in n for n in data["notes"])
    html = (out / "report.html").read_text()
    assert "flute" in html and "data:image/png;base64," in html
    assert html.count("<img") == 3 + len(data["figures"]["tracks"])  # per-class, confusion, history
    for rel in ["per_class.png", "confusion.png", "history.png", *data["figures"]["tracks"].values()]:
        assert (out / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        assert f'href="{rel}"' in html


def test_scores_never_depend_on_what_was_evaluated_before(setup, tmp_path):
    store, reader, run = setup
    first = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "a", n_track_plots=0)
    evaluate_loaded(store=store, reader=reader, run=run, split="validation", out=tmp_path / "b", n_track_plots=0)
    again = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "c", n_track_plots=0)
    assert {k: v for k, v in first.items() if k.startswith("frame")} == {
        k: v for k, v in again.items() if k.startswith("frame")}


def test_a_run_without_tuned_thresholds_decides_at_half(setup, tmp_path):
    store, reader, run = setup
    run.decision = None
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="validation", out=tmp_path / "r",
                              smoothing_s=0, n_track_plots=0)
    assert metrics["thresholds"]["source"].startswith("0.5") and metrics["thresholds"]["default"] == "0.5"
    assert any("instrec tune-thresholds" in n for n in metrics["notes"])
    assert metrics["frame.f1_micro"] == metrics["frame@0.5.f1_micro"]
    assert "frame+raw.f1_micro" not in metrics  # --smoothing 0: the scores are the raw ones


def test_evaluate_errors(setup, tmp_path):
    store, reader, run = setup
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
    from instrec.cli import build_parser

    args = build_parser().parse_args(["evaluate", "--store", "s3://b/store", "--run", "r", "--out", "o",
                                      "--split", "validation"])
    assert args.split == "validation" and callable(args.handler)
    args = build_parser().parse_args(["tune-thresholds", "--run", "r", "--store", "held-out"])
    assert args.split == "validation" and callable(args.handler)
    args = build_parser().parse_args(["predict", "a.wav", "b.mp3", "--run", "r1", "--run", "r2", "--out", "o"])
    assert [str(r) for r in args.runs] == ["r1", "r2"] and len(args.audio) == 2
    with pytest.raises(SystemExit):
        build_parser().parse_args(["evaluate", "--store", "s", "--run", "r", "--out", "o", "--split", "dev"])


def test_a_report_killed_mid_way_leaves_the_earlier_report_whole(setup, tmp_path, monkeypatch):
    """Never the new metrics.json beside the old report.html: the folder is replaced whole or not at all."""
    import evaluation.evaluate as evaluate_module

    store, reader, run = setup
    out = tmp_path / "report"
    evaluate_loaded(store=store, reader=reader, run=run, split="test", out=out, n_track_plots=1)

    def files() -> dict:  # content and modification time: a file written again with equal bytes counts too
        return {p.relative_to(out): (p.read_bytes(), p.stat().st_mtime_ns) for p in out.rglob("*") if p.is_file()}

    before = files()

    def killed(*args, **kwargs):
        raise KeyboardInterrupt  # Ctrl-C (or a kill) while the new report's figures are drawn

    monkeypatch.setattr(evaluate_module, "plot_piano_roll", killed)
    with pytest.raises(KeyboardInterrupt):
        evaluate_loaded(store=store, reader=reader, run=run, split="validation", out=out, n_track_plots=1)
    assert files() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]  # no staging folder left beside it
    monkeypatch.undo()
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="validation", out=out, n_track_plots=1)
    assert json.loads((out / "metrics.json").read_text())["split"] == metrics["split"] == "validation"
    assert "validation: " in (out / "report.html").read_text()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["report"]


def test_a_report_folder_holding_other_files_is_refused(setup, tmp_path):
    store, reader, run = setup
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("not a report")
    with pytest.raises(EvaluationError, match=r"mine: holds files that are not part of an instrec report "
                                              r"\(notes\.txt\); the report replaces the folder"):
        evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "mine")
    assert (tmp_path / "mine" / "notes.txt").read_text() == "not a report"


def test_few_tracks_are_noted(setup, tmp_path):
    store, reader, run = setup
    metrics = evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "r", n_track_plots=0)
    assert metrics["n_tracks"] == 3
    assert any(note.startswith("Only 3 track(s) scored in the 'test' split") for note in metrics["notes"])


def test_evaluate_shows_progress_over_the_tracks(setup, tmp_path, capsys):
    store, reader, run = setup
    evaluate_loaded(store=store, reader=reader, run=run, split="test", out=tmp_path / "r", n_track_plots=0,
                    progress=True)
    err = capsys.readouterr().err
    assert "evaluate: 100%" in err and "| 3/3 [" in err, err
