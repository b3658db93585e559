"""The leave-one-timbre-out recipe end to end (tiny), the per-family table and shipped model folders."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from evaluation.model_card import ModelError, default_model_dir, export_model
from evaluation.protocol import ProtocolConfig, ProtocolError, family_table, markdown_tables, run_protocol

TINY = {"model": "crnn", "model_options": {"channels": [4, 4], "hidden": 8, "fc": 16}, "epochs": 2,
        "window": 64, "batch_size": 8, "remix": 0.5, "augment": [], "workers": 0}


def test_recipe_config_is_checked():
    with pytest.raises(ProtocolError, match="also a training soundfont"):
        ProtocolConfig(train_soundfonts=("a.sf2", "b.sf2"), held_out_soundfont="b.sf2")
    with pytest.raises(ProtocolError, match="needs stems=True"):
        ProtocolConfig(stems=False, training={"remix": 0.5})
    with pytest.raises(ProtocolError, match=r"unknown recipe keys \['colour'\]"):
        ProtocolConfig.from_json({"colour": "blue"})
    config = ProtocolConfig(training={"remix": 0.3})
    assert ProtocolConfig.from_json(config.to_json()) == config


def test_family_table_puts_the_prior_baseline_beside_the_model():
    in_domain = {"per_class": {"Bass": {"f1": 0.9, "baseline_f1": 0.7, "support": 80}}}
    held_out = {"per_class": {"Bass": {"f1": 0.8, "baseline_f1": 0.6, "support": 90},
                              "Pipe": {"f1": 0.1, "baseline_f1": 0.2, "support": 1}}}
    rows = family_table(in_domain, held_out)
    assert rows[0] == {"class": "Bass", "positive_share": round(90 / 91, 4), "in_domain_f1": 0.9,
                       "in_domain_prior_f1": 0.7, "held_out_f1": 0.8, "held_out_prior_f1": 0.6,
                       "held_out_gain": pytest.approx(0.2), "held_to_target": True}
    assert rows[1]["held_to_target"] is False and rows[1]["in_domain_f1"] is None
    summary = {"headline": {name: {key: {"model": 0.5, "prior": 0.6, "majority": 0.4}
                                   for key in ("frame.f1_micro", "frame.f1_macro", "frame.map_macro",
                                               "segment.f1_micro", "dominant.accuracy")}
                            for name in ("in_domain", "held_out")}, "families": rows}
    text = markdown_tables(summary)
    assert "color:red" in text and "0.500 (not above the baseline)" in text  # 0.5 <= prior 0.6: in red
    assert "| Bass | 98.9% | 0.900 | 0.700 | 0.800 | 0.600 |" in text


@pytest.mark.slow
@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="the `fluidsynth` program is not installed")
def test_tiny_recipe_end_to_end_and_model_folder(tmp_path, monkeypatch):
    from pipeline.demo.render import find_soundfonts
    from training.run import load_run

    fonts = [f.name for f in find_soundfonts()]
    if len(fonts) < 2:
        pytest.skip("the protocol needs two soundfonts (install fluid-soundfont-gm)")
    config = ProtocolConfig(train_soundfonts=tuple(fonts[:1]), held_out_soundfont=fonts[1], songs=10, seconds=3,
                            held_out_songs=6, held_out_seconds=3, training=TINY, workers=1)
    summary = run_protocol(config, tmp_path / "recipe", device="cpu")
    assert set(summary["headline"]) == {"in_domain", "held_out"}
    held = json.loads((tmp_path / "recipe" / "reports" / "held-out" / "metrics.json").read_text())
    assert held["store"]["url"].endswith("held-out.zarr") and held["split"] == "test"
    run = load_run(summary["run"])
    assert run.decision["tuned_on"]["store"].endswith("held-out.zarr")  # thresholds from held-out validation
    data = json.loads((tmp_path / "recipe" / "run" / "training_data.json").read_text())
    assert data["validation_store"].endswith("held-out.zarr") and data["remix_stems"] > 0
    assert all(r["class"] in run.classes for r in summary["families"])
    # re-running reuses the corpora (same settings): the held-out corpus is not rendered again
    marker = tmp_path / "recipe" / "held-out" / "protocol.json"
    before = marker.stat().st_mtime_ns
    run_protocol(config, tmp_path / "recipe", device="cpu")
    assert marker.stat().st_mtime_ns == before

    model = export_model(summary["run"], tmp_path / "models" / "tiny", summary=summary, name="tiny")
    card = (model / "card.md").read_text()
    assert "# tiny" in card and fonts[1] in card and "| family |" in card
    assert not (model / "last.pt").exists()
    shipped = load_run(model)
    np.testing.assert_allclose(shipped.thresholds, run.thresholds)
    monkeypatch.setenv("INSTREC_MODEL", str(model))
    assert default_model_dir() == model
    monkeypatch.setenv("INSTREC_MODEL", str(tmp_path / "nothing"))
    with pytest.raises(ModelError, match="no shipped model here"):
        default_model_dir()


@pytest.mark.skipif(shutil.which("fluidsynth") is None, reason="the `fluidsynth` program is not installed")
def test_corpora_can_be_rendered_one_at_a_time(tmp_path):
    """An ablation renders a second training corpus beside a shared held-out one."""
    from evaluation.protocol import ProtocolPaths, render_corpora
    from pipeline.demo.render import find_soundfonts

    fonts = [f.name for f in find_soundfonts()]
    if len(fonts) < 2:
        pytest.skip("the protocol needs two soundfonts (install fluid-soundfont-gm)")
    config = ProtocolConfig(train_soundfonts=tuple(fonts[:1]), held_out_soundfont=fonts[1], songs=2, seconds=2,
                            held_out_songs=2, held_out_seconds=2, workers=1)
    paths = ProtocolPaths(tmp_path)
    render_corpora(config, paths, parts=("held_out",))
    assert (paths.held_out / "protocol.json").is_file() and not paths.corpus.exists()
