"""Benchmark the Morse CWT scalogram: plain vs multirate (numpy), and the torch path.

Usage::

    python benchmarks/bench_cwt.py                       # numpy, 60 s of audio, 128 scales
    python benchmarks/bench_cwt.py --pywt                # plus pywt.cwt with 64 cmor scales
    python benchmarks/bench_cwt.py --device cuda --batch 256 --clip-seconds 10

Speeds are "x realtime": seconds of audio per second of wall time.  The accuracy check
compares the multirate scalogram with the plain full-rate transform (dB).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from features.scalogram import ScalogramConfig, scalogram


def test_signal(seconds: float, sr: int, seed: int = 0) -> np.ndarray:
    """Noise plus a gated tone, a low tone and a chirp: broadband, tonal and transient."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * sr)) / sr
    y = 0.05 * rng.standard_normal(len(t))
    y += 0.5 * np.sin(2 * np.pi * 440 * t) * (t % 1 < 0.5)
    y += 0.3 * np.sin(2 * np.pi * 60 * t)
    y += 0.2 * np.sin(2 * np.pi * (200 + 400 * (t % 4)) * t)
    return y.astype(np.float32)


def timed(fn, repeats: int) -> tuple[float, object]:
    """Best wall time of ``repeats`` calls (after one warm-up call) and the last result."""
    result = fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - start)
    return best, result


def accuracy(fast: np.ndarray, plain: np.ndarray) -> str:
    error = np.abs(fast - plain)
    corr = np.corrcoef(fast.ravel(), plain.ravel())[0, 1]
    return (
        f"|error| dB: mean {error.mean():.3f}, p99 {np.percentile(error, 99):.3f}, "
        f"max {error.max():.3f}; correlation {corr:.6f}"
    )


def bench_numpy(args: argparse.Namespace, config: ScalogramConfig) -> None:
    y = test_signal(args.seconds, config.sr)
    seconds = len(y) / config.sr
    t_plain, plain = timed(lambda: scalogram(y, config=config, method="plain"), args.repeats)
    t_fast, fast = timed(lambda: scalogram(y, config=config), args.repeats)
    print(f"numpy plain     : {seconds / t_plain:8.1f}x realtime ({t_plain:.3f} s for {seconds:.0f} s)")
    print(f"numpy multirate : {seconds / t_fast:8.1f}x realtime ({t_fast:.3f} s for {seconds:.0f} s)")
    print(f"speed-up        : {t_plain / t_fast:8.1f}x")
    print(f"accuracy        : {accuracy(fast, plain)}")
    if args.pywt:
        import pywt

        wavelet = "cmor1.5-1.0"
        freqs = np.geomspace(config.fmin, config.resolved_fmax, 64)
        scales = pywt.frequency2scale(wavelet, freqs / config.sr)
        clip = y[: int(10 * config.sr)]
        t_pywt, _ = timed(lambda: pywt.cwt(clip, scales, wavelet, method="fft"), 1)
        print(f"pywt.cwt 64 cmor: {len(clip) / config.sr / t_pywt:8.1f}x realtime (10 s, unpooled)")


def bench_torch(args: argparse.Namespace, config: ScalogramConfig) -> dict:
    """Prints the torch rates; returns them (x realtime) with the max |dB| error vs numpy."""
    import torch

    from features.scalogram_torch import TorchScalogram

    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    clip = test_signal(args.clip_seconds, config.sr)
    batch = torch.from_numpy(np.tile(clip, (args.batch, 1))).to(device)
    reference = scalogram(clip, config=config)
    figures: dict = {"device": str(device), "batch": args.batch, "clip_seconds": args.clip_seconds}
    for method in args.methods.split(","):
        # the plain path holds n_scales full-rate rows per block: fewer blocks at once
        per_batch = args.blocks_per_batch if method == "multirate" else max(args.blocks_per_batch // 8, 1)
        module = TorchScalogram(config, method=method, blocks_per_batch=per_batch).to(device)
        for size, data in (("1 clip ", batch[:1]), (f"{args.batch} clips", batch)):
            def run():
                with torch.inference_mode():
                    out = module(data)
                sync()
                return out

            elapsed, out = timed(run, args.repeats)
            audio = data.shape[0] * args.clip_seconds
            print(f"torch {device.type} {method:9s} {size}: {audio / elapsed:10.1f}x realtime")
            figures[f"{method}_{'batch' if data.shape[0] > 1 else 'one_clip'}_realtime"] = round(audio / elapsed, 1)
        error = accuracy(out[0].float().cpu().numpy(), reference)
        figures[f"{method}_max_abs_db_vs_numpy"] = float(np.abs(out[0].float().cpu().numpy() - reference).max())
        print(f"  vs numpy multirate: {error}")
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length for numpy (s)")
    parser.add_argument("--n-scales", type=int, default=128)
    parser.add_argument("--wavelet", choices=("morse", "cmor"), default="morse")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--pywt", action="store_true", help="also time pywt.cwt, 64 cmor scales")
    parser.add_argument("--device", default=None, help="run the torch path on this device (cpu, cuda)")
    parser.add_argument("--batch", type=int, default=64, help="clips per torch batch")
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--blocks-per-batch", type=int, default=64)
    parser.add_argument("--skip-numpy", action="store_true")
    parser.add_argument("--methods", default="plain,multirate", help="torch methods to time, comma-separated")
    parser.add_argument("--json", type=Path, default=None, help="also write the torch figures here")
    args = parser.parse_args()
    config = ScalogramConfig(n_scales=args.n_scales, wavelet=args.wavelet)
    print(f"scalogram: {args.n_scales} {args.wavelet} scales {config.fmin:.0f}-{config.resolved_fmax:.0f} Hz, "
          f"sr {config.sr}, pooled to hop {config.hop_length}")
    if not args.skip_numpy:
        bench_numpy(args, config)
    if args.device:
        figures = bench_torch(args, config)
        if args.json:
            args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
