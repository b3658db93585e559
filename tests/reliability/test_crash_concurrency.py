"""Crash and concurrency suite: kill -9, two writers at once, a killed training, a full or unwritable disk.

Everything goes through the real entry points: ``python -m instrec extract|train`` in a
subprocess when the process is killed or raced, ``instrec.cli.main`` in this process when a
fault is injected with monkeypatch.  The inputs are eight AAM-layout songs of 2-3 s (a tone
plus an ARFF of onsets, from ``conftest.aam_song``), so a whole extraction takes well under a
second of work and most of a subprocess's time is its start-up.

What is checked, beyond the existing ``tests/extraction/test_extract_crash.py`` (three kills at
commit thresholds, in-process driver) and ``tests/storage/test_store_lock.py`` (in-process lock):
- 10 kills at seeded random times of the store phase of ``instrec extract`` starting from three
  states (no store, half the songs committed, half the songs committed with older audio): after
  each kill the store either is not a store yet or ``instrec store verify --deep`` passes and
  every committed track equals the uninterrupted run's (or the older) content; the rerun
  finishes, leaves no lock and no uncommitted versions, and equals the uninterrupted run;
- two ``instrec extract`` processes started together: the second is refused naming the holder's
  pid (or runs after the first), no track is computed twice or lost;
- ``instrec train`` killed with SIGKILL mid-run resumes with ``--resume`` and ends with the same
  weights and a metrics.jsonl holding each epoch once;
- ENOSPC while writing a track or the manifest, and a store path under a regular file;
- ``instrec train`` into a run directory another training holds is refused naming it
  (``tests/training/test_training_loop.py`` races two trainings in one process).
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from storage.store import open_store
from storage.verify import verify_store

from .conftest import aam_song, run_cli, verify

N_SONGS = 8
SEED = 20261123


# --- helpers ---------------------------------------------------------------------------------

def make_songs(root: Path, *, n: int = N_SONGS, offset: float = 0.0) -> Path:
    """``n`` AAM songs ``0000 .. n-1`` of 2 to 3 s (``offset`` s longer: different content)."""
    for i in range(n):
        aam_song(root, f"{i:04d}", seconds=2.0 + 1.0 * i / N_SONGS + offset)
    return root


def cli_command(*argv: str) -> list[str]:
    return [sys.executable, "-m", "instrec", *argv]


def extract_command(root: Path, store: Path, *extra: str) -> list[str]:
    return cli_command("extract", str(root), "--dataset", "aam", "--store", str(store), "--workers", "0",
                       "--no-progress", *extra)


def start(argv: list[str], env: dict | None = None) -> subprocess.Popen:
    return subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)


def finish(proc: subprocess.Popen, timeout: float = 60) -> tuple[int, str, str]:
    out, err = proc.communicate(timeout=timeout)
    return proc.returncode, out.decode(errors="replace"), err.decode(errors="replace")


def snapshot(url: Path) -> dict[str, dict[str, dict]]:
    """Committed content per feature set and track: entry, features, labels, mask, clip labels, clip mask."""
    store = open_store(str(url))
    content: dict[str, dict[str, dict]] = {}
    for key in store.feature_sets():
        reader = store.feature_set(key)
        content[key] = {}
        for entry in reader.tracks():
            labels, mask = reader.read_labels(entry.track_id)
            clip, clip_mask = reader.read_clip(entry.track_id)
            content[key][entry.track_id] = {
                "entry": entry, "features": reader.read_features(entry.track_id), "labels": labels,
                "mask": mask, "clip": clip, "clip_mask": clip_mask,
            }
    return content


def same_track(a: dict, b: dict) -> bool:
    return a["entry"] == b["entry"] and all(np.array_equal(a[k], b[k]) for k in
                                            ("features", "labels", "mask", "clip", "clip_mask"))


def assert_same_store(url: Path, reference: dict) -> None:
    got = snapshot(url)
    assert sorted(got) == sorted(reference)
    for key in reference:
        assert sorted(got[key]) == sorted(reference[key]), key
        for track_id, track in reference[key].items():
            assert track["entry"].n_frames == len(track["features"]) == len(track["labels"])
            assert same_track(got[key][track_id], track), f"{key}/{track_id} differs from the uninterrupted run"


def assert_verifies(url: Path) -> str:
    rc, report = verify(url)
    assert rc == 0 and ": OK," in report, report
    return report


def done_per_run(url: Path) -> list[list[str]]:
    """``done_tracks`` of every run log of the store."""
    return [json.loads(p.read_text())["done_tracks"] for p in sorted((url / "runs").glob("*.json"))]


# --- kill -9 at random points ----------------------------------------------------------------

def timed_run(root: Path, url: Path) -> tuple[float, float]:
    """Run an extraction to its end; (seconds until its lock appeared, seconds from then to exit)."""
    lock = url / ".lock"
    began = time.monotonic()
    proc = start(extract_command(root, url))
    locked = None
    while proc.poll() is None:
        if locked is None and lock.exists():
            locked = time.monotonic()
        time.sleep(0.002)
    ended = time.monotonic()
    rc, _, err = finish(proc)
    assert rc == 0, err[-2000:]
    locked = locked if locked is not None else ended - 0.05
    return locked - began, ended - locked


@pytest.mark.slow
def test_kill_9_at_ten_random_points_then_rerun_equals_uninterrupted(tmp_path):
    root = make_songs(tmp_path / "audio")
    old_root = make_songs(tmp_path / "audio_old", n=N_SONGS // 2, offset=0.25)  # same ids, other audio
    half_root = tmp_path / "audio_half"
    for i in range(N_SONGS // 2):
        for suffix in ("_mix.flac", "_onsets.arff"):
            half_root.mkdir(exist_ok=True)
            shutil.copy2(root / f"{i:04d}{suffix}", half_root / f"{i:04d}{suffix}")
    reference_url = tmp_path / "reference"
    _, store_phase = timed_run(root, reference_url)
    reference = snapshot(reference_url)
    assert sum(len(t) for t in reference.values()) == N_SONGS
    bases = {"fresh": None, "half": tmp_path / "base_half", "stale": tmp_path / "base_stale"}
    assert run_cli(["extract", str(half_root), "--dataset", "aam", "--store", str(bases["half"]),
                    "--workers", "0", "--no-progress"])[0] == 0
    assert run_cli(["extract", str(old_root), "--dataset", "aam", "--store", str(bases["stale"]),
                    "--workers", "0", "--no-progress"])[0] == 0
    # what each start state had committed: a killed run may leave a track as it was (a small corpus's
    # split moves a song as it grows, pipeline.track.assign_splits: the half store's 4 songs were split
    # otherwise than the 8)
    before = {state: snapshot(url) if url is not None else {} for state, url in bases.items()}

    rng = np.random.default_rng(SEED)
    fractions = rng.uniform(0.0, 1.0, size=10)
    outcomes = []
    for i, fraction in enumerate(fractions):
        start_state = list(bases)[i % 3]
        url = tmp_path / f"crashed{i}"
        if bases[start_state] is not None:
            shutil.copytree(bases[start_state], url)
        proc = start(extract_command(root, url))
        while not (url / ".lock").exists() and proc.poll() is None:  # the store phase has begun
            time.sleep(0.001)
        time.sleep(fraction * store_phase)
        killed = proc.poll() is None
        if killed:
            os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
        proc.stdout.close()
        proc.stderr.close()

        if (url / "manifest.json").exists():  # else the store was never created: nothing to verify
            assert_verifies(url)
            for key, tracks in snapshot(url).items():  # what is committed is whole and right
                for track_id, track in tracks.items():
                    earlier = before[start_state].get(key, {}).get(track_id)
                    assert same_track(track, reference[key][track_id]) or (
                        earlier is not None and same_track(track, earlier)), (i, track_id)
        committed_at_kill = sum(len(t) for t in snapshot(url).values()) if (url / "manifest.json").exists() else 0
        outcomes.append((start_state, round(float(fraction), 2), killed, committed_at_kill))
        left_by_kill = versions_on_disk(url)

        rc, out, err = finish(start(extract_command(root, url)))
        assert rc == 0, f"rerun after kill {i} ({outcomes[-1]}) failed: {err[-2000:]}"
        report = verify_store(str(url), deep=True)
        assert report.ok, report.problems
        # the rerun leaves no uncommitted version of its own (the killed run's may survive it when the
        # kill came before the feature set's first commit: see test_versions_of_a_run_killed_before_...)
        assert set(report.garbage) <= left_by_kill, (outcomes[-1], report.garbage)
        assert not (url / ".lock").exists()
        assert_same_store(url, reference)
    print("kill outcomes (start state, fraction of the store phase, killed, tracks committed at kill):", outcomes)
    assert sum(o[2] for o in outcomes) >= 6, outcomes  # most kills hit a running extraction


def known_first_publish_leftover(url: Path) -> bool:
    """The folder holds only a lock and ``.tmp-*`` files: a kill inside the very first manifest publish."""
    names = {p.name for p in url.iterdir()}
    return bool(names) and all(n == ".lock" or n.startswith(".tmp-") for n in names)


def versions_on_disk(url: Path) -> set[str]:
    """Store-relative paths of every track version folder, committed or not."""
    return {str(p.relative_to(url)) for p in url.glob("*/tracks/*/*") if p.is_dir()}


def test_versions_of_a_run_killed_before_its_first_commit_are_collected(tmp_path):
    from features.registry import build_config
    from pipeline.extraction.extract import FeatureTarget
    from storage.schema import TrackMeta

    root = make_songs(tmp_path / "audio", n=2)
    url = tmp_path / "store"
    spec = FeatureTarget.from_config(build_config("logmel")).spec
    n_classes = 31  # the AAM vocabulary
    with open_store(str(url), mode="a") as store:  # the state a kill -9 before the first commit leaves
        store.initialize(dataset="aam", classes=[f"c{i}" for i in range(n_classes)])
        store.add_feature_set(spec)
        store.version_writer.write_track(
            spec, TrackMeta(track_id="0000", split="train", duration=2.0, content_hash="0" * 64),
            classes=store.classes, features=np.zeros((10, *spec.frame_shape), np.float32),
            labels=np.zeros((10, n_classes), np.uint8), label_mask=np.ones((10, n_classes), bool),
            clip_labels=np.zeros(n_classes, np.float32), clip_mask=np.ones(n_classes, bool))
    orphan = versions_on_disk(url)  # written, never committed: the manifest is still the empty one
    assert orphan and not open_store(str(url)).feature_sets()
    assert rc_of_extract(root, url) == 0
    report = verify_store(str(url))
    assert report.ok and not report.garbage, report.garbage
    assert not orphan & versions_on_disk(url)


def rc_of_extract(root: Path, url: Path) -> int:
    return run_cli(["extract", str(root), "--dataset", "aam", "--store", str(url), "--workers", "0",
                    "--no-progress"])[0]


def test_kill_while_the_first_manifest_is_published_does_not_block_the_store(tmp_path):
    """kill -9 between ``mkstemp`` and ``os.replace`` of the very first manifest leaves the lock of a
    dead process and a ``.tmp-*`` file in an otherwise empty store folder; the next run must go on."""
    import socket

    root = make_songs(tmp_path / "audio", n=2)
    url = tmp_path / "store"
    url.mkdir()
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (url / ".lock").write_text(json.dumps({"pid": dead.pid, "host": socket.gethostname(), "run_id": "killed",
                                           "time": time.time()}))
    (url / ".tmp-k1ll3d").write_bytes(b'{\n "classes": [],')  # a half-written manifest
    rc, out, err = run_cli(["extract", str(root), "--dataset", "aam", "--store", str(url), "--workers", "0",
                            "--no-progress"])
    assert rc == 0, err
    assert_verifies(url)
    assert len(open_store(str(url)).feature_set("logmel").tracks()) == 2


# --- two writers at once ---------------------------------------------------------------------

def test_two_extractions_at_once_neither_duplicate_nor_lose_tracks(tmp_path):
    root = make_songs(tmp_path / "audio")
    reference_url = tmp_path / "reference"
    assert run_cli(["extract", str(root), "--dataset", "aam", "--store", str(reference_url), "--workers", "0",
                    "--no-progress"])[0] == 0
    url = tmp_path / "store"
    procs = [start(extract_command(root, url)), start(extract_command(root, url))]
    results = [finish(p) for p in procs]
    refused = []
    for me, (rc, out, err) in enumerate(results):
        if rc == 0:
            continue
        other = procs[1 - me].pid
        assert rc == 2, err[-2000:]
        assert f"another extraction is writing to this store (pid {other} on" in err, err
        assert "wait for it to finish" in err and "Traceback" not in err
        refused.append(me)
    assert len(refused) <= 1, results
    print("two writers at once:", "second refused" if refused else "both completed (one after the other)")
    if refused:  # the refused run, started again, finds everything done
        rc, out, err = finish(start(extract_command(root, url)))
        assert rc == 0 and "0 done, 8 skipped unchanged" in out, out + err
    done = [t for run in done_per_run(url) for t in run]
    assert sorted(done) == [f"{i:04d}" for i in range(N_SONGS)]  # each track computed once, none lost
    assert_verifies(url)
    assert not (url / ".lock").exists()
    assert_same_store(url, snapshot(reference_url))


def test_a_lock_being_created_is_not_taken_over(tmp_path):
    """The lock is created (O_EXCL) and then written: a second writer that reads it in between sees
    an empty file.  It must not take it as the stale lock of a crash while the creator is alive."""
    from storage.locking import StoreLockedError

    url = empty_store(tmp_path)
    (url / ".lock").write_bytes(b"")  # another writer's lock, created a moment ago, not yet written
    with pytest.raises(StoreLockedError):
        open_store(str(url), mode="a").close()


def test_an_empty_lock_left_by_a_crash_long_ago_is_taken_over(tmp_path):
    url = empty_store(tmp_path)
    (url / ".lock").write_bytes(b"")
    old = time.time() - 3600
    os.utime(url / ".lock", (old, old))  # a kill -9 between creating the lock and writing it, an hour ago
    with open_store(str(url), mode="a") as store:
        assert store.feature_sets() == []
    assert not (url / ".lock").exists()


def empty_store(tmp_path: Path) -> Path:
    url = tmp_path / "store"
    open_store(str(url), mode="a").close()
    return url


# --- training killed mid-run -----------------------------------------------------------------

TRAIN_ENV = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}  # two trainings share 2 cores


def train_command(store: Path, out: Path, *extra: str) -> list[str]:
    return cli_command("train", "--store", str(store), "--out", str(out), "--model", "crnn", "--epochs", "3",
                       "--window", "32", "--batch-size", "4", "--workers", "0", "--no-progress",
                       "--device", "cpu", "--model-options", '{"hidden": 8}', *extra)


@pytest.mark.slow
def test_training_killed_mid_run_resumes_to_the_uninterrupted_result(tmp_path):
    import torch

    from training.run import load_checkpoint

    root = make_songs(tmp_path / "audio")
    store = tmp_path / "store"
    assert run_cli(["extract", str(root), "--dataset", "aam", "--store", str(store), "--workers", "0",
                    "--no-progress"])[0] == 0
    whole = tmp_path / "whole"
    uninterrupted = start(train_command(store, whole), TRAIN_ENV)
    killed_dir = tmp_path / "killed"
    proc = start(train_command(store, killed_dir), TRAIN_ENV)
    while not (killed_dir / "last.pt").exists() and proc.poll() is None:
        time.sleep(0.002)
    assert proc.poll() is None, "training ended before it could be killed"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
    proc.stdout.close()
    proc.stderr.close()
    checkpoint = load_checkpoint(killed_dir / "last.pt")  # whole, never a half-written file
    done_epochs = checkpoint["fit_state"]["epoch"]
    assert 1 <= done_epochs < 3
    history = [json.loads(line) for line in (killed_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] in ([], list(range(1, done_epochs + 1)))

    rc, out, err = finish(start(train_command(store, killed_dir, "--resume"), TRAIN_ENV), timeout=120)
    assert rc == 0, err[-2000:]
    history = [json.loads(line) for line in (killed_dir / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in history] == [1, 2, 3]
    rc, out, err = finish(uninterrupted, timeout=120)
    assert rc == 0, err[-2000:]
    reference = [json.loads(line) for line in (whole / "metrics.jsonl").read_text().splitlines()]
    for a, b in zip(history, reference):
        assert a["train_loss"] == pytest.approx(b["train_loss"], rel=1e-5)
        assert a["val_loss"] == pytest.approx(b["val_loss"], rel=1e-5)
    a, b = load_checkpoint(killed_dir / "last.pt"), load_checkpoint(whole / "last.pt")
    for name, tensor in b["model"].items():
        torch.testing.assert_close(a["model"][name], tensor, rtol=1e-5, atol=1e-6, msg=name)


def test_train_into_a_run_directory_another_training_holds_is_refused(tmp_path):
    """The run directory is locked like a store: a second `instrec train` into it fails naming the holder;
    a lock whose process is gone is taken over."""
    import socket

    run = tmp_path / "run"
    run.mkdir()
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
    try:
        (run / ".lock").write_text(json.dumps({"pid": holder.pid, "host": socket.gethostname(), "run_id": "r1",
                                               "time": time.time()}))
        argv = ["train", "--store", str(tmp_path / "no-store"), "--out", str(run), "--no-progress"]
        rc, out, err = run_cli(argv)
        assert rc == 2 and len(err.strip().splitlines()) == 1, err
        assert err.startswith(f"instrec train: error: {run}: another `instrec train` is writing this run directory "
                              f"(pid {holder.pid} on {socket.gethostname()}, run r1"), err
        assert sorted(p.name for p in run.iterdir()) == [".lock"]  # nothing written beside the holder's lock
    finally:
        holder.kill()
        holder.wait()
    rc, out, err = run_cli(argv)  # the holder is gone: its lock is taken over, and the next check speaks
    assert rc == 2 and "no feature store here" in err and "another `instrec train`" not in err, err
    assert not (run / ".lock").exists()


# --- full disk, unwritable store path --------------------------------------------------------

def no_space(path: str = "") -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), path)


def extract_in_process(root: Path, url: Path) -> tuple[int, str, str]:
    return run_cli(["extract", str(root), "--dataset", "aam", "--store", str(url), "--workers", "0",
                    "--no-progress", "--json"])


@pytest.fixture
def half_store(tmp_path):
    """A store with songs 0000-0003 committed, the folder of all 8 songs, and the full reference content."""
    root = make_songs(tmp_path / "audio")
    half_root = tmp_path / "half"
    half_root.mkdir()
    for path in root.iterdir():
        if int(path.name[:4]) < N_SONGS // 2:
            shutil.copy2(path, half_root / path.name)
    url = tmp_path / "store"
    assert extract_in_process(half_root, url)[0] == 0
    reference_url = tmp_path / "reference"
    assert extract_in_process(root, reference_url)[0] == 0
    return root, url, snapshot(reference_url)


def test_disk_full_while_writing_tracks_commits_only_whole_tracks(half_store, monkeypatch):
    from storage.writer import TrackVersion

    root, url, reference = half_store
    real_write = TrackVersion.write_features
    calls = []

    def write_until_full(self, start, block):
        calls.append(self.meta.track_id)
        if len(calls) > 2:  # the disk fills up during the third new track
            raise no_space(str(url / self.path / "features" / "c.0.0"))
        return real_write(self, start, block)

    monkeypatch.setattr(TrackVersion, "write_features", write_until_full)
    rc, out, err = extract_in_process(root, url)
    summary = json.loads(out)
    assert rc == 1
    assert summary["done_tracks"] == ["0004", "0005"]
    assert [f["track_id"] for f in summary["failed"]] == ["0006", "0007"]
    for failure in summary["failed"]:
        assert "No space left on device" in failure["problem"] and failure["path"] in failure["problem"]
        assert str(url) in failure["problem"]  # the store path that could not be written
    monkeypatch.undo()
    assert_verifies(url)
    committed = snapshot(url)
    for key, tracks in committed.items():
        assert sorted(tracks) == [f"{i:04d}" for i in range(6)]
        for track_id, track in tracks.items():
            assert same_track(track, reference[key][track_id])
    assert extract_in_process(root, url)[0] == 0  # with space again, the rest is done
    assert_same_store(url, reference)


def fail_manifest_fsync(monkeypatch, url: Path) -> list[str]:
    """Make ``fsync`` of a temporary manifest under ``url`` fail with ENOSPC (as delayed allocation does)."""
    real_fsync = os.fsync
    failed: list[str] = []

    def fsync(fd):
        try:
            path = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:
            path = ""
        if path.startswith(str(url)) and os.path.basename(path).startswith(".tmp-"):
            with open(path, "rb") as handle:
                if b'"feature_sets"' in handle.read():
                    failed.append(path)
                    raise no_space(path)
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    return failed


def run_with_full_manifest_disk(root: Path, url: Path, monkeypatch) -> tuple[BaseException | None, tuple]:
    failed = fail_manifest_fsync(monkeypatch, url)
    raised, result = None, ()
    try:
        result = extract_in_process(root, url)
    except BaseException as exc:  # noqa: BLE001 - the store must survive whatever the CLI did
        raised = exc
    monkeypatch.undo()
    assert failed, "the injected fault never fired"
    return raised, result


def test_disk_full_while_committing_keeps_the_previous_snapshot(half_store, monkeypatch):
    root, url, reference = half_store
    before = snapshot(url)
    snapshot_id = open_store(str(url)).snapshot_id
    run_with_full_manifest_disk(root, url, monkeypatch)
    assert open_store(str(url)).snapshot_id == snapshot_id
    assert not list(url.glob(".tmp-*")) and not (url / ".lock").exists()
    assert_verifies(url)
    after = snapshot(url)
    assert sorted(after) == sorted(before)
    for key in before:
        assert sorted(after[key]) == sorted(before[key])
        assert all(same_track(after[key][t], before[key][t]) for t in before[key])
    assert extract_in_process(root, url)[0] == 0
    assert_same_store(url, reference)


def test_disk_full_while_committing_is_one_clear_error(half_store, monkeypatch):
    root, url, _ = half_store
    raised, result = run_with_full_manifest_disk(root, url, monkeypatch)
    assert raised is None, f"the CLI raised {raised!r}"
    rc, out, err = result
    assert rc == 2 and "No space left on device" in err and str(url) in err and "Traceback" not in err


def test_store_path_under_a_regular_file_writes_nothing(tmp_path):
    root = make_songs(tmp_path / "audio", n=1)
    blocker = tmp_path / "afile"
    blocker.write_bytes(b"a file, not a folder")
    try:
        run_cli(["extract", str(root), "--dataset", "aam", "--store", str(blocker / "store"), "--workers", "0",
                 "--no-progress"])
    except OSError:
        pass  # the message is checked below
    assert blocker.read_bytes() == b"a file, not a folder"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["afile", "audio"]


def test_unwritable_store_path_is_one_clear_error(tmp_path):
    root = make_songs(tmp_path / "audio", n=1)
    blocker = tmp_path / "afile"
    blocker.write_bytes(b"")
    store = blocker / "store"
    rc, out, err = run_cli(["extract", str(root), "--dataset", "aam", "--store", str(store), "--workers", "0",
                            "--no-progress"])
    assert rc == 2 and err.startswith("instrec extract: error: ") and str(store) in err
    assert len(err.strip().splitlines()) == 1
