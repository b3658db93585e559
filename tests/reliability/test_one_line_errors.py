"""Mistakes a user makes at the command line end in one line naming the file and what to do.

Each case goes through the real entry point (``instrec.cli.main``, or its parser for options
argparse refuses) and checks: exit code 2, one line on stderr starting ``instrec <command>:
error:``, no traceback, and the words that say what was wrong.  The inputs are a store of three
AAM-layout songs and a one-epoch run trained on it (built once for the module).
"""

from __future__ import annotations

import contextlib
import errno
import io
import os
import re
import shutil
from pathlib import Path

import pytest

from pipeline.audio import audio_info
from instrec.cli import build_parser, one_line
from pipeline.track import DatasetError

from .conftest import aam_song, run_cli

TINY_TRAIN = ("--epochs", "1", "--window", "32", "--batch-size", "4", "--workers", "0", "--no-progress",
              "--device", "cpu", "--model-options", '{"channels": [4, 4], "hidden": 8, "fc": 16}')


def assert_one_line_error(result: tuple[int, str, str], command: str, pattern: str) -> str:
    rc, _, err = result
    assert rc == 2, err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"instrec {command}: error: "), err
    assert re.search(pattern, err), err
    return err


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    base = tmp_path_factory.mktemp("edges")
    for i in range(3):
        aam_song(base / "audio", f"{i:04d}", seconds=2.0 + i / 4)
    store, run = base / "store", base / "run"
    rc, _, err = run_cli(["extract", str(base / "audio"), "--dataset", "aam", "--store", str(store),
                          "--workers", "0", "--no-progress"])
    assert rc == 0, err
    rc, _, err = run_cli(["train", "--store", str(store), "--out", str(run), *TINY_TRAIN])
    assert rc == 0, err
    return base, store, run


# --- paths that are not what they should be ------------------------------------------------

def test_a_store_path_that_is_a_regular_file(trained, tmp_path):
    _, _, run = trained
    blocker = tmp_path / "afile"
    blocker.write_bytes(b"not a store")
    pattern = rf"{re.escape(str(blocker))}: is a regular file, not a feature store \(a store is a folder\)"
    assert_one_line_error(run_cli(["store", "info", str(blocker)]), "store info", pattern)
    assert_one_line_error(run_cli(["evaluate", "--store", str(blocker), "--run", str(run), "--out",
                                   str(tmp_path / "report")]), "evaluate", pattern)
    assert_one_line_error(run_cli(["train", "--store", str(blocker), "--out", str(tmp_path / "run"),
                                   *TINY_TRAIN]), "train", pattern)
    assert_one_line_error(run_cli(["store", "info", str(blocker / "store")]), "store info",
                          r"cannot read the store \(a part of the path is a regular file, not a folder")
    assert blocker.read_bytes() == b"not a store" and not (tmp_path / "report").exists()


def test_random_bytes_as_model_pt(trained, tmp_path):
    _, store, run = trained
    broken = tmp_path / "run"
    shutil.copytree(run, broken)
    (broken / "model.pt").write_bytes(os.urandom(4096).replace(b"PK", b"pk").lstrip(b"\x80") or b"x")
    err = assert_one_line_error(
        run_cli(["evaluate", "--store", str(store), "--run", str(broken), "--out", str(tmp_path / "report")]),
        "evaluate", r"run/model\.pt: not a PyTorch checkpoint \(.*damaged or another kind of file\); re-run training")
    assert "weights_only" not in err  # torch's advice to load it unsafely is not passed on


def test_an_audio_path_that_is_a_directory_or_only_an_id3_tag(tmp_path):
    folder = tmp_path / "song.wav"
    folder.mkdir()
    with pytest.raises(DatasetError, match=r"song\.wav: is a directory, not an audio file; pass the audio files"):
        audio_info(folder)
    tag = tmp_path / "tag.mp3"
    frame = b"TIT2" + (2).to_bytes(4, "big") + b"\x00\x00\x03x"
    tag.write_bytes(b"ID3\x04\x00\x00" + len(frame).to_bytes(4, "big") + frame)
    with pytest.raises(DatasetError, match=r"tag\.mp3: holds only an ID3 tag and no audio frames") as caught:
        audio_info(tag)
    assert "pipe" not in str(caught.value)


# --- the object store unreachable -----------------------------------------------------------

@pytest.fixture
def no_aws(monkeypatch, tmp_path):
    for name in list(os.environ):
        if name.startswith("AWS_"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")


def test_s3_without_credentials(no_aws):
    assert_one_line_error(run_cli(["store", "info", "s3://instrec-no-such-bucket/store"]), "store info",
                          r"s3://instrec-no-such-bucket/store: cannot read the store \(no S3 credentials were found; "
                          r"set AWS_ACCESS_KEY_ID")


def test_s3_endpoint_unreachable(no_aws, monkeypatch, tmp_path):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "test")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    aam_song(tmp_path / "audio", "0001")
    url = "s3://instrec-unreachable/store"
    endpoint = ("--endpoint-url", "http://127.0.0.1:9")  # the discard port: nothing listens
    pattern = rf"{url}: cannot (read|write) the store \(the storage endpoint cannot be reached; check the network"
    assert_one_line_error(run_cli(["store", "info", url, *endpoint]), "store info", pattern)
    assert_one_line_error(run_cli(["extract", str(tmp_path / "audio"), "--dataset", "aam", "--store", url,
                                   "--workers", "0", "--no-progress", *endpoint]), "extract", pattern)


