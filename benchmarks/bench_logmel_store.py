"""Log-mel store build vs the reference projects' per-file librosa loop, in one run.

    .venv/bin/python benchmarks/bench_logmel_store.py --songs 200 --seconds 120

(a) baseline: a single-process loop of ``librosa.load`` at the file's rate +
    ``librosa.feature.melspectrogram`` (n_fft 2048, hop 512, 128 mels) + ``power_to_db`` +
    ``np.save`` per file;
(b) instrec: ``read_dataset("folder", corpus)`` -> ``extract_dataset`` into a fresh Zarr store
    with a 2-thread local Dask cluster (the code path of ``instrec extract``), timed end to end
    from the folder to the committed store, cluster start-up included;
(c) incremental: one new song added to the corpus, extracted again into the N-song store, vs
    the same song extracted alone into an empty store;
(d) random 1000-frame window reads from the store (the training access pattern).

The corpus is synthetic (stereo 44.1 kHz 16-bit FLAC: harmonic notes + noise), generated once
into ``--work`` and reused; ``--corpus DIR`` uses your own folder instead.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np


def write_song(path: Path, seconds: float, seed: int, sr: int = 44100) -> None:
    import soundfile as sf

    rng = np.random.default_rng(seed)
    n = int(seconds * sr)
    t = np.arange(n, dtype=np.float64) / sr
    y = 0.02 * rng.standard_normal((n, 2))
    note_len = 0.5
    for start in np.arange(0.0, seconds, note_len):
        f0 = 110.0 * 2 ** (rng.integers(0, 36) / 12)
        sl = slice(int(start * sr), min(n, int((start + note_len) * sr)))
        tone = sum(0.1 / k * np.sin(2 * np.pi * k * f0 * t[sl]) for k in range(1, 5))
        y[sl] += tone[:, None]
    sf.write(str(path), np.clip(y, -1, 1).astype(np.float32), sr, subtype="PCM_16")


def make_corpus(folder: Path, *, songs: int, seconds: float, first: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"song{i:04d}.flac" for i in range(first, first + songs)]
    todo = [p for p in paths if not p.exists()]
    if todo:
        with ProcessPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
            list(pool.map(write_song, todo, [seconds] * len(todo), [int(p.stem[4:]) for p in todo]))
    return paths


def audio_seconds(paths: list[Path]) -> float:
    import soundfile as sf

    return sum(sf.info(str(p)).duration for p in paths)


def run_baseline(paths: list[Path], out: Path) -> tuple[float, float]:
    import librosa

    out.mkdir(parents=True, exist_ok=True)
    for path in paths[:2]:  # warm-up, untimed: librosa's lazy imports and first-call caches
        librosa.feature.melspectrogram(y=librosa.load(str(path), sr=None)[0], sr=44100, n_fft=2048, hop_length=512)
    started, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        y, sr = librosa.load(str(path), sr=None)
        mel = librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128)
        np.save(out / f"{path.stem}.npy", librosa.power_to_db(mel, ref=1.0))
    return time.perf_counter() - started, time.process_time() - cpu


def run_instrec(corpus: Path, store: str, *, workers: int) -> tuple[float, dict, float]:
    from features.registry import build_config
    from pipeline.extraction import FeatureTarget, extract_dataset
    from pipeline.readers import read_dataset
    from pipeline.readers.files import SourceHashCache

    started, cpu = time.perf_counter(), time.process_time()
    cache = SourceHashCache()  # as `instrec extract` does
    summary = extract_dataset(
        read_dataset("folder", corpus, hash_cache=cache), store,
        targets=[FeatureTarget.from_config(build_config("logmel"))], workers=workers, progress=False,
        hash_cache=cache,
    )
    elapsed, cpu = time.perf_counter() - started, time.process_time() - cpu
    if summary.failed:
        raise RuntimeError(f"extraction failed: {summary.failed[:3]}")
    return elapsed, summary.to_json(), cpu


def window_reads(store: str, *, n: int = 300, frames: int = 1000) -> float:
    from storage.store import open_store

    reader = open_store(store).feature_set("logmel")
    entries = [e for e in reader.tracks() if e.n_frames > frames]
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(n):
        entry = entries[rng.integers(len(entries))]
        start = int(rng.integers(0, entry.n_frames - frames))
        reader.read_features(entry.track_id, start, start + frames)
        reader.read_labels(entry.track_id, start, start + frames)
    return (time.perf_counter() - started) / n


def concatenated_window_reads(store: str, work: Path, *, n: int = 300, frames: int = 1000) -> float:
    """The alternative layout: every track's frames in one array + an offsets index, same chunking.

    Written from the store's own frames, read with the same random windows as :func:`window_reads`.
    (zarr is imported here only to build the comparison; instrec code reads through ``storage``.)
    """
    import zarr

    from storage.store import open_store

    reader = open_store(store).feature_set("logmel")
    entries = reader.tracks()
    offsets = np.cumsum([0] + [e.n_frames for e in entries])
    path = work / "concatenated.zarr"
    shutil.rmtree(path, ignore_errors=True)
    root = zarr.open_group(str(path), mode="w")
    feats = root.create_array("features", shape=(int(offsets[-1]), 128), dtype="float16", chunks=(512, 128))
    labels = root.create_array("labels", shape=(int(offsets[-1]), max(len(reader.classes), 1)), dtype="uint8",
                               chunks=(512, max(len(reader.classes), 1)))
    mask = root.create_array("label_mask", shape=labels.shape, dtype="bool", chunks=labels.chunks)
    for entry, start in zip(entries, offsets):
        feats[int(start): int(start) + entry.n_frames] = reader.read_features(entry.track_id).astype(np.float16)
    long_enough = [(e, o) for e, o in zip(entries, offsets) if e.n_frames > frames]
    rng = np.random.default_rng(0)
    started = time.perf_counter()
    for _ in range(n):
        entry, offset = long_enough[rng.integers(len(long_enough))]
        start = int(offset) + int(rng.integers(0, entry.n_frames - frames))
        np.asarray(feats[start: start + frames], dtype=np.float32)
        np.asarray(labels[start: start + frames])
        np.asarray(mask[start: start + frames])
    return (time.perf_counter() - started) / n


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=200)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--corpus", type=Path, default=None, help="a folder of audio files to use instead")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "instrec-bench-logmel")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    corpus = args.corpus or args.work / f"corpus-{args.songs}x{int(args.seconds)}s"
    paths = sorted(p for p in corpus.rglob("*") if p.suffix.lower() in (".flac", ".wav")) if args.corpus \
        else make_corpus(corpus, songs=args.songs, seconds=args.seconds)
    hours = audio_seconds(paths) / 3600
    runs = args.work / "runs"
    shutil.rmtree(runs, ignore_errors=True)
    print(f"corpus: {len(paths)} songs, {hours:.2f} h, {platform.machine()}, {os.cpu_count()} cores")

    load = os.getloadavg()[0]
    base_s, base_cpu = run_baseline(paths, runs / "baseline")
    base_rt = hours * 3600 / base_s
    print(f"baseline librosa loop: {base_s:.1f} s = {base_rt:.0f}x realtime "
          f"({base_cpu:.1f} CPU s = {hours * 3600 / base_cpu:.0f}x per CPU second)")

    store = str(runs / "store")
    ours_s, summary, ours_cpu = run_instrec(corpus, store, workers=args.workers)
    ours_rt = hours * 3600 / ours_s
    print(f"instrec extract ({args.workers} workers): {ours_s:.1f} s = {ours_rt:.0f}x realtime, "
          f"{ours_rt / base_rt:.2f}x the baseline ({ours_cpu:.1f} CPU s in this process = "
          f"{hours * 3600 / ours_cpu:.0f}x per CPU second; worker processes, if any, not counted)")

    extra_dir = args.work / "extra-song"
    extra = make_corpus(extra_dir, songs=1, seconds=args.seconds, first=90_000)[0]
    alone_s, _, _ = run_instrec(extra_dir, str(runs / "alone"), workers=args.workers)
    shutil.copy(extra, corpus / extra.name)
    try:
        add_s, add_summary, _ = run_instrec(corpus, store, workers=args.workers)
    finally:
        (corpus / extra.name).unlink()
    assert add_summary["done"] == 1, add_summary
    print(f"add 1 song to {len(paths)}: {add_s:.2f} s vs {alone_s:.2f} s alone = {add_s / alone_s:.2f}x")

    cold_s = window_reads(store)  # first touch opens each track's arrays
    read_s = window_reads(store)
    concat_s = concatenated_window_reads(store, runs)
    print(f"random 1000-frame window (features, labels, mask): {read_s * 1e3:.2f} ms per-track arrays "
          f"({cold_s * 1e3:.2f} ms on first touch), {concat_s * 1e3:.2f} ms concatenated + offsets")

    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "songs": len(paths), "hours": round(hours, 3),
        "baseline_s": round(base_s, 2), "baseline_realtime": round(base_rt, 1), "instrec_s": round(ours_s, 2),
        "instrec_realtime": round(ours_rt, 1), "ratio": round(ours_rt / base_rt, 2),
        "add_one_s": round(add_s, 3), "alone_s": round(alone_s, 3), "add_ratio": round(add_s / alone_s, 2),
        "window_read_ms": round(read_s * 1e3, 3), "concatenated_window_read_ms": round(concat_s * 1e3, 3),
        "cold_window_read_ms": round(cold_s * 1e3, 3),
        "workers": args.workers, "baseline_cpu_s": round(base_cpu, 2), "instrec_cpu_s": round(ours_cpu, 2),
        "load_avg_1min_at_start": round(load, 2), "load_avg_1min_at_end": round(os.getloadavg()[0], 2),
    }
    print(json.dumps(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
