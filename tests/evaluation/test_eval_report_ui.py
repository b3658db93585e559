"""What a reader of a report sees: scores that lose to a baseline flagged, a sortable per-class table, the
model it scores, activations in the piano rolls, colour-blind-safe colours, and comparisons with ties."""

from __future__ import annotations

import itertools
import json
import re

import numpy as np
import pytest

from evaluation.compare import compare_reports
from evaluation.evaluate import evaluate_loaded
from evaluation.plots import OUTCOME_COLOURS, PALETTE, piano_roll_figure
from evaluation.report import write_report

from .eval_fakes import FakeReader, FakeRun, FakeStore, make_tracks


def _cells(html: str, code: str) -> list[str]:
    """The <td> cells of the headline row of ``code``."""
    row = re.search(rf"<tr><td>[^<]*<code>{re.escape(code)}</code></td>(.*?)</tr>", html).group(1)
    return re.findall(r"<td[^>]*>.*?</td>", row)


def test_headline_scores_that_do_not_beat_the_best_baseline_are_flagged(tmp_path):
    metrics = {"run": {"name": "r"}, "frame.f1_micro": 0.40, "baseline.frame.f1_micro": 0.45,
               "baseline_majority.frame.f1_micro": 0.30, "frame.f1_macro": 0.60, "baseline.frame.f1_macro": 0.10,
               "baseline_majority.frame.f1_macro": 0.05, "segment.error_rate": 0.80, "baseline.segment.error_rate": 0.70,
               "baseline_majority.segment.error_rate": 0.95, "dominant.accuracy": 0.5, "baseline.dominant.accuracy": 0.5,
               "baseline_majority.dominant.accuracy": 0.5, "frame@0.5.f1_micro": 0.5}
    html = write_report(tmp_path, metrics).read_text()
    assert "below-baseline" in _cells(html, "frame.f1_micro")[0]  # 0.40 < 0.45
    assert "below-baseline" not in _cells(html, "frame.f1_micro")[1]  # @0.5: 0.50 beats both
    assert "below-baseline" not in _cells(html, "frame.f1_macro")[0]
    assert "below-baseline" in _cells(html, "segment.error_rate")[0]  # lower is better: 0.80 > 0.70
    assert "below-baseline" in _cells(html, "dominant.accuracy")[0]  # a tie does not beat the baseline
    assert html.count('class="below-baseline"') == 3 and "3 score(s) in" in html
    assert "does not beat the best baseline (0.450)" in html


def test_per_class_table_sorts_and_the_model_section_describes_the_run(tmp_path):
    classes = ["piano", "guitar", "drums"]
    reader = FakeReader(classes, make_tracks(classes, n_tracks=6))
    run = FakeRun(classes=classes, store_classes=classes, run_dir=tmp_path / "run")
    run.config = {"model": "crnn", "model_options": {"attention": True}, "epochs": 40, "augment": ["specaugment", "mixup"],
                  "remix": 0.5, "lr": 0.003, "batch_size": 16, "window": 128, "seed": 0, "monitor": "f1"}
    run.history = [{"epoch": 1, "score": 0.4, "train_loss": 0.7}, {"epoch": 2, "score": 0.6, "train_loss": 0.5},
                   {"epoch": 3, "score": 0.5, "train_loss": 0.4}]
    run.store = {"url": "/stores/demo.zarr", "dataset": "demo", "snapshot_id": "00000042-cafe"}
    run.run_dir.mkdir()
    (run.run_dir / "training_data.json").write_text(json.dumps({"train_tracks": 128, "validation_tracks": 16}))
    metrics = evaluate_loaded(store=FakeStore(reader), reader=reader, run=run, split="test", out=tmp_path / "r")
    assert metrics["model"]["epochs"] == {"maximum": 40, "trained": 3, "best": 2, "best_score": 0.6, "monitor": "f1"}
    assert metrics["model"]["training_data"]["train_tracks"] == 128
    html = (tmp_path / "r" / "report.html").read_text()
    model = re.search(r'<table class="meta" id="model">(.*?)</table>', html).group(1)
    for text in ("crnn (attention=True)", "3 trained of at most 40; best epoch 2", "augment=[&#x27;specaugment&#x27;",
                 "remix=0.5", "train tracks 128", "snapshot 00000042-cafe"):
        assert text in model, text
    table = re.search(r'<table class="sortable" id="per-class">(.*?)</table>', html).group(1)
    f1_col = re.findall(r"<th>([^<]*)</th>", table).index("f1")  # the class is column 0
    rows = re.findall(r"<tr>(<td.*?)</tr>", table)
    assert len(rows) == 3
    for row in rows:  # every cell carries its raw value to sort by (empty for n/a)
        value = re.findall(r'data-sort="([^"]*)"', row)[f1_col]
        assert value == "" or 0.0 <= float(value) <= 1.0
    assert "table.sortable" in html and "addEventListener('click'" in html


