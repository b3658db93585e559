"""Benchmark VGGish embeddings: front end (numpy) and network (torch, CPU or CUDA).

Usage::

    python benchmarks/bench_vggish.py                         # CPU, fp32, 60 s of audio
    python benchmarks/bench_vggish.py --device cuda --seconds 3600 --batch 1024

Random (seeded) weights: speed does not depend on the weights' values.  On CUDA the network
runs under bf16 autocast (as ``VGGishConfig.compute`` does); ``--no-autocast`` gives fp32.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np
import torch

from features.vggish import random_vggish, vggish_examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--seconds", type=float, default=60.0, help="audio length (s)")
    parser.add_argument("--batch", type=int, default=256, help="examples per forward pass")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--no-autocast", action="store_true", help="fp32 on CUDA too")
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)

    y = (0.1 * np.random.default_rng(0).standard_normal(int(args.seconds * 16000))).astype(np.float32)
    audio_s = len(y) / 16000
    vggish_examples(y[: 16000 * 2])
    start = time.perf_counter()
    examples = vggish_examples(y)
    front = time.perf_counter() - start
    print(f"front end (numpy)     : {audio_s / front:10.1f}x realtime ({len(examples)} examples)")

    memory_format = torch.contiguous_format if args.no_channels_last else torch.channels_last
    model = random_vggish(seed=0).to(device, memory_format=memory_format).eval()
    data = torch.from_numpy(examples).unsqueeze(1).to(device).contiguous(memory_format=memory_format)
    autocast = device.type == "cuda" and not args.no_autocast

    def run() -> None:
        with torch.inference_mode(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=autocast):
            for i in range(0, len(data), args.batch):
                model(data[i : i + args.batch])
        sync()

    run()
    best = float("inf")
    for _ in range(args.repeats):
        start = time.perf_counter()
        run()
        best = min(best, time.perf_counter() - start)
    covered = len(examples) * 0.96
    precision = "bf16 autocast" if autocast else "fp32"
    print(f"network ({device.type}, {precision}): {covered / best:10.1f}x realtime "
          f"({len(examples) / best:.1f} examples/s, batch {args.batch})")
    end_to_end = audio_s / (front + best * audio_s / covered)
    print(f"end to end            : {end_to_end:10.1f}x realtime")
    if args.json:
        figures = {"device": str(device), "precision": precision, "batch": args.batch, "audio_s": audio_s,
                   "front_end_realtime": round(audio_s / front, 1), "network_realtime": round(covered / best, 1),
                   "examples_per_s": round(len(examples) / best, 1), "end_to_end_realtime": round(end_to_end, 1)}
        args.json.write_text(json.dumps(figures, indent=1) + "\n")


if __name__ == "__main__":
    main()
