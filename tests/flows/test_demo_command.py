"""`instrec demo` prints the score tables and every path in the terminal (the flow's prints go to its run log)."""

from __future__ import annotations

import argparse
import json

from evaluation.protocol import HEADLINE


def test_the_demo_command_prints_tables_reports_and_predictions(tmp_path, monkeypatch, capsys):
    import sys
    import types

    from flows.commands import run_demo

    scores = {key: {"model": 0.5, "prior": 0.4, "majority": 0.0} for key in HEADLINE}
    summary = {"headline": {"in_domain": scores, "held_out": dict(scores, **{"frame.f1_micro": {
                   "model": 0.3, "prior": 0.4, "majority": 0.0}})},
               "families": [{"class": "Bass", "positive_share": 0.5, "in_domain_f1": 0.6, "in_domain_prior_f1": 0.3,
                             "held_out_f1": 0.5, "held_out_prior_f1": 0.3}],
               "reports": {"in_domain": "d/reports/in-domain/report.html", "held_out": "d/reports/held-out/report.html"},
               "comparison": "d/reports/comparison/compare.html", "held_out_soundfont": "TimGM6mb.sf2",
               "predictions": ["d/predictions/Track00001.json", "d/predictions/Track00003.json"]}
    seen = {}

    def fake_pipeline(**kwargs):
        seen.update(kwargs)
        return summary

    # a stand-in for flows.demo: importing Prefect here, under capsys, would bind its log handlers
    # to the captured stream for the rest of the session
    monkeypatch.setitem(sys.modules, "flows.demo", types.SimpleNamespace(demo_pipeline=fake_pipeline))
    monkeypatch.setenv("PREFECT_HOME", str(tmp_path / "prefect"))
    args = argparse.Namespace(out=str(tmp_path / "demo"), songs=24, seed=None, model=None, epochs=None, workers=None)
    (tmp_path / "demo").mkdir()
    assert run_demo(args) == 0
    out = capsys.readouterr().out
    assert seen == {"out": str(tmp_path / "demo"), "songs": 24}
    assert "| frame.f1_micro | 0.500 |" in out and "0.300 (not above the baseline)" in out  # held-out in red
    assert "| Bass | 50.0% |" in out
    assert "held-out-timbre report:  d/reports/held-out/report.html  (TimGM6mb.sf2)" in out
    assert "d/reports/comparison/compare.html" in out and "predictions of 2 held-out songs" in out
    assert json.loads((tmp_path / "demo" / "summary.json").read_text())["comparison"] == summary["comparison"]


def test_the_demo_server_lives_with_the_demo_and_sends_no_analytics(tmp_path):
    from flows.commands import demo_prefect_home

    environ: dict[str, str] = {}
    demo_prefect_home(str(tmp_path / "out"), environ)
    assert environ["PREFECT_HOME"] == str((tmp_path / "out" / ".prefect").resolve())
    assert (tmp_path / "out" / ".prefect").is_dir()
    assert environ["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false"
    chosen = {"PREFECT_API_URL": "http://127.0.0.1:4200/api"}
    demo_prefect_home(str(tmp_path / "other"), chosen)
    assert chosen == {"PREFECT_API_URL": "http://127.0.0.1:4200/api"}  # the user's own server: untouched
