"""Cost of writing one track version into a local store (what every extraction worker pays per song).

Writes ``--tracks`` tracks of ``--seconds`` of random log-mel frames (default feature set,
17 classes) through :class:`storage.writer.VersionWriter`, as extraction workers do, and prints
the median and mean milliseconds per track (group, arrays, coordinates and frames; wall clock and
CPU time of the process, which a busy machine disturbs less), then the
median milliseconds of committing one track (manifest, and the root's consolidated metadata
where the code writes it) into a store that already holds ``--commit-tracks`` tracks.

To compare two versions of the code in the same run, run it alternately with each checkout
first on ``PYTHONPATH`` (``--rounds`` repeats the whole measurement)::

    for i in 1 2 3; do
        PYTHONPATH=/path/to/old python benchmarks/bench_track_write.py
        PYTHONPATH=$PWD python benchmarks/bench_track_write.py
    done
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time

import numpy as np


def measure(n_tracks: int, seconds: float, n_classes: int, commit_tracks: int) -> tuple[list[float], list[float], list[float]]:
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
    times, cpu_times = [], []
    with tempfile.TemporaryDirectory() as tmp:
        with open_store(f"{tmp}/store", mode="a") as store:
            store.initialize(dataset="folder", classes=classes)
            store.add_feature_set(spec)
            store.commit()
            writer = store.version_writer
            records = []
            for i in range(n_tracks + 2):  # the first two warm up (imports, thread pools)
                meta = TrackMeta(track_id=f"track {i}", split="train", duration=seconds, content_hash=f"{i:064x}")
                start, cpu = time.perf_counter(), time.process_time()
                records.append(writer.write_track(spec, meta, classes=classes, features=features, labels=labels,
                                                  label_mask=mask, clip_labels=labels.max(axis=0).astype(np.float32),
                                                  clip_mask=mask[0]))
                if i >= 2:
                    times.append(1000 * (time.perf_counter() - start))
                    cpu_times.append(1000 * (time.process_time() - cpu))
            # a store of commit_tracks tracks (the same record under other ids), then one commit per track
            template = records[0]
            key, _, _, version = template["path"].split("/")
            store.commit([{**template, "track_id": f"old {i}", "path": f"{key}/tracks/old-{i}/{version}"}
                          for i in range(commit_tracks)])
            commits = []
            for record in records[:10]:
                start = time.perf_counter()
                store.commit([record])
                commits.append(1000 * (time.perf_counter() - start))
    return times, cpu_times, commits


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tracks", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--classes", type=int, default=17)
    parser.add_argument("--commit-tracks", type=int, default=2000)
    args = parser.parse_args()
    times, cpu_times, commits = measure(args.tracks, args.seconds, args.classes, args.commit_tracks)
    print(json.dumps({"tracks": args.tracks, "seconds": args.seconds, "median_ms": round(statistics.median(times), 2),
                      "mean_ms": round(statistics.mean(times), 2), "min_ms": round(min(times), 2),
                      "median_cpu_ms": round(statistics.median(cpu_times), 2),
                      f"commit_ms_at_{args.commit_tracks}_tracks": round(statistics.median(commits), 2)}))


if __name__ == "__main__":
    main()
