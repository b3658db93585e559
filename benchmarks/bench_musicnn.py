"""Benchmark musicnn embeddings on the CPU: realtime factor of the feature set, per hop.

Usage::

    python benchmarks/bench_musicnn.py                          # 120 s of audio, hops 187 and 62
    python benchmarks/bench_musicnn.py --seconds 600 --threads 1 2 --model MTT_vgg --layer pool5
    python benchmarks/bench_musicnn.py --extract 8              # also `extract_dataset` of 8 songs

For each torch thread count and hop it times ``MusicnnConfig.compute`` (front end + network)
on seeded noise-and-tone audio, reporting wall and CPU time (``time.process_time``, all threads;
it moves much less with the machine's load than wall time) as realtime factors, and the
front end's share.  ``--extract N`` also runs the path of ``instrec extract`` on N synthetic
60 s songs with a 2-thread local Dask cluster and prints its realtime factor.  The load
average at start and end is printed: the development machine is shared.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def audio(seconds: float, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * 16000)) / 16000
    y = 0.3 * np.sin(2 * np.pi * 220 * t) * (1 + np.sin(2 * np.pi * 0.5 * t)) + 0.05 * rng.standard_normal(len(t))
    return y.astype(np.float32)


def time_compute(config, y: np.ndarray, repeats: int) -> tuple[float, float, float]:
    """(wall s, CPU s, front-end wall s) per pass, best of ``repeats``."""
    config.compute(y[: 16000 * 4])  # build the network, warm oneDNN
    walls, cpus = [], []
    for _ in range(repeats):
        w, c = time.perf_counter(), time.process_time()
        config.compute(y)
        walls.append(time.perf_counter() - w)
        cpus.append(time.process_time() - c)
    w = time.perf_counter()
    n_frames = config.grid.n_frames(len(y))
    for f0 in range(0, n_frames, 64):
        config.patches(y, f0, min(f0 + 64, n_frames))
    front = time.perf_counter() - w
    return min(walls), min(cpus), front


def bench_extract(config, songs: int) -> float:
    import soundfile as sf

    from pipeline.extraction import FeatureTarget, extract_dataset
    from pipeline.readers import read_dataset

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "songs"
        root.mkdir()
        for i in range(songs):
            sf.write(str(root / f"s{i:03d}.flac"), audio(60.0, seed=i), 16000, subtype="PCM_16")
        tracks = read_dataset("folder", root)
        start = time.perf_counter()
        summary = extract_dataset(tracks, str(Path(tmp) / "store"), targets=[FeatureTarget.from_config(config)],
                                  workers=2, progress=False)
        wall = time.perf_counter() - start
        assert len(summary.done) == songs, summary.text()
    return songs * 60.0 / wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=120.0)
    parser.add_argument("--model", default="MTT_musicnn")
    parser.add_argument("--layer", default=None)
    parser.add_argument("--hops", type=int, nargs="+", default=[187, 62])
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--extract", type=int, default=0, metavar="N", help="also extract N 60 s songs")
    args = parser.parse_args()
    from pipeline.musicnn_options import MusicnnOptions, musicnn_config

    print(f"load average at start: {os.getloadavg()[0]:.2f}; torch {torch.__version__}, {os.cpu_count()} CPUs")
    y = audio(args.seconds)
    print(f"{'model':12s} {'hop':>4s} {'threads':>7s} {'frames':>6s} {'wall x RT':>10s} {'x RT per CPU s':>14s} "
          f"{'front end':>9s}")
    for hop in args.hops:
        config = musicnn_config(MusicnnOptions(model=args.model, layer=args.layer, hop_frames=hop))
        for threads in args.threads:
            torch.set_num_threads(threads)
            wall, cpu, front = time_compute(config, y, args.repeats)
            print(f"{args.model:12s} {hop:4d} {threads:7d} {config.grid.n_frames(len(y)):6d} {args.seconds / wall:10.1f} "
                  f"{args.seconds / cpu:14.1f} {front / wall:9.1%}")
        if args.extract:
            torch.set_num_threads(max(args.threads))
            print(f"extract_dataset, {args.extract} x 60 s songs, hop {hop}, 2 Dask threads: "
                  f"{bench_extract(config, args.extract):.1f}x realtime")
    print(f"load average at end: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
