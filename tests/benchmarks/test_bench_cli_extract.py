"""benchmarks/bench_cli_extract.py and bench_native_rate_mel.py at their smallest: the CLI benchmark
times both sides, reports a ratio and stops when instrec fails a track; the native-rate one reports
its two timings and the deviation."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
ENV = {**os.environ, "PYTHONPATH": str(ROOT) + os.pathsep + os.environ.get("PYTHONPATH", "")}


def bench(script: str, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "benchmarks" / script), *args], capture_output=True,
                          text=True, timeout=240, env=ENV, cwd=ROOT)


def test_cli_benchmark_times_both_sides_through_the_command_line(tmp_path):
    out = tmp_path / "cli.json"
    done = bench("bench_cli_extract.py", "--songs", "2", "--seconds", "1", "--workers", "0,2", "--repeats", "1",
                 "--work", str(tmp_path / "work"), "--json", str(out))
    assert done.returncode == 0, done.stderr[-2000:]
    report = json.loads(out.read_text())
    assert report["corpus"]["songs"] == 2 and report["corpus"]["audio_seconds"] == 2.0
    assert set(report["wall_s"]) == {"loop", "instrec-w0", "instrec-w2"}
    assert all(seconds > 0 for seconds in report["wall_s"].values())
    ratio = report["wall_s"]["loop"] / report["wall_s"]["instrec-w2"]  # of the rounded seconds
    assert abs(report["vs_loop"]["instrec-w2"] - ratio) < 0.005
    for store in ("store-w0", "store-w2"):  # instrec really wrote both songs
        manifest = json.loads((tmp_path / "work" / store / "manifest.json").read_text())
        (feature_set,) = manifest["feature_sets"].values()
        assert len(feature_set["tracks"]) == 2


def test_cli_benchmark_stops_when_instrec_fails_a_track(tmp_path):
    work = tmp_path / "work"
    corpus = work / "corpus-2x1s-1ch"
    corpus.mkdir(parents=True)
    import numpy as np
    import soundfile as sf

    # 5 ms of audio: the plain loop processes it, instrec fails the track (too short to analyse);
    # make_corpus keeps files that exist and writes song0000
    sf.write(str(corpus / "song0001.flac"), np.zeros(220, np.float32), 44100)
    done = bench("bench_cli_extract.py", "--songs", "2", "--seconds", "1", "--workers", "0", "--repeats", "1",
                 "--work", str(work))
    assert done.returncode != 0
    assert "instrec extract failed 1 tracks" in done.stderr and "song0001" in done.stderr


def test_native_rate_benchmark_reports_both_timings_and_the_deviation():
    done = bench("bench_native_rate_mel.py", "--seconds", "2", "--repeats", "1")
    assert done.returncode == 0, done.stderr[-2000:]
    figures = json.loads(done.stdout)
    assert figures["native_rate_logmel_ms"] > 0 and figures["resample_then_logmel_ms"] > figures["resample_ms"] > 0
    assert 5.5 < figures["offset_db"] < 6.5  # a 4096-point window: 4x the power of a 2048-point one
