"""Held-out timbre: log-mel CRNN vs embedding models on musicnn features, unseen soundfont.

Usage::

    python benchmarks/heldout_timbre_musicnn.py --out /tmp/heldout          # the demo's corpus sizes
    python benchmarks/heldout_timbre_musicnn.py --out /tmp/heldout --songs 40 --epochs 10   # quick

The corpora are the ``make demo`` ones (``flows/demo.py``): ``--songs`` x ``--seconds`` Slakh-layout
songs rendered with FluidR3_GM and MuseScore General (seed ``--seed``), and ``--unseen-songs`` x
``--unseen-seconds`` rendered with TimGM6mb, which training never hears (seed + 1000).  Into
both stores go log-mel (the default preset), MTT musicnn ``max_pool`` at hop 62 (0.99 s frames)
and at hop 187 (musicnn's own 2.99 s patches), and the MTT taggram at hop 187 (for the zero-shot
baseline of ``evaluation.zero_shot``, when that is present).  Trained (seed ``--seed``): the demo's
``crnn`` on log-mel with the demo's settings (``flows.demo.DEMO_TRAINING``); ``attention-mil``,
``bilstm-attention`` and ``mlp`` on musicnn hop 62; ``attention-mil`` on musicnn hop 187.  Each
run is evaluated on the in-domain test split and on the whole unseen corpus; the script prints
the demo's headline scores (segment F1 on 1 s segments, 3 s for the 2.99 s grid) with the prior baseline (and the zero-shot baseline where reported),
writes ``table.json`` and a side-by-side ``instrec compare`` page under ``--out``.  Everything
runs on the CPU; existing corpora, stores and runs under ``--out`` are reused.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

SCORES = ("frame@micro.f1_micro", "frame.f1_macro", "frame.map_macro", "segment@micro.f1_micro",
          "dominant.accuracy")
EMBEDDING_TRAINING = ["--batch-size", "16", "--lr", "1e-3", "--augment", "mixup", "--workers", "0"]


def render(out: Path, *, songs: int, seconds: float, seed: int, soundfonts: list[str]) -> Path:
    from pipeline.demo import generate_corpus

    if not (out / "render.done").exists():
        generate_corpus(out, layout="slakh", songs=songs, seconds=seconds, seed=seed, soundfonts=soundfonts,
                        effects=True, workers=2)
        (out / "render.done").write_text("ok\n")
    return out


def feature_targets() -> dict[str, object]:
    from features.registry import build_config
    from pipeline.extraction import FeatureTarget
    from pipeline.musicnn_options import MusicnnOptions, musicnn_config

    configs = {
        "logmel": build_config("logmel"),
        "musicnn-h62": musicnn_config(MusicnnOptions(hop_frames=62)),
        "musicnn-h187": musicnn_config(MusicnnOptions()),
        "musicnn-taggram": musicnn_config(MusicnnOptions(layer="taggram")),
    }
    return {name: FeatureTarget.from_config(config) for name, config in configs.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--songs", type=int, default=160)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--unseen-songs", type=int, default=24)
    parser.add_argument("--unseen-seconds", type=float, default=20.0)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--epochs", type=int, default=40)
    args = parser.parse_args()
    from evaluation.compare import compare_reports
    from evaluation.evaluate import evaluate
    from flows.demo import DEMO_TRAINING
    from pipeline.cli import main as cli
    from pipeline.demo.render import find_soundfonts
    from pipeline.extraction import extract_dataset
    from pipeline.readers import read_dataset

    started = time.perf_counter()
    fonts = [str(p) for p in find_soundfonts()]
    held = next(f for f in fonts if Path(f).name.lower().startswith("timgm6mb"))
    corpus = render(args.out / "corpus", songs=args.songs, seconds=args.seconds, seed=args.seed,
                    soundfonts=[f for f in fonts if f != held])
    unseen = render(args.out / "unseen", songs=args.unseen_songs, seconds=args.unseen_seconds,
                    seed=args.seed + 1000, soundfonts=[held])
    print(f"rendered: {time.perf_counter() - started:.0f} s", flush=True)
    targets = feature_targets()
    stores = {"in_domain": args.out / "stores" / "corpus.zarr", "unseen": args.out / "stores" / "unseen.zarr"}
    for root, store in ((corpus, stores["in_domain"]), (unseen, stores["unseen"])):
        t0 = time.perf_counter()
        summary = extract_dataset(read_dataset("slakh", root), str(store), targets=list(targets.values()),
                                  workers=2, progress=False)
        print(f"extracted {store.name}: {len(summary.done)} done, {len(summary.failed)} failed, "
              f"{time.perf_counter() - t0:.0f} s", flush=True)
    keys = {name: target.spec.key for name, target in targets.items()}
    runs = {
        "crnn / logmel": ("crnn", keys["logmel"], ["--window", str(DEMO_TRAINING["window"]),
                          "--batch-size", str(DEMO_TRAINING["batch_size"]), "--lr", str(DEMO_TRAINING["lr"]),
                          "--augment", ",".join(DEMO_TRAINING["augment"])]),
        "attention-mil / musicnn h62": ("attention-mil", keys["musicnn-h62"], ["--window", "16", *EMBEDDING_TRAINING]),
        "bilstm-attention / musicnn h62": ("bilstm-attention", keys["musicnn-h62"], ["--window", "16", *EMBEDDING_TRAINING]),
        "mlp / musicnn h62": ("mlp", keys["musicnn-h62"], ["--window", "16", *EMBEDDING_TRAINING]),
        "attention-mil / musicnn h187": ("attention-mil", keys["musicnn-h187"], ["--window", "8", *EMBEDDING_TRAINING]),
    }
    table: dict[str, dict[str, dict]] = {}
    reports = []
    for label, (model, key, options) in runs.items():
        run_dir = args.out / "runs" / label.replace(" / ", "-").replace(" ", "-")
        if not (run_dir / "metrics.jsonl").exists():
            t0 = time.perf_counter()
            code = cli(["train", "--store", str(stores["in_domain"]), "--features", key, "--model", model,
                        "--out", str(run_dir), "--epochs", str(args.epochs), "--seed", str(args.seed),
                        "--device", "cpu", "--no-progress", *options])
            assert code == 0, label
            print(f"trained {label}: {time.perf_counter() - t0:.0f} s", flush=True)
        table[label] = {}
        for where, split in (("in_domain", "test"), ("unseen", "all")):
            report = args.out / "reports" / f"{run_dir.name}-{where}"
            # 1 s segments need frames of at most 1 s: musicnn's own 2.99 s grid is scored on 3 s segments
            segment_s = 3.0 if "h187" in label else 1.0
            metrics = evaluate(str(stores[where]), run_dir, split=split, out=report, segment_s=segment_s)
            reports.append(report)
            table[label][where] = {k: metrics.get(k) for k in metrics if k.split(".")[0].split("@")[0] in (
                "frame", "segment", "dominant", "baseline", "zero_shot") and not isinstance(metrics[k], (dict, list))}
    (args.out / "table.json").write_text(json.dumps(table, indent=1) + "\n")
    compare = compare_reports(reports, args.out / "reports" / "comparison")
    print(f"\n{'run':34s} " + " ".join(f"{s:>22s}" for s in SCORES))
    for where in ("in_domain", "unseen"):
        print(f"-- {where}")
        grids_done = set()
        for label, (_, key, _) in runs.items():
            rows = table[label][where]
            print(f"{label:34s} " + " ".join(_cell(rows.get(s)) for s in SCORES))
            if key in grids_done:
                continue
            grids_done.add(key)
            for baseline in ("baseline", "zero_shot"):
                keyed = [f"{baseline}.{s.split('.')[0].split('@')[0]}.{s.split('.', 1)[1]}" for s in SCORES]
                if any(k in rows for k in keyed):
                    name = f"  {baseline.replace('_', '-')} ({label.split(' / ')[1]} grid)"
                    print(f"{name:34s} " + " ".join(_cell(rows.get(k)) for k in keyed))
    print(f"\ncomparison: {compare}; total {time.perf_counter() - started:.0f} s")


def _cell(value) -> str:
    return f"{'n/a':>22s}" if value is None else f"{value:22.3f}"


if __name__ == "__main__":
    main()
