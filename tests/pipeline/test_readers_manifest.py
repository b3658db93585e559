"""``instrec manifest``: JSON lines on stdout, skipped tracks on stderr, exit codes."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from instrec import cli
from pipeline.readers import commands, read_dataset
from pipeline.track import DatasetError

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
REQUIRED = {"track_id", "audio", "duration", "split", "classes", "events", "clip_labels", "clip_mask", "dominant"}


def write_silence(path: Path, seconds: float, sr: int = 8000) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(path, np.zeros(int(seconds * sr), dtype=np.float32), sr)


def manifest(argv: list[str]) -> int:
    """Run the subcommand through its own parser (independent of the other packages' commands)."""
    parser = argparse.ArgumentParser(prog="instrec")
    commands.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(["manifest", *argv])
    return args.handler(args)


@pytest.fixture
def aam_root(tmp_path: Path) -> Path:
    root = tmp_path / "aam"
    shutil.copytree(FIXTURES / "aam", root)
    write_silence(root / "9999_mix.flac", 134.0)
    # a second song whose audio is missing, to be reported on stderr
    shutil.copy(root / "annotations" / "9999_onsets.arff", root / "annotations" / "0042_onsets.arff")
    return root


def test_manifest_prints_json_lines_and_a_summary(aam_root, capsys):
    assert manifest(["--dataset", "aam", str(aam_root)]) == 0
    out, err = capsys.readouterr()
    (line,) = out.splitlines()
    record = json.loads(line)
    assert REQUIRED <= set(record)
    assert record["track_id"] == "9999" and record["dominant"] == "Piano"
    assert record["events"][0] == ["DoubleBassPizz", 0.0, 17.349384]  # first by onset, then name
    assert len(record["classes"]) == 31 and record["clip_mask"]["Viola"] is True
    assert "skipped 1 track(s)" in err and "0042_onsets.arff" in err and "0042_mix.flac" in err
    assert "1 track(s) read, 1 skipped" in err


def test_manifest_slakh_taxonomy_and_smoothing(tmp_path, capsys):
    root = tmp_path / "slakh"
    shutil.copytree(FIXTURES / "slakh" / "babyslakh_16k", root)
    write_silence(root / "Track00001" / "mix.wav", 240.0)
    for stem in ("S00", "S01", "S02"):
        write_silence(root / "Track00001" / "stems" / f"{stem}.wav", 0.1)
    assert manifest(["--dataset", "slakh", str(root), "--taxonomy", "program"]) == 0
    plain = json.loads(capsys.readouterr().out)
    assert len(plain["classes"]) == 129
    assert {k for k, v in plain["clip_labels"].items() if v} == {
        "Distortion Guitar", "Drums", "Bright Acoustic Piano"}  # S00, S01, S02 only
    assert manifest(["--dataset", "slakh", str(root), "--taxonomy", "program", "--min-event-s", "0.5"]) == 0
    smoothed = json.loads(capsys.readouterr().out)
    assert all(offset - onset >= 0.5 for _, onset, offset in smoothed["events"])
    assert len(smoothed["events"]) < len(plain["events"])


def test_manifest_errors_go_through_the_cli_as_one_line(tmp_path, capsys):
    assert cli.main(["manifest", "--dataset", "aam", str(tmp_path / "missing")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("instrec manifest: error:") and "does not exist" in err and "\n" not in err
    (tmp_path / "x.txt").write_text("")
    assert cli.main(["manifest", "--dataset", "slakh", str(tmp_path)]) == 2
    assert "no Slakh track found" in capsys.readouterr().err
    assert cli.main(["manifest", "--dataset", "slakh", str(tmp_path), "--taxonomy", "nope"]) == 2
    assert "unknown Slakh taxonomy 'nope'" in capsys.readouterr().err


def test_manifest_fails_when_every_track_is_bad(tmp_path, capsys):
    (tmp_path / "a.wav").write_bytes(b"RIFF broken")
    with pytest.raises(DatasetError, match="no folder track could be read"):
        manifest(["--dataset", "folder", str(tmp_path)])
    assert "a.wav" in capsys.readouterr().err


def test_demo_layout_is_recognised(aam_root, tmp_path):
    items = list(read_dataset("demo", aam_root))
    assert {item.track_id for item in items} == {"9999", "0042"}
    assert next(i for i in items if i.track_id == "9999").dataset == "demo"
    with pytest.raises(DatasetError, match="not a demo corpus"):
        read_dataset("demo", tmp_path / "aam" / "midis")
    with pytest.raises(DatasetError, match="unknown dataset 'maestro'"):
        read_dataset("maestro", tmp_path)