# --- values argparse refuses -------------------------------------------------------------------

@pytest.mark.parametrize("argv, pattern", [
    (["evaluate", "--store", "s", "--run", "r", "--out", "o", "--segment", "0"],
     r"argument --segment: expected a number > 0, got '0'"),
    (["evaluate", "--store", "s", "--run", "r", "--out", "o", "--smoothing", "-1"],
     r"argument --smoothing: expected a number >= 0, got '-1'"),
    (["predict", "a.wav", "--out", "o", "--min-duration", "-1"],
     r"argument --min-duration: expected a number >= 0, got '-1'"),
    (["extract", "root", "--dataset", "aam", "--store", "s", "--workers", "-3"],
     r"argument --workers: expected an integer >= 0, got '-3'"),
    (["extract", "root", "--dataset", "aam", "--store", "s", "--batch-seconds", "0"],
     r"argument --batch-seconds: expected a number > 0, got '0'"),
    (["extract", "root", "--dataset", "aam", "--store", "s", "--batch-seconds", "nan"],
     r"argument --batch-seconds: expected a finite number, got 'nan'"),
    (["extract", "root", "--dataset", "amm", "--store", "s"],
     r"argument --dataset: invalid choice: 'amm' \(choose from 'aam', 'slakh', 'openmic', 'folder', 'demo'\)"),
])
def test_unchecked_values_are_refused_by_the_parser(argv, pattern):
    err = io.StringIO()
    with contextlib.redirect_stderr(err), pytest.raises(SystemExit) as exited:
        build_parser(argv).parse_args(argv)
    assert exited.value.code == 2
    last = err.getvalue().strip().splitlines()[-1]  # argparse prints the usage, then the one-line error
    assert last.startswith(f"instrec {argv[0]}: error: ") and re.search(pattern, last), err.getvalue()


# --- a full disk while training, a damaged store ------------------------------------------------

def test_disk_full_while_train_writes_a_checkpoint(trained, tmp_path, monkeypatch):
    import torch

    _, store, _ = trained
    real_save = torch.save

    def save_until_full(obj, path, *args, **kwargs):
        if str(path).endswith("last.pt.tmp"):
            Path(path).write_bytes(b"PK\x03\x04")
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))
        return real_save(obj, path, *args, **kwargs)

    monkeypatch.setattr(torch, "save", save_until_full)
    run = tmp_path / "run"
    assert_one_line_error(run_cli(["train", "--store", str(store), "--out", str(run), *TINY_TRAIN]), "train",
                          rf"{re.escape(str(run))}/last\.pt: cannot write it \(No space left on device\); free disk "
                          r"space or choose a writable --out")
    left = sorted(p.name for p in run.iterdir())
    assert not [n for n in left if n.endswith(".tmp")] and "last.pt" not in left and ".lock" not in left, left
    curve = run / "loss_curve.png"
    assert not curve.exists() or curve.read_bytes()[:4] == b"\x89PNG"


def damage_a_label_chunk(store: Path, track_id: str) -> None:
    (chunk,) = [p for p in store.rglob("labels/c.0.0") if f"/{track_id}-" in str(p)]
    chunk.write_bytes(b"\x02\x01" + os.urandom(40))


def test_a_label_chunk_that_fails_to_decode(trained, tmp_path):
    from storage.store import open_store

    _, store, run = trained
    damaged = tmp_path / "store"
    shutil.copytree(store, damaged)
    splits = {e.split: e.track_id for e in open_store(str(damaged)).feature_set("logmel").tracks()}
    damage_a_label_chunk(damaged, splits["train"])
    pattern = (rf"{re.escape(str(damaged))}: array labels of track '{splits['train']}' \(logmel-[0-9a-f]{{8}}/tracks/"
               r".*/labels\) cannot be read \(.*\); a chunk is damaged: run `instrec store verify --deep ")
    assert_one_line_error(run_cli(["train", "--store", str(damaged), "--out", str(tmp_path / "run"), *TINY_TRAIN]),
                          "train", pattern)
    # damaged data is never skipped: the scores would silently be of fewer tracks
    assert_one_line_error(run_cli(["evaluate", "--store", str(damaged), "--run", str(run), "--split", "all", "--out",
                                   str(tmp_path / "report"), "--no-progress"]), "evaluate", pattern)


def test_a_data_loader_workers_error_is_shown_as_its_last_line():
    class Wrapped(Exception):
        pass

    message = ("Caught StoreError in DataLoader worker process 0.\nOriginal Traceback (most recent call last):\n"
               '  File "x.py", line 1, in f\n    raise StoreError(...)\n'
               "storage.store.StoreError: /s: labels of track 'a' cannot be read (RuntimeError); the store is damaged")
    assert one_line(Wrapped(message)) == "/s: labels of track 'a' cannot be read (RuntimeError); the store is damaged"
    assert one_line(Wrapped("first\nsecond")) == "first second"
