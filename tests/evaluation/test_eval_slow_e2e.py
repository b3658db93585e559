"""Slow checks: the HTML report in headless Chromium, and demo -> train -> evaluate -> predict."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from evaluation.evaluate import evaluate_loaded

from .eval_fakes import FakeReader, FakeRun, FakeStore, make_tracks

pytestmark = pytest.mark.slow


def _chromium() -> str | None:
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


def rendered_image_state(html_path: Path) -> str:
    """The report's own image check (``data-images`` on <html>) after Chromium loads it."""
    browser = _chromium()
    if browser is None:
        pytest.skip("headless Chromium not installed (Debian package: chromium)")
    result = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
         "--dump-dom", html_path.resolve().as_uri()],
        capture_output=True, text=True, timeout=90,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    marker = 'data-images="'
    assert marker in result.stdout, "the report's image check did not run"
    start = result.stdout.index(marker) + len(marker)
    return result.stdout[start: result.stdout.index('"', start)]


def test_report_renders_in_chromium_with_all_images(tmp_path):
    classes = ["piano", "guitar", "drums"]
    reader = FakeReader(classes, make_tracks(classes, n_tracks=6))
    run = FakeRun(classes=classes, store_classes=classes, run_dir=tmp_path / "run")
    evaluate_loaded(store=FakeStore(reader), reader=reader, run=run, split="test", out=tmp_path / "r")
    html = tmp_path / "r" / "report.html"
    assert html.read_text().count("<img") >= 4
    assert rendered_image_state(html) == "ok"
    # the check can fail: a broken image is reported as missing
    broken = tmp_path / "r" / "broken.html"
    broken.write_text(html.read_text().replace("data:image/png;base64,", "data:image/png;base64,AAAA", 1))
    assert rendered_image_state(broken) == "missing-1"


def test_per_class_table_sorts_in_chromium(tmp_path):
    """Clicking the support header orders the rows by it as numbers, highest first; clicking again, lowest first."""
    browser = _chromium()
    if browser is None:
        pytest.skip("headless Chromium not installed (Debian package: chromium)")
    classes = ["piano", "guitar", "drums", "bass"]
    reader = FakeReader(classes, make_tracks(classes, n_tracks=9, n_frames=120, seed=3))  # support 83, 54, 71, 100
    run = FakeRun(classes=classes, store_classes=classes, run_dir=tmp_path / "run")
    metrics = evaluate_loaded(store=FakeStore(reader), reader=reader, run=run, split="test", out=tmp_path / "r",
                              n_track_plots=0)
    support = {c: row["support"] for c, row in metrics["per_class"].items()}
    assert len(set(support.values())) == len(support) and len({len(str(v)) for v in support.values()}) > 1
    clicks = """<script>window.addEventListener('load', function () {
      var th = Array.prototype.filter.call(document.querySelectorAll('#per-class th'),
                                           function (h) { return h.textContent === 'support'; })[0];
      var order = function () { return Array.prototype.map.call(document.querySelectorAll('#per-class tr'),
          function (r) { return r.children[0].textContent; }).slice(1).join(','); };
      th.click(); document.documentElement.setAttribute('data-first', order());
      th.click(); document.documentElement.setAttribute('data-second', order());
    });</script></body>"""
    page = tmp_path / "r" / "clicked.html"
    page.write_text((tmp_path / "r" / "report.html").read_text().replace("</body>", clicks))
    result = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=5000",
                             "--dump-dom", page.resolve().as_uri()], capture_output=True, text=True, timeout=90)
    dom = result.stdout
    first = dom.split('data-first="', 1)[1].split('"', 1)[0].split(",")
    second = dom.split('data-second="', 1)[1].split('"', 1)[0].split(",")
    assert first == sorted(support, key=lambda c: -support[c]) and second == first[::-1]


def test_demo_train_evaluate_predict_compare(tmp_path):
    pytest.importorskip("storage.store", reason="storage package not importable")
    pytest.importorskip("training.run", reason="training package not importable")
    from instrec.cli import main

    corpus, store, run = tmp_path / "corpus", tmp_path / "store", tmp_path / "run"
    assert main(["demo-corpus", "--songs", "8", "--seconds", "6", "--workers", "1", str(corpus)]) == 0
    assert main(["extract", "--dataset", "aam", "--store", str(store), "--workers", "0", "--no-progress",
                 str(corpus)]) == 0
    assert main(["train", "--store", str(store), "--model", "cnn", "--out", str(run), "--epochs", "1",
                 "--window", "128", "--no-progress", "--workers", "0", "--device", "cpu"]) == 0
    report = tmp_path / "report"
    assert main(["evaluate", "--store", str(store), "--run", str(run), "--split", "test",
                 "--out", str(report)]) == 0
    metrics = json.loads((report / "metrics.json").read_text())
    for key in ("frame.f1_micro", "frame.map_macro", "segment.f1_micro", "dominant.accuracy", "per_class"):
        assert key in metrics
    tuned = json.loads((run / "thresholds.json").read_text())  # tuned on validation when training ended
    assert tuned["default"] in ("per-class", "micro", "0.5") and tuned["tuned_on"]["split"] == "validation"
    assert metrics["thresholds"]["default"] == tuned["default"]
    assert json.loads((run / "thresholds.json").read_text()) == tuned  # evaluation changed nothing
    assert main(["evaluate", "--store", str(store), "--run", str(run), "--split", "all",
                 "--out", str(tmp_path / "report_all"), "--smoothing", "0"]) == 0
    assert main(["compare", str(report), str(tmp_path / "report_all"), "--out", str(tmp_path / "cmp")]) == 0
    # a song the store has never seen, in two formats
    sr = 22050
    t = np.arange(2 * sr) / sr
    y = (0.3 * np.sin(2 * np.pi * 330 * t)).astype(np.float32)
    sf.write(tmp_path / "new.wav", y, sr)
    sf.write(tmp_path / "new.ogg", y, sr)
    assert main(["predict", str(tmp_path / "new.wav"), str(tmp_path / "new.ogg"), "--run", str(run),
                 "--out", str(tmp_path / "pred")]) == 0
    song = json.loads((tmp_path / "pred" / "new.ogg.json").read_text())
    assert song["runs"][0]["dominant"] in json.loads((run / "classes.json").read_text())
    if _chromium():
        assert rendered_image_state(report / "report.html") == "ok"
