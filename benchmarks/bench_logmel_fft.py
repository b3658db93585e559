"""Log-mel with a float32 vs a float64 FFT: the function alone and the whole extraction, in one run.

    .venv/bin/python benchmarks/bench_logmel_fft.py --songs 100 --seconds 60 [--repeats 3]

(a) ``features.logmel.logmel`` on 60 s of one corpus song at 22.05 kHz, both FFT precisions
    interleaved, best of ``--repeats`` x 5 calls each, plus the largest dB difference between them;
(b) ``extract_dataset`` of the whole corpus (the ``instrec extract`` code path, 2 threads) with
    ``LogMelConfig(fft_dtype="float32")`` (the default) and ``fft_dtype="float64"`` (librosa's
    precision), interleaved ``--repeats`` times; medians of wall and CPU seconds.

The corpus is the synthetic stereo 44.1 kHz FLAC one of ``bench_logmel_store.py``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench_logmel_store import audio_seconds, make_corpus
from bench_scaling import cpu_seconds


def time_function(y: np.ndarray, repeats: int) -> dict:
    from features.logmel import LogMelConfig, logmel

    configs = {dtype: LogMelConfig(fft_dtype=dtype) for dtype in ("float32", "float64")}
    best = {dtype: float("inf") for dtype in configs}
    for _ in range(repeats):
        for dtype, config in configs.items():
            logmel(y, config=config)
            started = time.perf_counter()
            for _ in range(5):
                logmel(y, config=config)
            best[dtype] = min(best[dtype], (time.perf_counter() - started) / 5)
    diff = np.abs(logmel(y, config=configs["float32"]) - logmel(y, config=configs["float64"]))
    return {"seconds_audio": len(y) / 22050, "float32_ms": round(best["float32"] * 1e3, 2),
            "float64_ms": round(best["float64"] * 1e3, 2), "speedup": round(best["float64"] / best["float32"], 2),
            "max_abs_db_difference": float(diff.max())}


def extract_once(corpus: Path, store: Path, fft_dtype: str, workers: int) -> tuple[float, float]:
    import shutil

    from features.logmel import LogMelConfig
    from pipeline.extraction import FeatureTarget, extract_dataset
    from pipeline.readers import read_dataset
    from pipeline.readers.files import SourceHashCache

    shutil.rmtree(store, ignore_errors=True)
    cache = SourceHashCache()
    cpu, started = cpu_seconds(), time.perf_counter()
    summary = extract_dataset(read_dataset("folder", corpus, hash_cache=cache), str(store),
                              targets=[FeatureTarget.from_config(LogMelConfig(fft_dtype=fft_dtype))],
                              workers=workers, progress=False, hash_cache=cache)
    wall, cpu = time.perf_counter() - started, cpu_seconds() - cpu
    if summary.failed:
        raise RuntimeError(f"extraction failed: {summary.failed[:3]}")
    return wall, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--songs", type=int, default=100)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--work", type=Path, default=Path(tempfile.gettempdir()) / "instrec-bench-logmel")
    args = parser.parse_args()

    from pipeline.audio import load_resampled

    corpus = args.work / f"corpus-{args.songs}x{int(args.seconds)}s"
    paths = make_corpus(corpus, songs=args.songs, seconds=args.seconds)
    hours = audio_seconds(paths) / 3600
    print(f"corpus: {len(paths)} songs, {hours:.2f} h, {platform.machine()}, {os.cpu_count()} cores")

    function = time_function(load_resampled(paths[0], [22050])[22050], args.repeats)
    print(f"logmel() on {function['seconds_audio']:.0f} s: float32 FFT {function['float32_ms']} ms, float64 "
          f"{function['float64_ms']} ms = {function['speedup']}x; max difference {function['max_abs_db_difference']:.2g} dB")

    runs: dict[str, list[tuple[float, float]]] = {"float32": [], "float64": []}
    for _ in range(args.repeats):
        for dtype in runs:
            wall, cpu = extract_once(corpus, args.work / "runs" / f"fft-{dtype}", dtype, args.workers)
            runs[dtype].append((wall, cpu))
            print(f"  extract, {dtype} FFT: {wall:.2f} s = {hours * 3600 / wall:.0f}x realtime, {cpu:.1f} CPU s "
                  f"(load {os.getloadavg()[0]:.2f})")
    med = {d: (statistics.median(w for w, _ in r), statistics.median(c for _, c in r)) for d, r in runs.items()}
    figures = {
        "function": function,
        "extract_float32_s": round(med["float32"][0], 2), "extract_float64_s": round(med["float64"][0], 2),
        "extract_float32_realtime": round(hours * 3600 / med["float32"][0], 1),
        "extract_speedup_wall": round(med["float64"][0] / med["float32"][0], 3),
        "extract_speedup_cpu": round(med["float64"][1] / med["float32"][1], 3),
    }
    print(f"extract: float32 FFT {figures['extract_float32_s']} s vs float64 {figures['extract_float64_s']} s = "
          f"{figures['extract_speedup_wall']}x wall, {figures['extract_speedup_cpu']}x CPU")
    print(json.dumps(figures))


if __name__ == "__main__":
    main()
