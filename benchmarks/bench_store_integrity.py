"""What the store's integrity costs: crc32c on writes and reads, the missing-chunk check, history.

Everything is measured in one process, the variants alternated round by round, so a busy
machine disturbs both alike; compare the ratios, not the absolute times.

* write: milliseconds per track version (``--seconds`` of random log-mel frames, 17 classes)
  through :class:`storage.writer.VersionWriter`, with the crc32c codec (what the store writes)
  and without it (what it wrote before);
* read: CPU milliseconds (all threads) per training window (``--window`` frames of features + labels + mask at a
  random position of a random track, as :class:`training.data.WindowDataset` reads them) from a
  store with and without crc32c, through the strict zarr store (an absent chunk is an error) and
  through the plain one (an absent chunk is the fill value); the four variants read the same
  window one after another, arrays already open, as during an epoch;
* commit: milliseconds per one-track commit into a store of ``--commit-tracks`` tracks, with the
  snapshot's history entry (``manifests/<id>.json.gz``) and without it, and the sizes of
  ``manifest.json`` and of one history entry, and the time to read one back.

    nice -n 19 env PYTHONPATH=$PWD python benchmarks/bench_store_integrity.py
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
from contextlib import contextmanager

import numpy as np


@contextmanager
def codecs(crc: bool):
    """The writer's codecs with (the default) or without crc32c."""
    import storage.writer as writer

    saved = writer.frames_codec, writer.labels_codec, writer.small_codec
    if not crc:
        writer.frames_codec = lambda: saved[0]()[:-1]
        writer.labels_codec = lambda: saved[1]()[:-1]
        writer.small_codec = lambda: saved[2]()[:-1]
    try:
        yield
    finally:
        writer.frames_codec, writer.labels_codec, writer.small_codec = saved


def make_store(url: str, n_tracks: int, seconds: float, n_classes: int, *, crc: bool) -> list[float]:
    """A store of ``n_tracks`` tracks; returns the milliseconds each track version took to write."""
    from features.logmel import LogMelConfig
    from storage.schema import FeatureSetSpec, TrackMeta
    from storage.store import open_store

    config = LogMelConfig()
    spec = FeatureSetSpec.from_config(config)
    n_frames = config.grid.n_frames(int(seconds * config.sr))
    classes = [f"class {i}" for i in range(n_classes)]
    rng = np.random.default_rng(0)
    features = rng.uniform(-100, 20, size=(n_frames, config.n_mels)).astype(np.float32)
    labels = (rng.random((n_frames, n_classes)) < 0.2).astype(np.uint8)
    mask = np.ones_like(labels, dtype=bool)
    times = []
    with codecs(crc), open_store(url, mode="a") as store:
        store.initialize(dataset="folder", classes=classes)
        store.add_feature_set(spec)
        writer, records = store.version_writer, []
        for i in range(n_tracks):
            meta = TrackMeta(track_id=f"track {i}", split="train", duration=seconds, content_hash=f"{i:064x}")
            start = time.perf_counter()
            records.append(writer.write_track(spec, meta, classes=classes, features=features, labels=labels,
                                              label_mask=mask, clip_labels=labels.max(axis=0).astype(np.float32),
                                              clip_mask=mask[0]))
            times.append(1000 * (time.perf_counter() - start))
        store.commit(records)
    return times


def read_windows(urls: dict[bool, str], *, window: int, n_windows: int, seed: int) -> dict[tuple, list[float]]:
    """CPU milliseconds (every thread of the process) per window for each (crc32c, strict) variant:
    the four readers read the same window one after the other, in a rotating order."""
    from storage.store import open_store

    readers = {}
    for crc, url in urls.items():
        for strict in (True, False):
            store = open_store(url)
            store._zarr_store = store.location.zarr_store(read_only=True, strict=strict)
            readers[crc, strict] = store.feature_set("logmel")
    variants = list(readers)
    entries = readers[variants[0]].tracks()
    for reader in readers.values():  # open every array first: what a training epoch does once
        for entry in entries:
            reader.read_labels(entry.track_id, 0, 1), reader.read_features(entry.track_id, 0, 1)
    rng = np.random.default_rng(seed)
    times: dict[tuple, list[float]] = {v: [] for v in variants}
    for n in range(n_windows):
        entry = entries[int(rng.integers(0, len(entries)))]
        first = int(rng.integers(0, entry.n_frames - window))
        for v in variants[n % 4:] + variants[:n % 4]:
            start = time.process_time()
            readers[v].read_features(entry.track_id, first, first + window)
            readers[v].read_labels(entry.track_id, first, first + window)
            times[v].append(1000 * (time.process_time() - start))
    return times