def test_piano_roll_shows_activations_above_the_decisions():
    y_true = np.zeros((50, 2), np.uint8)
    y_true[10:30, 0] = 1
    scores = np.linspace(0, 1, 100).reshape(50, 2)
    fig = piano_roll_figure(y_true, (scores > 0.5).astype(np.uint8), ["a", "b"], hop_s=0.1, scores=scores,
                            thresholds=np.array([0.5, 0.4]))
    activation, decisions = fig.axes[0], fig.axes[1]
    np.testing.assert_allclose(activation.images[0].get_array(), scores.T)
    assert activation.images[0].get_cmap().name == "cividis"
    assert [t.get_text() for t in activation.get_yticklabels()] == ["a (0.50)", "b (0.40)"]
    assert decisions.images[0].get_array().max() <= 4
    assert len(piano_roll_figure(y_true, y_true, ["a", "b"], hop_s=0.1).axes) == 1  # without activations


# Machado, Oliveira & Fernandes (2009) dichromacy matrices, severity 1, on linear RGB.
CVD = {"protanopia": [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216], [-0.003882, -0.048116, 1.051998]],
       "deuteranopia": [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413], [-0.011820, 0.042940, 0.968881]],
       "tritanopia": [[1.255528, -0.076749, -0.178779], [-0.078411, 0.930809, 0.147602], [0.004733, 0.691367, 0.303900]]}


def _lab(hex_colour: str, kind: str | None) -> np.ndarray:
    rgb = np.array([int(hex_colour.lstrip("#")[i: i + 2], 16) / 255 for i in (0, 2, 4)])
    lin = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    if kind is not None:
        lin = np.clip(np.array(CVD[kind]) @ lin, 0, 1)
    xyz = np.array([[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]) @ lin
    xyz /= np.array([0.95047, 1.0, 1.08883])
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def min_distance(colours, kind):
    """Smallest CIELAB distance between any two colours as a viewer with ``kind`` sees them."""
    return min(np.linalg.norm(_lab(a, kind) - _lab(b, kind)) for a, b in itertools.combinations(colours, 2))


@pytest.mark.parametrize("kind", [None, *CVD])
def test_outcome_and_bar_colours_stay_apart_with_colour_vision_deficiencies(kind):
    assert min_distance(list(OUTCOME_COLOURS.values()), kind) > 20
    assert min_distance(PALETTE[:3], kind) > 15  # precision / recall / F1 bars
    # the colours this replaced: green hits and red errors look alike to a deuteranope
    if kind == "deuteranopia":
        assert min_distance(["#2ca02c", "#d62728"], kind) < 10


def test_compare_links_reports_compares_classes_and_shows_ties(tmp_path):
    for name, f1, classes in (("cnn", 0.7, {"piano": 0.8, "drums": 0.5}), ("crnn", 0.7001, {"piano": 0.6, "drums": 0.5}),
                              ("mlp", 0.6, {"piano": 0.7, "bass": 0.2})):
        write_report(tmp_path / "reports" / name, {
            "run": {"name": name}, "frame.f1_micro": f1, "frame.f1_macro": f1 - 0.1, "split": "test",
            "per_class": {c: {"f1": v, "support": 10} for c, v in classes.items()}})
    out = tmp_path / "cmp"
    html = compare_reports([tmp_path / "reports" / n for n in ("cnn", "crnn", "mlp")], out).read_text()
    assert '<a href="../reports/cnn/report.html">cnn</a>' in html
    assert "tie between cnn, crnn (0.700)" in html  # equal to the three decimals shown
    table = json.loads((out / "compare.json").read_text())["per_class_f1"]
    assert table == {"piano": {"cnn": 0.8, "crnn": 0.6, "mlp": 0.7}, "drums": {"cnn": 0.5, "crnn": 0.5, "mlp": None},
                     "bass": {"cnn": None, "crnn": None, "mlp": 0.2}}
    section = html[html.index("Per class (frame F1)"):]
    assert "<b>0.800</b>" in section and section.count("<b>0.500</b> (tie)") == 2
    assert (out / "compare_per_class.csv").read_text().splitlines()[0] == "class,cnn,crnn,mlp"
