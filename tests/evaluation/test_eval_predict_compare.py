"""predict (segments, JSON, timeline) with real log-mel features, and compare."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evaluation.compare import CompareError, compare_reports
from evaluation.predict import PredictionError, activity_segments, predict_files
from evaluation.report import write_report
from features.base import config_hash
from features.logmel import LogMelConfig


def test_activity_segments_hand_computed():
    active = np.array([[0, 1], [1, 1], [1, 0], [0, 0], [1, 0]])
    scores = np.array([[0.1, 0.8], [0.6, 0.6], [0.8, 0.2], [0.2, 0.1], [0.9, 0.0]])
    segs = activity_segments(active, scores, ["a", "b"], hop_s=0.5, first_centre=0.0, duration=2.2)
    # frames are centred at 0, .5, 1, 1.5, 2 and cover +-0.25 s (clipped to [0, 2.2]):
    # a: frames 1-2 -> [0.25, 1.25], mean 0.7; frame 4 -> [1.75, 2.2], 0.9; b: frames 0-1 -> [0, 0.75], 0.7
    assert segs == [
        {"instrument": "b", "start": 0.0, "end": 0.75, "confidence": 0.7},
        {"instrument": "a", "start": 0.25, "end": 1.25, "confidence": 0.7},
        {"instrument": "a", "start": 1.75, "end": 2.2, "confidence": 0.9},
    ]
    short = activity_segments(active, scores, ["a", "b"], hop_s=0.5, first_centre=0.0, duration=2.2,
                              min_duration_s=0.6)
    assert [s["instrument"] for s in short] == ["b", "a"]


class LoudnessRun:
    """A 'model' that calls class 'loud' active where the log-mel energy is high."""

    def __init__(self, run_dir, config):
        self.run_dir = Path(run_dir)
        self.classes = ["loud", "quiet"]
        self.thresholds = np.array([0.5, 0.5], np.float32)
        self.micro_threshold = None
        self.decision = None
        self.feature_name = config.name
        self.feature_config_hash = config_hash(config)

    def predict(self, features):
        energy = features.max(axis=1)
        loud = (energy > -40).astype(np.float32) * 0.9 + 0.05
        return np.stack([loud, 1 - loud], axis=1)

    def predict_clip(self, features):
        return self.predict(features).max(axis=0)


def test_predict_files_writes_json_and_timeline(tmp_path, monkeypatch):
    config = LogMelConfig(sr=8000, n_fft=512, hop_length=256, n_mels=32)
    sr = 8000
    t = np.arange(3 * sr) / sr
    y = np.where((t >= 1.0) & (t < 2.0), 0.5 * np.sin(2 * np.pi * 440 * t), 0.0).astype(np.float32)
    sf.write(tmp_path / "song.wav", y, sr)
    runs = [(LoudnessRun(tmp_path / "a", config), config), (LoudnessRun(tmp_path / "b", config), config)]
    monkeypatch.setattr("evaluation.predict.load_runs", lambda dirs: runs)
    result = predict_files([tmp_path / "song.wav", tmp_path / "nope.wav"], ["a", "b"], tmp_path / "out",
                           smoothing_s=0.1)
    assert len(result["problems"]) == 1 and "nope.wav" in result["problems"][0]
    record = json.loads((tmp_path / "out" / "song.json").read_text())
    assert [r["name"] for r in record["runs"]] == ["a", "b"]
    run = record["runs"][0]
    assert run["dominant"] == "quiet"  # silent for 2 of 3 seconds
    loud = [s for s in run["segments"] if s["instrument"] == "loud"]
    assert len(loud) == 1
    # the tone spans 1-2 s; frames 256/8000 = 32 ms apart, the 512-sample window smears ~32 ms
    assert loud[0]["start"] == pytest.approx(1.0, abs=0.08) and loud[0]["end"] == pytest.approx(2.0, abs=0.08)
    assert run["summary"]["loud"]["active_s"] == pytest.approx(1.0, abs=0.12)
    assert (tmp_path / "out" / "song.png").read_bytes()[:4] == b"\x89PNG"


def test_predict_with_the_micro_threshold(tmp_path, monkeypatch):
    config = LogMelConfig(sr=8000, n_fft=512, hop_length=256, n_mels=32)
    t = np.arange(2 * 8000) / 8000
    sf.write(tmp_path / "song.wav", (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    run = LoudnessRun(tmp_path / "a", config)
    monkeypatch.setattr("evaluation.predict.load_runs", lambda dirs: [(run, config)])
    with pytest.raises(PredictionError, match="never tuned, so there is no micro rule; run `instrec tune-thresholds"):
        predict_files([tmp_path / "song.wav"], ["a"], tmp_path / "out", thresholds="micro")
    assert not (tmp_path / "out").exists()  # refused before any song was read
    # micro 0.97 is above every score this 'model' gives: nothing is active with it
    run.decision = {"format": "instrec-decision-1", "default": "per-class", "micro": 0.97,
                    "per_class": {"loud": 0.5, "quiet": 0.5}, "per_class_tuned": ["loud", "quiet"]}
    predict_files([tmp_path / "song.wav"], ["a"], tmp_path / "out", thresholds="micro")
    record = json.loads((tmp_path / "out" / "song.json").read_text())["runs"][0]
    assert record["threshold_mode"] == "micro" and record["thresholds"] == {"loud": 0.97, "quiet": 0.97}
    assert record["segments"] == []
    predict_files([tmp_path / "song.wav"], ["a"], tmp_path / "out")  # the default rule (per-class 0.5): loud
    record = json.loads((tmp_path / "out" / "song.json").read_text())["runs"][0]
    assert [s["instrument"] for s in record["segments"]] == ["loud"] and record["threshold_mode"] == "default"


def test_predict_needs_a_run(tmp_path):
    with pytest.raises(PredictionError, match="--run"):
        predict_files([tmp_path / "x.wav"], [], tmp_path)


def test_compare_reports(tmp_path):
    for name, f1 in (("cnn", 0.6), ("crnn", 0.7)):
        write_report(tmp_path / name, {"run": {"name": name}, "frame.f1_micro": f1, "frame.f1_macro": f1 - 0.1,
                                       "dominant.accuracy": float("nan"), "split": "test"})
    html = compare_reports([tmp_path / "cnn", tmp_path / "crnn"], tmp_path / "cmp").read_text()
    table = json.loads((tmp_path / "cmp" / "compare.json").read_text())
    assert [r["run"] for r in table["runs"]] == ["cnn", "crnn"]
    assert table["runs"][0]["dominant.accuracy"] is None
    assert "crnn (0.700)" in html and "data:image/png;base64," in html
    assert (tmp_path / "cmp" / "compare.csv").read_text().splitlines()[0].startswith("run,store,split")
    with pytest.raises(CompareError, match="no metrics.json"):
        compare_reports([tmp_path / "missing"], tmp_path / "cmp2")


def test_predict_command_shows_progress_over_the_songs(tmp_path, monkeypatch, capsys):
    from instrec.cli import main

    config = LogMelConfig(sr=8000, n_fft=512, hop_length=256, n_mels=32)
    t = np.arange(8000) / 8000
    for name in ("a.wav", "b.wav"):
        sf.write(tmp_path / name, (0.5 * np.sin(2 * np.pi * 440 * t)).astype(np.float32), 8000)
    monkeypatch.setattr("evaluation.predict.load_runs", lambda dirs: [(LoudnessRun(tmp_path / "r", config), config)])
    assert main(["predict", str(tmp_path / "a.wav"), str(tmp_path / "b.wav"), "--run", "r", "--out",
                 str(tmp_path / "out")]) == 0
    captured = capsys.readouterr()
    assert "predict: 100%" in captured.err and "| 2/2 [" in captured.err, captured.err
    assert main(["predict", str(tmp_path / "a.wav"), "--run", "r", "--out", str(tmp_path / "out"),
                 "--no-progress"]) == 0
    assert "predict:" not in capsys.readouterr().err
