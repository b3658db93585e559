"""Source-hash cache: unchanged files are not re-read on the next run; any stat change re-hashes."""

from __future__ import annotations

import os

import numpy as np
import pytest
import soundfile as sf

from features.logmel import LogMelConfig
from pipeline.extraction import FeatureTarget, extract_dataset
from pipeline.readers import read_dataset
from pipeline.readers.files import SourceHashCache
from pipeline.track import file_hash
from storage.store import open_store

TARGETS = [FeatureTarget.from_config(LogMelConfig(n_mels=32))]


def write_song(path, *, seed):
    """One second of noise at 22.05 kHz, 16-bit (same size for every seed)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), 0.1 * np.random.default_rng(seed).standard_normal(22050), 22050, subtype="PCM_16")


def run(root, store):
    cache = SourceHashCache()
    summary = extract_dataset(read_dataset("folder", root, hash_cache=cache), store, targets=TARGETS, workers=0,
                              progress=False, hash_cache=cache)
    return summary, cache


def test_second_run_reads_no_unchanged_file_and_a_rewrite_is_seen(tmp_path):
    root, store = tmp_path / "songs", str(tmp_path / "store")
    for i in range(3):
        write_song(root / f"s{i}.wav", seed=i)
    summary, cache = run(root, store)
    assert len(summary.done) == 3 and cache.hashed == 3 and cache.reused == 0
    assert set(open_store(store).source_hashes()) == {os.path.abspath(root / f"s{i}.wav") for i in range(3)}

    summary, cache = run(root, store)
    assert len(summary.skipped) == 3 and cache.hashed == 0 and cache.reused == 3

    # same size, same mtime, different bytes: the change time still differs, so it is re-hashed
    path = root / "s1.wav"
    before = os.stat(path)
    write_song(path, seed=99)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    assert os.stat(path).st_size == before.st_size
    summary, cache = run(root, store)
    assert summary.done == ["s1"] and sorted(summary.skipped) == ["s0", "s2"]
    assert cache.hashed == 1 and cache.reused == 2
    entry = open_store(store).feature_set("logmel").tracks()[1]
    assert entry.track_id == "s1" and entry.content_hash != ""


def test_cache_entry_is_used_only_while_the_stat_is_unchanged(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(b"one")
    cache = SourceHashCache()
    assert cache.file_hash(path) == file_hash(path) and cache.hashed == 1
    # a forged entry with the current stat is trusted (the point of the cache) ...
    entries = {k: [*v[:4], "f" * 64] for k, v in cache.to_json().items()}
    trusting = SourceHashCache()
    trusting.load(entries)
    assert trusting.file_hash(path) == "f" * 64 and trusting.reused == 1
    # ... and dropped as soon as size or mtime change
    path.write_bytes(b"two!")
    again = SourceHashCache()
    again.load(entries)
    assert again.file_hash(path) == file_hash(path) and again.hashed == 1 and again.reused == 0
    st = os.stat(path)
    entries = again.to_json()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))
    third = SourceHashCache()
    third.load(entries)
    assert third.file_hash(path) == file_hash(path) and third.hashed == 1


def test_malformed_saved_entries_are_ignored(tmp_path):
    path = tmp_path / "a.bin"
    path.write_bytes(np.arange(10).tobytes())
    cache = SourceHashCache()
    cache.load({os.path.abspath(path): "garbage", "/x": [1, 2], "/y": None})
    assert cache.known == {}
    assert cache.file_hash(path) == file_hash(path)
    with pytest.raises(OSError):
        cache.file_hash(tmp_path / "missing.wav")
