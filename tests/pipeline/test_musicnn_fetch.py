"""``instrec fetch-musicnn``: extraction from the wheel, idempotence, and one-line failures.

A fake wheel (with its own sha256s patched in) stands in for musicnn 0.1.0, so these tests
need neither the package index nor the real weights.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import zipfile

import pytest

from features.musicnn_weights import CheckpointFiles, MusicnnWeightsError
from pipeline import musicnn_fetch
from instrec.cli import main
from pipeline.musicnn_fetch import extract_wheel, fetch_musicnn_weights, weights_present

MODELS = ("MTT_musicnn", "MSD_musicnn", "MTT_vgg", "MSD_vgg")


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def fake_wheel(tmp_path, monkeypatch):
    """A wheel laid out as musicnn 0.1.0's, and the sha256 table patched to its contents."""
    path = tmp_path / "musicnn-0.1.0-py3-none-any.whl"
    table = {}
    with zipfile.ZipFile(path, "w") as archive:
        for model in MODELS:
            index, data = f"index of {model}".encode(), f"data of {model}".encode() * 10
            archive.writestr(f"musicnn/{model}/.index", index)
            archive.writestr(f"musicnn/{model}/.data-00000-of-00001", data)
            archive.writestr(f"musicnn/{model}/config.json", "{}")
            table[model] = CheckpointFiles(_sha(index), _sha(data))
        archive.writestr("musicnn-0.1.0.dist-info/LICENSE.md", "ISC licence text")
        archive.writestr("musicnn/models.py", "import tensorflow  # never imported by instrec")
    monkeypatch.setattr(musicnn_fetch, "CHECKPOINTS", table)
    monkeypatch.setattr(musicnn_fetch, "WHEEL_SHA256", _sha(path.read_bytes()))
    return path


def test_extracts_the_checkpoints_licence_and_provenance_then_does_nothing(tmp_path, fake_wheel):
    dest = tmp_path / "weights"
    assert not weights_present(dest)
    result = fetch_musicnn_weights(dest, wheel=fake_wheel)
    assert result.fetched and weights_present(dest)
    assert (dest / "MTT_vgg" / ".data-00000-of-00001").read_bytes() == b"data of MTT_vgg" * 10
    assert (dest / "LICENSE.md").read_text() == "ISC licence text"
    assert not (dest / "models.py").exists() and not list(dest.rglob("*.part"))
    provenance = json.loads((dest / "PROVENANCE.json").read_text())
    assert provenance["wheel_sha256"] == _sha(fake_wheel.read_bytes()) and "ISC" in provenance["licence"]
    assert provenance["files"]["MSD_musicnn/.index"] == _sha(b"index of MSD_musicnn")
    assert not fetch_musicnn_weights(dest, wheel=tmp_path / "absent.whl").fetched  # intact: not even opened
    (dest / "MSD_vgg" / ".index").write_bytes(b"damaged")
    assert not weights_present(dest)
    assert fetch_musicnn_weights(dest, wheel=fake_wheel).fetched and weights_present(dest)


def test_a_wheel_with_another_sha256_is_refused(tmp_path, fake_wheel):
    other = tmp_path / "other.whl"
    other.write_bytes(fake_wheel.read_bytes() + b"x")
    with pytest.raises(MusicnnWeightsError, match=r"other\.whl: sha256 [0-9a-f]{64} is not the expected"):
        extract_wheel(other, tmp_path / "weights")


def test_a_file_in_the_wheel_with_another_sha256_is_refused(tmp_path, fake_wheel, monkeypatch):
    table = dict(musicnn_fetch.CHECKPOINTS)
    table["MTT_vgg"] = CheckpointFiles(table["MTT_vgg"].index_sha256, "0" * 64)
    monkeypatch.setattr(musicnn_fetch, "CHECKPOINTS", table)
    with pytest.raises(MusicnnWeightsError, match=r"musicnn/MTT_vgg/\.data-00000-of-00001: sha256 .* not the expected 0{64}"):
        extract_wheel(fake_wheel, tmp_path / "weights")


def test_an_unreachable_index_is_one_line_and_the_command_exits_2(tmp_path, monkeypatch, capsys):
    def failing_pip(command, **kwargs):
        assert command[1:6] == ["-m", "pip", "download", "musicnn==0.1.0", "--no-deps"]
        return subprocess.CompletedProcess(command, 1, "", "WARNING: retrying\nERROR: No matching distribution found")

    monkeypatch.setattr(musicnn_fetch.subprocess, "run", failing_pip)
    with pytest.raises(MusicnnWeightsError, match=r"pip download musicnn==0\.1\.0 failed \(ERROR: No matching .*\); "
                                                  r"is the package index reachable\?"):
        fetch_musicnn_weights(tmp_path / "w")
    assert main(["fetch-musicnn", "--dest", str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "is the package index reachable?" in err


def test_the_installed_weights_are_left_alone(musicnn_weights_dir, capsys):
    assert main(["fetch-musicnn", "--dest", str(musicnn_weights_dir)]) == 0
    assert "already there and intact" in capsys.readouterr().out
