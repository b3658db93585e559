"""Stem stores and remix training on a demo corpus: cost, feature-domain mix error, throughput.

1. Renders a demo corpus (Slakh layout; its mix is exactly the sum of its stems).
2. Extracts it through the CLI twice, into a mix-only store and into a store with ``--stems``,
   alternating the order over ``--rounds`` rounds; reports seconds per song of each and the ratio
   (target: a stem store within 2x the time of the mix store).
3. Feature-domain mixing error: for every song, the stored log-mel of the real mix against the
   power sum of its stored stems' log-mel (:func:`features.mixing.mix_frames`, gains 0 dB), over
   the bins where the mix is above -80 dB (and over all bins): mean and 95th percentile of the
   absolute difference, dB.
4. Training throughput, crnn, batch 16 x 128 frames: plain windows of the mixes vs ``remix=0.5``
   and ``remix=1.0`` on the same store, alternated (target: remix >= 70 % of plain).

Usage::

    python benchmarks/bench_stems.py [--songs 24] [--seconds 20] [--rounds 2] [--steps 30] [--device cuda] [--json PATH]
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def extract(corpus: Path, store: Path, *, stems: bool, workers: int = 2) -> float:
    command = [sys.executable, "-m", "instrec", "extract", "--dataset", "demo", str(corpus), "--store",
               str(store), "--workers", str(workers), "--no-progress"] + (["--stems"] if stems else [])
    start = time.perf_counter()
    subprocess.run(command, check=True, capture_output=True)
    return time.perf_counter() - start


def mixing_error(store: Path) -> dict[str, float]:
    from features.mixing import mix_frames, mixing_domain
    from storage import open_store

    reader = open_store(str(store)).feature_set("logmel")
    domain = mixing_domain(reader.params)
    loud, everywhere = [], []
    for entry in reader.tracks():
        mix = reader.read_features(entry.track_id)
        stems = [reader.read_stem(entry.track_id, s.index)[0] for s in reader.stems() if s.track_id == entry.track_id]
        excluded = reader.stem_group(entry.track_id)["excluded"]
        if not stems or excluded:
            continue  # a left-out stem is missing from the sum
        error = np.abs(mix_frames(stems, [0.0] * len(stems), domain) - mix)
        loud.append(error[mix > -80.0])
        everywhere.append(error.ravel())
    loud_all, every = np.concatenate(loud), np.concatenate(everywhere)
    return {"songs": len(loud), "mean_db": float(loud_all.mean()), "p95_db": float(np.percentile(loud_all, 95)),
            "mean_db_all_bins": float(every.mean()), "p95_db_all_bins": float(np.percentile(every, 95))}


def training_rates(store: Path, *, steps: int, rounds: int, device: str = "cpu") -> dict[str, list[float]]:
    from training.augment import Augmenter
    from training.data import WindowDataset, make_loader
    from training.loop import remixing, resolve_device, train_one_epoch
    from training.config import TrainConfig
    from training.losses import MaskedLoss
    from training.registry import build_model
    from training.sampler import RandomWindowSampler
    from storage import open_store

    store_obj = open_store(str(store))
    reader = store_obj.feature_set("logmel")
    tracks = reader.tracks("train")
    base = WindowDataset(reader, track_ids=[t.track_id for t in tracks], n_frames=[t.n_frames for t in tracks],
                         window=128)
    device = resolve_device(device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    torch.manual_seed(0)
    model = build_model("crnn", n_classes=len(reader.classes), frame_shape=reader.frame_shape).to(device)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    run = dict(optimizer=optimizer, loss_fn=MaskedLoss().to(device), augment=Augmenter(()), device=device,
               grad_clip=5.0)
    loaders = {}
    for p in (0.0, 0.5, 1.0):
        sampler = RandomWindowSampler(base.n_frames, window=128, seed=1, repeats=[20] * len(base.n_frames))
        dataset = base
        if p > 0:
            config = TrainConfig(store=str(store), features="logmel", model="crnn", out="-", remix=p)
            dataset, sampler = remixing(config, reader, store_obj, base, sampler)
        sampler.set_epoch(1)
        loaders[p] = make_loader(dataset, sampler, batch_size=16, workers=0, device=device, drop_last=True)
    rates: dict[str, list[float]] = {f"remix={p:g}": [] for p in loaders}
    for _ in range(rounds):
        for p, loader in loaders.items():
            train_one_epoch(model, loader, max_steps=1, **run)
            sync()
            start = time.perf_counter()
            train_one_epoch(model, loader, max_steps=steps, **run)
            sync()
            rates[f"remix={p:g}"].append(steps * 16 * 128 / (time.perf_counter() - start))
    return rates


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=24)
    parser.add_argument("--seconds", type=float, default=20.0)
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--steps", type=int, default=30, help="timed training steps per phase")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--workers", type=int, default=2, help="rendering and extraction workers")
    parser.add_argument("--device", default="cpu", choices=("auto", "cpu", "cuda"), help="training device")
    parser.add_argument("--json", type=Path, default=None, help="also write the figures here")
    args = parser.parse_args(argv)

    from pipeline.demo import generate_corpus

    with tempfile.TemporaryDirectory() as tmp:
        corpus = Path(tmp) / "corpus"
        start = time.perf_counter()
        made = generate_corpus(corpus, layout="slakh", songs=args.songs, seconds=args.seconds, seed=args.seed,
                               workers=args.workers, progress=False)
        n_ok = sum("problem" not in song for song in made)
        print(f"corpus: {n_ok} songs x {args.seconds:g} s rendered in {time.perf_counter() - start:.1f} s")
        mix_times, stem_times = [], []
        for r in range(args.rounds):
            order = (False, True) if r % 2 == 0 else (True, False)
            for stems in order:
                target = Path(tmp) / f"store-{'stems' if stems else 'mix'}-{r}"
                (stem_times if stems else mix_times).append(extract(corpus, target, stems=stems, workers=args.workers) / n_ok)
        mix_s, stem_s = float(np.mean(mix_times)), float(np.mean(stem_times))
        print(f"extraction per song, CLI, {args.workers} workers: mix store {mix_s * 1000:.0f} ms, stem store "
              f"{stem_s * 1000:.0f} ms -> {stem_s / mix_s:.2f}x (target <= 2x; each round: mix "
              f"{', '.join(f'{t * 1000:.0f}' for t in mix_times)}, stems {', '.join(f'{t * 1000:.0f}' for t in stem_times)})")
        stem_store = Path(tmp) / "store-stems-0"
        error = mixing_error(stem_store)
        print(f"feature-domain mix vs the real mix, {error['songs']} songs: bins above -80 dB mean "
              f"{error['mean_db']:.3f} dB, p95 {error['p95_db']:.3f} dB; all bins mean {error['mean_db_all_bins']:.3f}"
              f" dB, p95 {error['p95_db_all_bins']:.3f} dB")
        rates = training_rates(stem_store, steps=args.steps, rounds=args.rounds, device=args.device)
        plain = float(np.mean(rates["remix=0"]))
        for name, values in rates.items():
            print(f"training {name}: {np.mean(values):,.0f} frames/s ({np.mean(values) / plain:.2f} of plain; each "
                  f"{', '.join(f'{v:,.0f}' for v in values)})")
    if args.json:
        figures = {"songs": n_ok, "seconds": args.seconds, "device": args.device,
                   "extract_mix_ms_per_song": round(mix_s * 1000), "extract_stems_ms_per_song": round(stem_s * 1000),
                   "stems_vs_mix": round(stem_s / mix_s, 2), "mix_error_mean_db": round(error["mean_db"], 4),
                   **{f"training_{name}_frames_per_s": round(float(np.mean(values))) for name, values in rates.items()},
                   **{f"training_{name}_vs_plain": round(float(np.mean(values)) / plain, 3)
                      for name, values in rates.items() if name != "remix=0"}}
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