def commit_times(url: str, n_tracks: int, *, history: bool, n_commits: int = 10) -> list[float]:
    """Milliseconds per one-track commit into a store of ``n_tracks`` tracks."""
    import storage.store as store_module
    from storage.store import open_store

    saved = store_module.publish_history
    if not history:
        store_module.publish_history = lambda loc, snapshot_id, data: None
    try:
        with open_store(url, mode="a") as store:
            (key, doc), = store.manifest["feature_sets"].items()
            template = {**next(iter(doc["tracks"].values())), "feature_set": key}
            version = template["path"].rsplit("/", 1)[1]
            rng = np.random.default_rng(0)

            def record(name: str) -> dict:  # distinct hashes and clip labels, as real tracks have
                return {**template, "track_id": name, "path": f"{key}/tracks/{name.replace(' ', '-')}/{version}",
                        "content_hash": rng.bytes(32).hex(), "duration": round(float(rng.uniform(30, 300)), 6),
                        "clip_labels": [float(v) for v in (rng.random(len(template["clip_labels"])) < 0.2)]}

            store.commit([record(f"old {i}") for i in range(n_tracks - len(doc["tracks"]))])
            times = []
            for i in range(n_commits):
                start = time.perf_counter()
                store.commit([record(f"new {i}")])
                times.append(1000 * (time.perf_counter() - start))
            return times
    finally:
        store_module.publish_history = saved


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=40, help="tracks per store (written once per variant and round)")
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--classes", type=int, default=17)
    parser.add_argument("--window", type=int, default=1000)
    parser.add_argument("--windows", type=int, default=300)
    parser.add_argument("--commit-tracks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    writes = {True: [], False: []}
    reads = {(crc, strict): [] for crc in (True, False) for strict in (True, False)}
    commits = {True: [], False: []}
    sizes = {}
    with tempfile.TemporaryDirectory() as tmp:
        make_store(f"{tmp}/warm", 2, args.seconds, args.classes, crc=True)  # imports, thread pools
        for r in range(args.rounds):
            for crc in ((True, False) if r % 2 == 0 else (False, True)):
                writes[crc] += make_store(f"{tmp}/r{r}-{crc}", args.tracks, args.seconds, args.classes, crc=crc)
            for variant, times in read_windows({crc: f"{tmp}/r{r}-{crc}" for crc in (True, False)},
                                               window=args.window, n_windows=args.windows, seed=r).items():
                reads[variant] += times
            for history in ((True, False) if r % 2 == 0 else (False, True)):
                commits[history] += commit_times(f"{tmp}/r{r}-True", args.commit_tracks, history=history)
        url = f"{tmp}/r0-True"
        history_dir = os.path.join(url, "manifests")
        newest = sorted(os.listdir(history_dir))[-1]
        from storage.layout import read_history, resolve

        reads_ms = []
        for _ in range(5):  # what a writer's start and `store expire` pay per kept snapshot
            start = time.perf_counter()
            read_history(resolve(url), newest.removesuffix(".json.gz"))
            reads_ms.append(1000 * (time.perf_counter() - start))
        sizes = {"manifest_json_kb": round(os.path.getsize(os.path.join(url, "manifest.json")) / 1024, 1),
                 "history_entry_kb": round(os.path.getsize(os.path.join(history_dir, newest)) / 1024, 1),
                 "history_entry_read_ms": round(statistics.median(reads_ms), 1)}
    med = statistics.median
    result = {
        "write_ms_per_track": {"crc32c": round(med(writes[True]), 2), "none": round(med(writes[False]), 2),
                               "ratio": round(med(writes[True]) / med(writes[False]), 3)},
        "read_cpu_ms_per_window": {f"{'crc32c' if crc else 'none'}-{'strict' if strict else 'plain'}": round(med(v), 3)
                               for (crc, strict), v in reads.items()},
        "read_ratio_crc32c": round(med(reads[True, True]) / med(reads[False, True]), 3),
        "read_ratio_strict": round(med(reads[True, True]) / med(reads[True, False]), 3),
        f"commit_ms_at_{args.commit_tracks}_tracks": {
            "with_history": round(med(commits[True]), 1), "without": round(med(commits[False]), 1),
            "ratio": round(med(commits[True]) / med(commits[False]), 3)},
        f"sizes_at_{args.commit_tracks + 10 * args.rounds * 2}_tracks": sizes,
        "setup": {"tracks": args.tracks, "seconds": args.seconds, "window": args.window, "windows": args.windows,
                  "rounds": args.rounds, "load_average": [round(x, 2) for x in os.getloadavg()]},
    }
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
