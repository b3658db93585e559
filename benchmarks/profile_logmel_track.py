"""Where one track's log-mel extraction spends its time, stage by stage, in one thread.

    .venv/bin/python benchmarks/profile_logmel_track.py [--songs 12] [--repeats 2]

Runs the stages of ``pipeline.extraction.extract.extract_track`` by hand on songs of the
synthetic corpus of ``bench_logmel_store.py`` (stereo 44.1 kHz FLAC, 60 s): decode + downmix +
resample (``load_resampled``), frame labels, creating the track's Zarr group and arrays
(``VersionWriter.begin``), computing the log-mel blocks, and writing them; prints milliseconds
per song for each stage (the last repeat; the first one warms caches and imports).  The driver's
own work (scanning, hashing, committing) and Dask are not included: compare the total with
``bench_logmel_store.py``'s CPU seconds per song to see their share.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from bench_logmel_store import make_corpus


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=12)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "instrec-bench-profile")
    args = parser.parse_args()

    from features.registry import build_config
    from pipeline.audio import load_resampled
    from pipeline.extraction import FeatureTarget
    from pipeline.extraction.extract import iter_feature_blocks, track_label_arrays
    from pipeline.readers import read_dataset
    from storage.schema import TrackMeta
    from storage.writer import VersionWriter

    corpus = args.work / f"corpus-{args.songs}x{int(args.seconds)}s"
    make_corpus(corpus, songs=args.songs, seconds=args.seconds)
    config = build_config("logmel")
    target = FeatureTarget.from_config(config)
    tracks = list(read_dataset("folder", corpus))
    for repeat in range(args.repeats):
        store = args.work / "store"
        shutil.rmtree(store, ignore_errors=True)
        store.mkdir(parents=True)
        writer = VersionWriter(str(store))
        stages: dict[str, float] = defaultdict(float)
        for track in tracks:
            t0 = time.perf_counter()
            y = load_resampled(track.audio, [config.sr])[config.sr]
            t1 = time.perf_counter()
            n_frames = config.grid.n_frames(len(y))
            labels, mask, clip, clip_mask = track_label_arrays(track, track.classes, config.grid, n_frames)
            t2 = time.perf_counter()
            version = writer.begin(target.spec, TrackMeta.from_track(track, warnings=[]), classes=list(track.classes),
                                   labels=labels, label_mask=mask, clip_labels=clip, clip_mask=clip_mask)
            t3 = time.perf_counter()
            blocks = list(iter_feature_blocks(config, y))
            t4 = time.perf_counter()
            for start, block in blocks:
                version.write_features(start, block)
            t5 = time.perf_counter()
            for name, seconds in (("decode + downmix + resample", t1 - t0), ("frame labels", t2 - t1),
                                  ("create Zarr group + arrays", t3 - t2), ("log-mel", t4 - t3),
                                  ("write frames", t5 - t4)):
                stages[name] += seconds
    total = sum(stages.values())
    print(f"{len(tracks)} songs x {args.seconds:.0f} s, one thread, last of {args.repeats} repeats:")
    for name, seconds in stages.items():
        print(f"  {name:30s} {seconds / len(tracks) * 1e3:7.1f} ms/song  {seconds / total:6.1%}")
    print(f"  {'total':30s} {total / len(tracks) * 1e3:7.1f} ms/song = "
          f"{len(tracks) * args.seconds / total:.0f}x realtime in one thread")


if __name__ == "__main__":
    main()
