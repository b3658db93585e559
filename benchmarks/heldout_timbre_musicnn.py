"""Held-out timbre with musicnn features: the leave-one-timbre-out protocol's corpora and evaluation.

Usage::

    python benchmarks/heldout_timbre_musicnn.py --out runs/timbre-musicnn --logmel-heads mlp   # the recipe's corpora
    python benchmarks/heldout_timbre_musicnn.py --out /tmp/t --songs 40 --held-out-songs 12 --epochs 5  # quick

The corpora are those of ``evaluation.protocol`` (``instrec recipe``), rendered here with the same
settings (sizes, seeds, sample sets, sound design):
``--songs`` x ``--seconds`` songs whose stems draw FluidR3_GM or MuseScore General, and
``--held-out-songs`` x ``--held-out-seconds`` rendered only with TimGM6mb (half validation: it
picks the epoch and tunes the thresholds; half test: reported, never used for a choice).  Their
stores (no stems, under ``--out/stores/``) hold log-mel, MTT musicnn ``max_pool`` at hop 62
(0.99 s frames) and the MTT taggram at hop 187 (musicnn's own patches; the zero-shot baseline of
``evaluation.zero_shot`` reads it).  Trained (seed ``--seed``, up to ``--epochs`` with early
stopping on the held-out validation split, then ``tune_after_training`` as the protocol does):
``attention-mil``, ``bilstm-attention`` and ``mlp`` on musicnn, and the ``--logmel-heads`` (e.g.
``mlp,attention-mil``) on log-mel: the same heads on the soundfont-only input.
Each run is evaluated on the in-domain and held-out test splits; the script prints the
headline scores beside the prior and zero-shot baselines and the per-family held-out F1, and
writes ``summary.json`` and an ``instrec compare`` page under ``--out/reports``.  Corpora,
stores and runs are reused when present (a changed setting re-renders).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

SCORES = ("frame.f1_micro", "frame.f1_macro", "frame.map_macro", "segment.f1_micro", "dominant.accuracy")
EMBEDDING = {"window": 16, "batch_size": 16, "lr": 1e-3, "augment": ("mixup",), "workers": 0}
LOGMEL = {"window": 128, "batch_size": 16, "lr": 1e-3, "augment": ("specaugment", "mixup"), "workers": 0}


def feature_targets() -> dict[str, object]:
    from features.registry import build_config
    from pipeline.extraction import FeatureTarget
    from pipeline.musicnn_options import MusicnnOptions, musicnn_config

    configs = {
        "logmel": build_config("logmel"),
        "musicnn": musicnn_config(MusicnnOptions(hop_frames=62)),
        "taggram": musicnn_config(MusicnnOptions(layer="taggram")),
    }
    return {name: FeatureTarget.from_config(config) for name, config in configs.items()}


def render_corpora(config, paths) -> None:
    """The protocol's two corpora (same sizes, seeds and sample sets), rendered once."""
    from evaluation.protocol import resolve_soundfont
    from pipeline.demo import generate_corpus

    jobs = ((paths.corpus, config.train_soundfonts, config.songs, config.seconds, config.seed),
            (paths.held_out, (config.held_out_soundfont,), config.held_out_songs, config.held_out_seconds,
             config.seed + 1000))
    for folder, fonts, songs, seconds, seed in jobs:
        settings = {"soundfonts": list(fonts), "songs": songs, "seconds": seconds, "seed": seed,
                    "sound_design": config.sound_design}
        marker = folder / "rendered.json"
        if marker.is_file() and json.loads(marker.read_text()) == settings:
            continue
        generate_corpus(folder, layout="slakh", songs=songs, seconds=seconds, seed=seed,
                        soundfonts=[resolve_soundfont(f) for f in fonts], sound_design=config.sound_design,
                        workers=config.workers)
        marker.write_text(json.dumps(settings) + "\n")


def build_stores(paths, targets: dict[str, object]) -> dict[str, str]:
    """Both corpora into their stores; the held-out songs split 50/50 into validation and test, as the
    protocol's ``held_out`` split ratios ``(0, 0.5, 0.5)`` say."""
    import dataclasses

    from pipeline.extraction import extract_dataset
    from pipeline.readers import read_dataset
    from pipeline.track import Track, deterministic_split

    stores = {"in_domain": str(paths.root / "stores" / "musicnn-corpus.zarr"),
              "held_out": str(paths.root / "stores" / "musicnn-held-out.zarr")}
    for corpus, store in ((paths.corpus, stores["in_domain"]), (paths.held_out, stores["held_out"])):
        started = time.perf_counter()
        tracks = list(read_dataset("demo", corpus))
        if corpus == paths.held_out:
            tracks = [dataclasses.replace(t, split=deterministic_split(t.track_id, (0.0, 0.5, 0.5)))
                      if isinstance(t, Track) else t for t in tracks]
        summary = extract_dataset(tracks, store, targets=list(targets.values()), workers=2, progress=False)
        print(f"{store}: {len(summary.done)} done, {len(summary.skipped)} unchanged, {len(summary.failed)} failed, "
              f"{summary.audio_seconds:.0f} s of audio in {time.perf_counter() - started:.0f} s", flush=True)
    return stores


