"""Training throughput and size of the log-mel models: frames/s and parameters per configuration.

Every configuration runs the same training step as ``instrec train`` (the model wrapped in
:class:`training.blocks.Standardized`, :func:`training.loop.train_one_epoch`: AdamW, masked BCE,
gradient clipping, no augmentation) on in-memory random log-mel batches (default 16 x 256
frames x 128 mels, 11 classes), after one warm-up step.  The configurations are timed in
rounds, each round visiting every configuration once; the best round of each (the one least
disturbed by other jobs on a shared machine) is reported with every round's rate, and the
process CPU time per frame (``time.process_time``, all threads), which moves much less with
the machine's load than wall time.  ``crnn`` (the default model) is the baseline row and
every rate is also given relative to it.

Usage::

    python benchmarks/bench_models.py [--set all|models|frontends] [--steps N] [--rounds N] [--batch 16] [--frames 256]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time

import numpy as np
import torch

from training.augment import Augmenter
from training.blocks import Standardized
from training.loop import train_one_epoch
from training.losses import MaskedLoss
from training.registry import build_model

N_MELS, N_CLASSES = 128, 11
BASELINE = ("crnn (baseline)", "crnn", {})
# (label, registry name, options): the existing log-mel models and the PANNs-style
# configurations tried; then the front ends on the models they can be put on.
MODEL_CONFIGS: list[tuple[str, str, dict]] = [
    ("cnn", "cnn", {}),
    ("crnn-gru", "crnn-gru", {}),
    ("panns (default: 16-32-64-128-256, time /4)", "panns", {}),
    ("panns-gru (default + BiGRU 128)", "panns-gru", {}),
    ("panns 16-32-64-128", "panns", {"channels": (16, 32, 64, 128)}),
    ("panns 24-48-96-192", "panns", {"channels": (24, 48, 96, 192)}),
    ("panns 32-64-128-256", "panns", {"channels": (32, 64, 128, 256)}),
    ("panns 16-32-64-128-256-512", "panns", {"channels": (16, 32, 64, 128, 256, 512)}),
    ("panns 64-128-256-512 (Cnn14's first widths)", "panns", {"channels": (64, 128, 256, 512)}),
    ("panns default, time /2 only", "panns", {"time_pool": (2, 1, 1, 1, 1)}),
    ("panns default, time /8", "panns", {"time_pool": (2, 2, 2, 1, 1)}),
]
FRONTEND_CONFIGS: list[tuple[str, str, dict]] = [
    ("panns", "panns", {}),
    ("panns + pcen", "panns", {"frontend": "pcen"}),
    ("panns + pcen-multi", "panns", {"frontend": "pcen-multi"}),
    ("panns + instance", "panns", {"frontend": "instance"}),
    ("crnn + pcen", "crnn", {"frontend": "pcen"}),
    ("crnn + instance", "crnn", {"frontend": "instance"}),
    ("cnn + pcen", "cnn", {"frontend": "pcen"}),
    ("crnn-gru + pcen", "crnn-gru", {"frontend": "pcen"}),
]
SETS = {"models": MODEL_CONFIGS, "frontends": FRONTEND_CONFIGS, "all": MODEL_CONFIGS + FRONTEND_CONFIGS[1:]}


def batch_of(batch: int, frames: int) -> dict[str, torch.Tensor]:
    """A random log-mel batch in the store's dB range, all frames real."""
    labels = (torch.rand(batch, frames, N_CLASSES) < 0.2).float()
    return {"features": torch.randn(batch, frames, N_MELS) * 10 - 40, "labels": labels,
            "label_mask": torch.ones_like(labels, dtype=torch.bool),
            "frame_mask": torch.ones(batch, frames, dtype=torch.bool),
            "clip": labels.amax(dim=1), "clip_mask": torch.ones(batch, N_CLASSES, dtype=torch.bool)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--set", default="all", choices=tuple(SETS),
                        help="configurations: the models, the front ends, or all (default); crnn always runs")
    parser.add_argument("--steps", type=int, default=2, help="timed training steps per round (default: 2)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds over all configurations (default: 3)")
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--frames", type=int, default=256, help="frames per example (default: 256)")
    parser.add_argument("--threads", type=int, default=None,
                        help="torch threads (default: torch's, one per core); 1 gives steadier "
                             "CPU-second figures on a machine other jobs are using")
    args = parser.parse_args(argv)
    configs = [BASELINE, *SETS[args.set]]
    if args.threads is not None:
        torch.set_num_threads(args.threads)

    torch.manual_seed(0)
    batch = batch_of(args.batch, args.frames)
    loss_fn = MaskedLoss()
    step = dict(loss_fn=loss_fn, augment=Augmenter(()), device=torch.device("cpu"), grad_clip=5.0)
    models, optimizers, params = [], [], []
    for _, name, options in configs:
        model = Standardized(build_model(name, n_classes=N_CLASSES, frame_shape=(N_MELS,), **options),
                             frame_shape=(N_MELS,))
        models.append(model)
        optimizers.append(torch.optim.AdamW(model.parameters(), lr=1e-3))
        params.append(sum(p.numel() for p in model.parameters()))
        train_one_epoch(model, [batch], optimizer=optimizers[-1], max_steps=1, **step)  # warm-up
    load_start = os.getloadavg()[0]
    rates: list[list[float]] = [[] for _ in configs]
    cpu_rates: list[list[float]] = [[] for _ in configs]
    frames = args.steps * args.batch * args.frames
    for _ in range(args.rounds):
        for i, model in enumerate(models):
            start, cpu_start = time.perf_counter(), time.process_time()
            train_one_epoch(model, [batch] * args.steps, optimizer=optimizers[i], max_steps=args.steps, **step)
            rates[i].append(frames / (time.perf_counter() - start))
            cpu_rates[i].append(frames / (time.process_time() - cpu_start))
            print(f"round {len(rates[i])}: {configs[i][0]}: {rates[i][-1]:,.0f} frames/s", file=sys.stderr, flush=True)
    load_end = os.getloadavg()[0]

    base, cpu_base = max(rates[0]), max(cpu_rates[0])
    print(f"CPU, {torch.get_num_threads()} threads, batch {args.batch} x {args.frames} frames x {N_MELS} mels, "
          f"{N_CLASSES} classes; best of {args.rounds} rounds x {args.steps} steps; "
          f"load average {load_start:.1f} -> {load_end:.1f}")
    print("| configuration | model options | params | training frames/s (each round) | vs crnn "
          "| frames per CPU second | vs crnn |")
    print("|---|---|---|---|---|---|---|")
    for (label, name, options), n_params, r, c in zip(configs, params, rates, cpu_rates):
        opts = json.dumps(options) if options else ""
        print(f"| {label} | `{name}` {opts} | {n_params:,} | {max(r):,.0f} ({', '.join(f'{v:,.0f}' for v in r)}) "
              f"| {max(r) / base:.2f} | {max(c):,.0f} | {max(c) / cpu_base:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
