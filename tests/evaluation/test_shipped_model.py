"""The committed model (models/gm-families): small enough, complete, and used by `instrec predict`."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import soundfile as sf

from evaluation.model_card import MAX_WEIGHTS_BYTES, default_model_dir


def test_the_shipped_model_is_complete_and_small(monkeypatch):
    monkeypatch.delenv("INSTREC_MODEL", raising=False)
    model = default_model_dir()
    assert model.name == "gm-families"
    assert 0 < (model / "model.pt").stat().st_size <= MAX_WEIGHTS_BYTES
    for name in ("config.json", "classes.json", "features.json", "thresholds.json", "recipe.json", "card.md"):
        assert (model / name).is_file(), name
    card = (model / "card.md").read_text()
    assert "TimGM6mb" in card and "| family |" in card and "prior" in card
    assert len(json.loads((model / "classes.json").read_text())) == 17


def test_instrec_predict_without_run_uses_the_shipped_model(tmp_path, monkeypatch):
    monkeypatch.delenv("INSTREC_MODEL", raising=False)
    sr = 22050
    t = np.arange(3 * sr) / sr
    song = tmp_path / "bassline.wav"
    sf.write(song, (0.3 * np.sin(2 * np.pi * 55 * t) * (np.sin(2 * np.pi * 2 * t) > 0)).astype(np.float32), sr)
    done = subprocess.run([sys.executable, "-m", "instrec", "predict", str(song), "--out", str(tmp_path / "out"),
                           "--no-progress"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "using the shipped model" in done.stdout + done.stderr
    record = json.loads((tmp_path / "out" / "bassline.json").read_text())
    (run,) = record["runs"]
    assert run["name"] == "gm-families" and len(run["classes"]) == 17
    assert abs(run["n_frames"] - 3 * run["frame_rate"]) <= 2
    assert all(0.0 <= v <= 1.0 for v in run["clip_scores"].values())