def train_run(label: str, model: str, key: str, options: dict, *, stores: dict[str, str], out: Path,
              epochs: int, seed: int) -> Path:
    from evaluation.tune import tune_after_training
    from training.config import TrainConfig
    from training.loop import train

    run_dir = out / "runs" / label
    if (run_dir / "loss_curve.png").exists():  # written when training ends: a finished run
        return run_dir
    config = TrainConfig(store=stores["in_domain"], features=key, model=model, out=str(run_dir),
                         validation_store=stores["held_out"], device="cpu", seed=seed, epochs=epochs,
                         progress=False, **options)
    started = time.perf_counter()
    train(config)
    tune_after_training(config, run_dir)
    print(f"trained {label}: {time.perf_counter() - started:.0f} s", flush=True)
    return run_dir


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--songs", type=int, default=None, help="training corpus songs (default: the recipe's)")
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument("--held-out-songs", type=int, default=None)
    parser.add_argument("--held-out-seconds", type=float, default=None)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=40)
    parser.add_argument("--logmel-heads", default="", metavar="MODELS",
                        help="comma-separated models also trained on log-mel, e.g. mlp,attention-mil")
    args = parser.parse_args()
    from evaluation.compare import compare_reports
    from evaluation.evaluate import evaluate
    from evaluation.protocol import ProtocolConfig, ProtocolPaths, family_table, headline

    sizes = {"songs": args.songs, "seconds": args.seconds, "held_out_songs": args.held_out_songs,
             "held_out_seconds": args.held_out_seconds}
    config = ProtocolConfig(seed=args.seed, **{k: v for k, v in sizes.items() if v is not None})
    paths = ProtocolPaths(args.out)
    started = time.perf_counter()
    render_corpora(config, paths)
    print(f"corpora ready: {time.perf_counter() - started:.0f} s", flush=True)
    targets = feature_targets()
    stores = build_stores(paths, targets)
    keys = {name: target.spec.key for name, target in targets.items()}
    runs = {f"{m}-musicnn": (m, keys["musicnn"], EMBEDDING) for m in ("attention-mil", "bilstm-attention", "mlp")}
    runs |= {f"{m}-logmel": (m, keys["logmel"], LOGMEL) for m in filter(None, args.logmel_heads.split(","))}
    summary: dict[str, dict] = {}
    reports = []
    for label, (model, key, options) in runs.items():
        run_dir = train_run(label, model, key, options, stores=stores, out=args.out, epochs=args.epochs, seed=args.seed)
        metrics = {}
        for where in ("in_domain", "held_out"):
            report = paths.reports / label / where.replace("_", "-")
            metrics[where] = evaluate(stores[where], run_dir, "test", report)
            reports.append(report)
        summary[label] = {
            "features": key,
            "headline": {w: headline(m) | {"zero_shot": {k: m.get("zero_shot." + k) for k in SCORES}} for w, m in metrics.items()},
            "families": family_table(metrics["in_domain"], metrics["held_out"]),
            "zero_shot_info": {w: m.get("zero_shot_info") for w, m in metrics.items()},
        }
    paths.reports.mkdir(parents=True, exist_ok=True)
    (paths.reports / "summary.json").write_text(json.dumps({"recipe": config.to_json(), "runs": summary}, indent=1) + "\n")
    compare = compare_reports(reports, paths.reports / "comparison")
    print_tables(summary)
    print(f"\ncomparison: {compare}; total {time.perf_counter() - started:.0f} s")


def print_tables(summary: dict[str, dict]) -> None:
    def cell(value) -> str:
        return "n/a" if value is None else f"{value:.3f}"

    print("\n| run | split | " + " | ".join(SCORES) + " |")
    print("|---|---|" + "---|" * len(SCORES))
    for label, doc in summary.items():
        for where, head in doc["headline"].items():
            print(f"| {label} | {where} | " + " | ".join(cell(head[s]["model"]) for s in SCORES) + " |")
            print(f"| prior baseline | {where} | " + " | ".join(cell(head[s]["prior"]) for s in SCORES) + " |")
            print(f"| zero-shot (tagged classes) | {where} | " + " | ".join(cell(head["zero_shot"][s]) for s in SCORES) + " |")
    print("\n| family | " + " | ".join(f"{label} held-out F1" for label in summary) + " | prior |")
    print("|---|" + "---|" * (len(summary) + 1))
    first = next(iter(summary.values()))["families"]
    for i, row in enumerate(first):
        cells = [cell(doc["families"][i]["held_out_f1"]) for doc in summary.values()]
        print(f"| {row['class']} | " + " | ".join(cells) + f" | {cell(row['held_out_prior_f1'])} |")


if __name__ == "__main__":
    main()
