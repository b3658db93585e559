"""Batched log-mel in torch (``features/logmel_torch.py``) against the numpy log-mel, in one run.

Usage::

    python benchmarks/bench_logmel_torch.py                                  # CPU, 16 clips of 10 s
    python benchmarks/bench_logmel_torch.py --device cuda --batch 256 --clip-seconds 30

Speeds are "x realtime" (seconds of audio per second of wall time; best of ``--repeats``, after
a warm-up call): numpy :func:`features.logmel.logmel` clip by clip, torch on one clip and on the
whole batch.  The accuracy check compares the torch batch with numpy (max |dB| difference).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from features.logmel import LogMelConfig, logmel
from features.logmel_torch import TorchLogMel


def best_time(fn, repeats: int) -> float:
    """Best wall time of ``repeats`` calls of ``fn`` after one warm-up call."""
    fn()
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--batch", type=int, default=16, help="clips per torch batch")
    parser.add_argument("--clip-seconds", type=float, default=10.0)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    config = LogMelConfig()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    rng = np.random.default_rng(0)
    y = (0.1 * rng.standard_normal((args.batch, int(args.clip_seconds * config.sr)))).astype(np.float32)
    module = TorchLogMel(config).to(device)
    data = torch.from_numpy(y).to(device)

    def run(clips: torch.Tensor):
        def call():
            with torch.inference_mode():
                out = module(clips)
            sync()
            return out

        return call

    numpy_s = best_time(lambda: [logmel(clip, config=config) for clip in y[: min(4, args.batch)]], args.repeats)
    numpy_rate = min(4, args.batch) * args.clip_seconds / numpy_s
    one_rate = args.clip_seconds / best_time(run(data[:1]), args.repeats)
    batch_rate = args.batch * args.clip_seconds / best_time(run(data), args.repeats)
    with torch.inference_mode():
        out = module(data[:4]).float().cpu().numpy()
    expected = np.stack([logmel(clip, config=config) for clip in y[:4]])
    figures = {
        "device": str(device), "batch": args.batch, "clip_seconds": args.clip_seconds,
        "numpy_realtime": round(numpy_rate, 1), "torch_one_clip_realtime": round(one_rate, 1),
        "torch_batch_realtime": round(batch_rate, 1), "batch_vs_numpy": round(batch_rate / numpy_rate, 2),
        "max_abs_db_vs_numpy": float(np.abs(out - expected).max()),
    }
    print(f"log-mel {config.n_mels} mels, n_fft {config.n_fft}, hop {config.hop_length}, sr {config.sr}")
    print(f"{'numpy logmel(), clip by clip':28s}: {numpy_rate:12.1f}x realtime")
    print(f"{f'torch {device.type}, 1 clip':28s}: {one_rate:12.1f}x realtime")
    print(f"{f'torch {device.type}, {args.batch} clips':28s}: {batch_rate:12.1f}x realtime "
          f"({batch_rate / numpy_rate:.1f}x numpy)")
    print(f"{'max |dB| vs numpy':28s}: {figures['max_abs_db_vs_numpy']:.2g}")
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
