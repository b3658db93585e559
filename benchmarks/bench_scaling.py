"""Extraction speed-up of a 2-worker vs a 1-worker local Dask cluster, in one run.

    .venv/bin/python benchmarks/bench_scaling.py --songs 40 --seconds 60 [--features logmel] [--repeats 2]

The same corpus (synthetic stereo 44.1 kHz FLAC from ``bench_logmel_store.py``) is extracted
with ``extract_dataset`` into a fresh store by a local Dask cluster of 1 and of 2 workers, in
both local modes: threads of one in-process worker (the default of ``instrec extract``) and
separate worker processes (``local_processes=True``).  Timed from the folder to the committed
store, cluster start-up and the reader's hashing included (the ``instrec extract`` code path).
Runs are interleaved (1, 2, 1, 2, ...) so that a change in the machine's load hits both sides;
the speed-up is the ratio of the median wall times.  CPU seconds (this process's threads plus
its finished worker processes, ``getrusage``) are printed too: their ratio shows the parallel
overhead, and CPU s / wall s how many cores the run actually got.  The 1-minute load average is printed
with each run: on a shared machine the 2-worker side gets fewer than 2 free cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from bench_logmel_store import audio_seconds, make_corpus


def cpu_seconds() -> float:
    """CPU seconds of this process (all threads) and of its finished, waited-for children (worker processes)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def run_once(corpus: Path, store: Path, *, workers: int, processes: bool, features: list[str]) -> dict:
    from pipeline.extraction import FeatureTarget, extract_dataset
    from pipeline.readers import read_dataset
    from pipeline.readers.files import SourceHashCache
    from pipeline.vggish_options import build_feature_configs

    shutil.rmtree(store, ignore_errors=True)
    targets = [FeatureTarget.from_config(c) for c in build_feature_configs(features)]
    load = os.getloadavg()[0]
    cpu = cpu_seconds()
    started = time.perf_counter()
    cache = SourceHashCache()
    summary = extract_dataset(read_dataset("folder", corpus, hash_cache=cache), str(store), targets=targets,
                              workers=workers, local_processes=processes, progress=False, hash_cache=cache)
    wall = time.perf_counter() - started
    cpu = cpu_seconds() - cpu
    if summary.failed:
        raise RuntimeError(f"extraction failed: {summary.failed[:3]}")
    return {"workers": workers, "mode": "processes" if processes else "threads", "wall_s": round(wall, 3),
            "cpu_s": round(cpu, 2), "cores_used": round(cpu / wall, 2), "load_1min": round(load, 2), "tracks": len(summary.done)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=40)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--features", default="logmel", help="comma-separated feature sets")
    parser.add_argument("--repeats", type=int, default=2, help="runs per (mode, workers)")
    parser.add_argument("--modes", default="threads,processes")
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "instrec-bench-logmel")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()

    corpus = args.work / f"corpus-{args.songs}x{int(args.seconds)}s"
    paths = make_corpus(corpus, songs=args.songs, seconds=args.seconds)
    seconds = audio_seconds(paths)
    features = [f.strip() for f in args.features.split(",") if f.strip()]
    print(f"corpus: {len(paths)} songs, {seconds / 3600:.2f} h; features {features}; "
          f"{platform.machine()}, {os.cpu_count()} cores")
    store = args.work / "scaling-store"
    runs: list[dict] = []
    figures: dict = {"machine": f"{platform.machine()}, {os.cpu_count()} cores", "songs": len(paths),
                     "audio_s": round(seconds, 1), "features": features, "runs": runs, "modes": {}}
    for mode in [m.strip() for m in args.modes.split(",") if m.strip()]:
        for _ in range(args.repeats):
            for workers in (1, 2):
                run = run_once(corpus, store, workers=workers, processes=mode == "processes", features=features)
                run["realtime"] = round(seconds / run["wall_s"], 1)
                runs.append(run)
                print(f"  {mode:9s} {workers} worker(s): {run['wall_s']:6.2f} s = {run['realtime']:6.0f}x realtime, "
                      f"{run['cpu_s']:.1f} CPU s = {run['cores_used']:.2f} cores busy (load {run['load_1min']})")
        one = statistics.median(r["wall_s"] for r in runs if r["mode"] == mode and r["workers"] == 1)
        two = statistics.median(r["wall_s"] for r in runs if r["mode"] == mode and r["workers"] == 2)
        cpu_one = statistics.median(r["cpu_s"] for r in runs if r["mode"] == mode and r["workers"] == 1)
        cpu_two = statistics.median(r["cpu_s"] for r in runs if r["mode"] == mode and r["workers"] == 2)
        figures["modes"][mode] = {"one_worker_s": one, "two_workers_s": two, "speedup": round(one / two, 2),
                                  "cpu_one_s": cpu_one, "cpu_two_s": cpu_two}
        print(f"{mode}: 1 worker {one:.2f} s, 2 workers {two:.2f} s -> speed-up {one / two:.2f}x (target >= 1.7x); "
              f"CPU s {cpu_one:.1f} vs {cpu_two:.1f} (2 workers / 1 = {cpu_two / cpu_one:.2f}: the parallel "
              "overhead; the rest of the gap is cores other jobs hold)")
    shutil.rmtree(store, ignore_errors=True)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
