"""benchmarks/bench_icechunk.py at its smallest: every phase gives positive figures and the
snapshot checks pass (a reader of an older snapshot reads its bytes; after expiry, an error, not zeros)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "bench_icechunk.py"
SMALLEST = ("--tracks", "2", "--seconds", "3", "--rounds", "1", "--commit-tracks", "3", "--open-tracks", "3")
PHASES = ("write", "forked", "commit", "open")


def run_bench(tmp_path: Path, *designs: str) -> dict:
    out = tmp_path / "report.json"
    env = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}
    done = subprocess.run([sys.executable, str(SCRIPT), *SMALLEST, "--only", *designs, "--tmp", str(tmp_path),
                           "--json", str(out)], capture_output=True, text=True, timeout=120, env=env, cwd=ROOT)
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    return json.loads(out.read_text())


def check_design(report: dict, name: str) -> None:
    results = report["results"]
    for phase in PHASES:
        figures = results[phase][name]
        timings = {k: v for k, v in figures.items() if k.endswith(("_s", "per_s")) or k == "seconds"}
        assert timings and all(v > 0 for v in timings.values()), (phase, figures)
    assert results["write"][name]["payload_mb_per_s"] > 0
    assert results["open"][name]["tracks"] == 3
    snapshot = results["snapshot"][name]
    assert snapshot["ok"], snapshot
    assert snapshot["reader_pinned_to_a_reads_a"] and snapshot["reader_opened_before_b_reads_a"]
    assert snapshot["expired_a_read_by_early_reader"].startswith("error"), snapshot


def test_todays_store_gives_positive_figures_and_readers_of_old_snapshots_never_see_zeros(tmp_path):
    report = run_bench(tmp_path, "today")
    check_design(report, "today")
    assert "icechunk" not in report["results"]["write"]
    assert report["machine"]["cores"] >= 1 and len(report["loadavg_start"]) == 3
    assert report["ratios_icechunk_over_today"] == {}


def test_icechunk_against_today_in_one_run(tmp_path):
    pytest.importorskip("icechunk")
    report = run_bench(tmp_path, "today", "icechunk")
    for name in ("today", "icechunk"):
        check_design(report, name)
    assert report["ratios_icechunk_over_today"]["write.tracks_per_s"] > 0
    assert report["results"]["open"]["icechunk"]["open_s_listing"] > 0
