"""All three feature sets (log-mel, scalogram, VGGish with random weights) end to end, and peak memory.

    .venv/bin/python benchmarks/bench_all_features.py --songs 8 --seconds 60 [--workers 2] [--profile]
    .venv/bin/python benchmarks/bench_all_features.py --vggish vggish:precision=int8   # int8 VGGish on the CPU

(a) x realtime: the synthetic corpus of ``bench_logmel_store.py`` (stereo 44.1 kHz FLAC) is
    extracted with all three feature sets by ``extract_dataset`` (the ``instrec extract`` code
    path, default 2-thread local Dask cluster) into a fresh store, timed from the folder to the
    committed store (cold: the first run in the process pays for importing torch and building the
    model); then each feature set alone on the same corpus, to show where the time goes, and all
    three again (warm).
(b) peak memory: a fresh Python process extracts ONE 10-minute 44.1 kHz stereo song with all three
    feature sets into a fresh store and reports its peak RSS (``VmHWM`` in /proc/self/status) and
    the largest peak RSS of any child process (``RUSAGE_CHILDREN``); with one pending track the
    driver runs it in-process, as ``instrec extract`` would.
(c) ``--baseline``: the plain per-file librosa loop of ``bench_logmel_store.py`` (load, melspectrogram,
    power_to_db, np.save; one process) on the same corpus, so that (a) reads as a multiple of it;
(d) ``--profile``: cProfile of the all-features extraction of 2 songs in this process (no Dask),
    top functions by cumulative and internal time.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import os
import platform
import pstats
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_logmel_store import audio_seconds, make_corpus, run_baseline

ALL_FEATURES = ["logmel", "scalogram", "vggish"]


def extract(corpus: Path, store: Path, *, features: list[str], workers: int) -> tuple[float, dict]:
    from pipeline.extraction import FeatureTarget, extract_dataset
    from pipeline.readers import read_dataset
    from pipeline.readers.files import SourceHashCache
    from pipeline.vggish_options import build_feature_configs

    shutil.rmtree(store, ignore_errors=True)
    targets = [FeatureTarget.from_config(c) for c in build_feature_configs(features)]
    started = time.perf_counter()
    cache = SourceHashCache()
    summary = extract_dataset(read_dataset("folder", corpus, hash_cache=cache), str(store), targets=targets,
                              workers=workers, progress=False, hash_cache=cache)
    wall = time.perf_counter() - started
    if summary.failed:
        raise RuntimeError(f"extraction failed: {summary.failed[:3]}")
    return wall, summary.to_json()


def peak_rss_mb() -> dict:
    """This process's VmHWM and the largest child's max RSS, in MiB (1 MiB = 1024 kB of VmHWM)."""
    status = Path("/proc/self/status").read_text()
    hwm_kb = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:"))
    children_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return {"self_peak_mib": round(hwm_kb / 1024, 1), "largest_child_peak_mib": round(children_kb / 1024, 1)}


def long_song_folder(work: Path) -> Path:
    """A folder holding one 10-minute stereo 44.1 kHz FLAC song (written once, by the caller's process)."""
    folder = work / "long-song"
    make_corpus(folder, songs=1, seconds=600.0, first=80_000)
    return folder


def memory_child(work: Path, *, workers: int, features: list[str] = ALL_FEATURES) -> None:
    """Run in a fresh process: extract one 10-minute stereo song with all feature sets, print JSON."""
    folder = long_song_folder(work)
    wall, summary = extract(folder, work / "long-song-store", features=features, workers=workers)
    print(json.dumps({"wall_s": round(wall, 2), "audio_s": summary["audio_seconds"], **peak_rss_mb()}))


def profile_in_process(corpus: Path, store: Path, *, songs: int = 2, top: int = 25) -> str:
    from pipeline.extraction import FeatureTarget
    from pipeline.extraction.extract import extract_batch
    from pipeline.readers import read_dataset
    from pipeline.vggish_options import build_feature_configs
    from storage.store import open_store

    shutil.rmtree(store, ignore_errors=True)
    targets = [FeatureTarget.from_config(c) for c in build_feature_configs(ALL_FEATURES)]
    tracks = [t for _, t in zip(range(songs), read_dataset("folder", corpus))]
    with open_store(str(store), mode="a") as fs:
        fs.initialize(dataset="folder", classes=list(tracks[0].classes))
        for target in targets:
            fs.add_feature_set(target.spec)
        writer, classes = fs.version_writer, fs.classes
        extract_batch(tracks[:1], [targets], writer=writer, classes=classes)  # warm-up: imports, model build
        profiler = cProfile.Profile()
        profiler.enable()
        results = extract_batch(tracks, [targets] * len(tracks), writer=writer, classes=classes)
        profiler.disable()
    assert all(r.ok for r in results), [r.error for r in results]
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return out.getvalue()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-feature", action=argparse.BooleanOptionalAction, default=True,
                        help="also time each feature set alone")
    parser.add_argument("--memory", action=argparse.BooleanOptionalAction, default=True,
                        help="measure the peak RSS of a 10-minute song in a fresh process")
    parser.add_argument("--baseline", action="store_true", help="also time the plain librosa loop on the corpus")
    parser.add_argument("--profile", action="store_true", help="cProfile 2 songs in this process")
    parser.add_argument("--vggish", default="vggish", help="the VGGish feature spec, e.g. vggish:precision=int8")
    parser.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "instrec-bench-logmel")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    all_features = ["logmel", "scalogram", args.vggish]
    if args.memory_child:
        memory_child(args.work, workers=args.workers, features=all_features)
        return

    corpus = args.work / f"corpus-{args.songs}x{int(args.seconds)}s"
    paths = make_corpus(corpus, songs=args.songs, seconds=args.seconds)
    seconds = audio_seconds(paths)
    store = args.work / "all-features-store"
    figures: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "songs": len(paths),
                     "audio_s": round(seconds, 1), "workers": args.workers, "features": all_features}
    print(f"corpus: {len(paths)} songs, {seconds / 60:.1f} min; {figures['machine']}; {args.workers} workers")

    load = os.getloadavg()[0]
    wall, _ = extract(corpus, store, features=all_features, workers=args.workers)
    figures["all"] = {"wall_s": round(wall, 2), "realtime": round(seconds / wall, 1), "load_1min": round(load, 2)}
    print(f"all three feature sets (cold: first extraction in this process): {wall:.1f} s = {seconds / wall:.0f}x realtime (target >= 100x; load {load:.2f})")
    if args.per_feature:
        for name in all_features:
            load = os.getloadavg()[0]
            wall, _ = extract(corpus, store, features=[name], workers=args.workers)
            figures[name] = {"wall_s": round(wall, 2), "realtime": round(seconds / wall, 1), "load_1min": round(load, 2)}
            print(f"  {name} alone: {wall:.1f} s = {seconds / wall:.0f}x realtime (load {load:.2f})")
        load = os.getloadavg()[0]
        wall, _ = extract(corpus, store, features=all_features, workers=args.workers)
        figures["all_warm"] = {"wall_s": round(wall, 2), "realtime": round(seconds / wall, 1),
                               "load_1min": round(load, 2)}
        print(f"all three again, warm (torch and the VGGish model already loaded in this process): {wall:.1f} s = "
              f"{seconds / wall:.0f}x realtime (load {load:.2f})")
    shutil.rmtree(store, ignore_errors=True)
    if args.baseline:
        load = os.getloadavg()[0]
        wall, _ = run_baseline(paths, args.work / "baseline-npy")
        shutil.rmtree(args.work / "baseline-npy", ignore_errors=True)
        figures["plain_loop"] = {"wall_s": round(wall, 2), "realtime": round(seconds / wall, 1),
                                 "load_1min": round(load, 2)}
        which = "all_warm" if "all_warm" in figures else "all"
        figures["all_vs_plain_loop"] = round(figures[which]["realtime"] / figures["plain_loop"]["realtime"], 2)
        print(f"plain librosa loop (log-mel only, one process): {wall:.1f} s = {seconds / wall:.0f}x realtime; all "
              f"three feature sets ({'warm' if which == 'all_warm' else 'cold'}) = "
              f"{figures['all_vs_plain_loop']:.2f}x the loop (load {load:.2f})")

    if args.memory:
        long_song_folder(args.work)  # written here, so that its writer is no child of the measured process
        load = os.getloadavg()[0]
        child = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--memory-child", "--work", str(args.work),
             "--workers", str(args.workers), "--vggish", args.vggish], capture_output=True, text=True, check=True,
        )
        memory = json.loads(child.stdout.strip().splitlines()[-1])
        memory["load_1min"] = round(load, 2)
        figures["memory_10min_song"] = memory
        shutil.rmtree(args.work / "long-song-store", ignore_errors=True)
        print(f"10-minute stereo 44.1 kHz song, all three feature sets, fresh process: peak RSS "
              f"{memory['self_peak_mib']:.0f} MiB (largest child {memory['largest_child_peak_mib']:.0f} MiB; "
              f"target < 1.5 GB = 1430 MiB); {memory['wall_s']:.1f} s (load {load:.2f})")

    if args.profile:
        text = profile_in_process(corpus, store)
        shutil.rmtree(store, ignore_errors=True)
        print(text)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
