"""Log-mel of 44.1 kHz audio: resample to 22.05 kHz then the default log-mel, or a log-mel at the
native rate (doubled n_fft and hop, mels up to 11,025 Hz) with no resampling pass, in one run.

    .venv/bin/python benchmarks/bench_native_rate_mel.py [--seconds 60] [--repeats 7]

One thread (BLAS limited to one), CPU time, best of ``--repeats``, on seeded noise plus harmonic
notes.  Also reports how far the native-rate values are from the default ones, after removing
their constant offset (a 4096-point window carries 4x the power of a 2048-point one: +6 dB).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time

import numpy as np


def signal(seconds: float, sr: int = 44100) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.02 * rng.standard_normal(len(t))
    for start in np.arange(0, seconds, 0.5):
        part = slice(int(start * sr), int(min(seconds, start + 0.5) * sr))
        f0 = 110 * 2 ** (rng.integers(0, 36) / 12)
        y[part] += sum(0.1 / k * np.sin(2 * np.pi * k * f0 * t[part]) for k in range(1, 6))
    return y.astype(np.float32)


def best_cpu_ms(fn, repeats: int) -> float:
    fn()
    best = float("inf")
    for _ in range(repeats):
        started = time.process_time()
        fn()
        best = min(best, time.process_time() - started)
    return round(best * 1000, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    import threadpoolctl

    from features.logmel import LogMelConfig, logmel
    from pipeline.audio import resample

    threadpoolctl.threadpool_limits(1)
    y = signal(args.seconds)
    default = LogMelConfig()
    native = LogMelConfig(sr=44100, n_fft=4096, hop_length=1024, fmax=11025.0)
    figures = {
        "machine": f"{platform.machine()}, {os.cpu_count()} cores", "load": round(os.getloadavg()[0], 2),
        "seconds": args.seconds,
        "resample_ms": best_cpu_ms(lambda: resample(y, 44100, 22050), args.repeats),
        "resample_then_logmel_ms": best_cpu_ms(lambda: logmel(resample(y, 44100, 22050), config=default),
                                               args.repeats),
        "native_rate_logmel_ms": best_cpu_ms(lambda: logmel(y, config=native), args.repeats),
    }
    a, b = logmel(resample(y, 44100, 22050), config=default), logmel(y, config=native)
    n = min(len(a), len(b))
    diff = b[:n] - a[:n]
    loud = a[:n] > -60  # bands above -60 dB, where the comparison means something
    centred = diff[loud] - np.median(diff[loud])
    figures.update(offset_db=round(float(np.median(diff[loud])), 2),
                   abs_dev_db_mean=round(float(np.abs(centred).mean()), 3),
                   abs_dev_db_p99=round(float(np.percentile(np.abs(centred), 99)), 3))
    figures["native_vs_resampled"] = round(figures["native_rate_logmel_ms"] / figures["resample_then_logmel_ms"], 2)
    print(json.dumps(figures, indent=1))


if __name__ == "__main__":
    main()
