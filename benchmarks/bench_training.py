"""Training throughput: the AAM reference CRNN on in-memory tensors vs. reading from a local store.

Both measurements run the same training step (:func:`training.loop.train_one_epoch`, no
augmentation) in the same process, batch 16 x 1000 frames x 128 mels (``--batch-size``,
``--window``).  In-memory and store phases alternate (in-memory first and last) and are
averaged, so a machine whose load changes during the run does not bias the ratio; the
loader's own rate (no training) shows how far it is from being the bottleneck.  Prints frames/s and the ratio; targets:
>= 0.70 on CPU, >= 0.80 on CUDA.

Usage::

    python benchmarks/bench_training.py [--device auto|cpu|cuda] [--steps N] [--workers N] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from storage.schema import FeatureSetSpec, TrackMeta
from storage.store import open_store
from training.augment import Augmenter
from training.data import WindowDataset, default_workers, make_loader
from training.loop import resolve_device, train_one_epoch
from training.losses import MaskedLoss
from training.registry import build_model
from training.sampler import RandomWindowSampler

N_MELS, N_CLASSES = 128, 11


def write_random_store(path: Path, *, n_tracks: int, n_frames: int, seed: int = 0) -> None:
    """A local store of random log-mel frames (float16, as extraction stores them) and labels."""
    rng = np.random.default_rng(seed)
    spec = FeatureSetSpec(name="logmel", params={"name": "logmel", "n_mels": N_MELS}, config_hash="b" * 64,
                          frame_shape=(N_MELS,), frame_rate=22050 / 512, hop_s=512 / 22050, first_centre=0.0)
    store = open_store(str(path), mode="a")
    try:
        store.initialize(dataset="bench", classes=[f"class{c}" for c in range(N_CLASSES)])
        key = store.add_feature_set(spec)
        for i in range(n_tracks):
            labels = (rng.random((n_frames, N_CLASSES)) < 0.2).astype(np.uint8)
            meta = TrackMeta(track_id=f"t{i:04d}", split="train", duration=n_frames * spec.hop_s,
                             content_hash=f"h{i}")
            store.write_track(key, meta=meta, features=rng.normal(-40, 10, (n_frames, N_MELS)).astype(np.float32),
                              labels=labels, label_mask=np.ones_like(labels, dtype=bool),
                              clip_labels=labels.max(axis=0).astype(np.float32),
                              clip_mask=np.ones(N_CLASSES, dtype=bool))
        store.commit()
    finally:
        store.close()


def rate(model, loader, *, steps: int, frames: int, device: torch.device, loss_fn: MaskedLoss, optimizer) -> float:
    """Frames per second of ``steps`` training steps of ``frames`` frames over ``loader`` (after one warm-up step)."""
    run = dict(optimizer=optimizer, loss_fn=loss_fn, augment=Augmenter(()), device=device, grad_clip=5.0)
    train_one_epoch(model, loader, max_steps=1, **run)
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    train_one_epoch(model, loader, max_steps=steps, **run)
    if device.type == "cuda":
        torch.cuda.synchronize()
    return steps * frames / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--steps", type=int, default=None, help="timed steps per phase (default: 4 on CPU, 100 on CUDA)")
    parser.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: as training)")
    parser.add_argument("--rounds", type=int, default=2, help="store/in-memory alternations (default: 2)")
    parser.add_argument("--tracks", type=int, default=48, help="tracks in the store (3000 frames each)")
    parser.add_argument("--batch-size", type=int, default=16, help="examples per batch")
    parser.add_argument("--window", type=int, default=1000, help="frames per example")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    device = resolve_device(args.device)
    batch_size, window = args.batch_size, args.window
    steps = args.steps or (100 if device.type == "cuda" else 4)
    workers = default_workers(device) if args.workers is None else args.workers
    torch.manual_seed(0)
    model = build_model("crnn", n_classes=N_CLASSES, frame_shape=(N_MELS,)).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    loss_fn = MaskedLoss().to(device)

    labels = (torch.rand(batch_size, window, N_CLASSES) < 0.2).float()
    batch = {"features": torch.randn(batch_size, window, N_MELS), "labels": labels,
             "label_mask": torch.ones_like(labels, dtype=torch.bool),
             "frame_mask": torch.ones(batch_size, window, dtype=torch.bool),
             "clip": labels.amax(dim=1), "clip_mask": torch.ones(batch_size, N_CLASSES, dtype=torch.bool)}
    batch = {k: v.to(device) for k, v in batch.items()}
    in_memory = [batch] * (steps + 1)

    with tempfile.TemporaryDirectory() as tmp:
        write_random_store(Path(tmp) / "store", n_tracks=args.tracks, n_frames=3000)
        reader = open_store(str(Path(tmp) / "store")).feature_set("logmel")
        tracks = reader.tracks("train")
        dataset = WindowDataset(reader, track_ids=[t.track_id for t in tracks],
                                n_frames=[t.n_frames for t in tracks], window=window)
        sampler = RandomWindowSampler(dataset.n_frames, window=window, seed=0)
        loader = make_loader(dataset, sampler, batch_size=batch_size, workers=workers, device=device, drop_last=True)
        common = dict(steps=steps, frames=batch_size * window, device=device, loss_fn=loss_fn, optimizer=optimizer)
        memory_rates, store_rates = [rate(model, in_memory, **common)], []
        for _ in range(args.rounds):  # alternate, so load changes hit both sides alike
            store_rates.append(rate(model, loader, **common))
            memory_rates.append(rate(model, in_memory, **common))
        start = time.perf_counter()
        for i, _ in enumerate(loader):
            if i + 1 == steps:
                break
        loader_only = steps * batch_size * window / (time.perf_counter() - start)

    memory, from_store = float(np.mean(memory_rates)), float(np.mean(store_rates))
    ratio = from_store / memory
    target = 0.8 if device.type == "cuda" else 0.7
    print(f"device: {device} ({torch.get_num_threads()} threads), workers: {workers}, steps: {steps} x "
          f"{args.rounds} rounds, batch {batch_size} x {window} frames x {N_MELS} mels")
    print(f"in-memory:  {memory:,.0f} frames/s (each: {', '.join(f'{r:,.0f}' for r in memory_rates)})")
    print(f"from store: {from_store:,.0f} frames/s (each: {', '.join(f'{r:,.0f}' for r in store_rates)})")
    print(f"loader alone (no training): {loader_only:,.0f} frames/s")
    print(f"ratio:      {ratio:.2f} (target >= {target:.2f}) -> {'OK' if ratio >= target else 'BELOW TARGET'}")
    if args.json:
        figures = {"device": str(device), "workers": workers, "steps": steps, "rounds": args.rounds,
                   "in_memory_frames_per_s": round(memory), "from_store_frames_per_s": round(from_store),
                   "loader_alone_frames_per_s": round(loader_only), "store_vs_memory": round(ratio, 3),
                   "target": target}
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0 if ratio >= target else 1


if __name__ == "__main__":
    sys.exit(main())
