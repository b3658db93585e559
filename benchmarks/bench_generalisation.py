"""What moves held-out-timbre scores: an ablation on the leave-one-timbre-out protocol.

The corpora and stores of ``evaluation.protocol`` (``instrec recipe``): ``--songs`` x ``--seconds``
songs whose every stem draws FluidR3_GM or MuseScore General (and a random program of its family,
and a random sound-design chain), and ``--held-out-songs`` rendered only with TimGM6mb (half
validation: picks the epoch and tunes the decision rule; half test: reported, never used for a
choice). Each variant trains on the same stores with the same budget and seed, is evaluated on
the in-domain and the held-out test split, and the script prints one Markdown table (headline
scores beside the prior baseline) and each variant's per-family table.

Variants (``--variants``, comma-separated):

* ``crnn``, ``crnn-remix``: the ``crnn`` without / with ``--remix 0.5``;
* ``panns``, ``panns-remix``: the ``panns`` (the shipped model's architecture) without / with remix;
* ``crnn-remix-dry``: ``crnn-remix`` on a second corpus rendered without the sound-design chain
  (same songs and sample sets, dry stems), evaluated on the same held-out store;
* ``crnn-remix-energy``: ``crnn-remix`` on stores of the same corpora labelled by stem energy
  (``--activity stem-energy``: a class is active where its stem is audible) instead of notes;
  scored on the held-out songs labelled by stem energy and, as ``held_out_notes``, by notes.

Usage::

    python benchmarks/bench_generalisation.py --root runs/ablation               # the figures in README
    python benchmarks/bench_generalisation.py --root /tmp/a --songs 24 --held-out-songs 8 \\
        --seconds 6 --steps 5 --epochs 2 --variants crnn,crnn-remix              # a quick check

Corpora, stores and finished variants are reused when present (``--force`` retrains).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import time
from pathlib import Path
from typing import Any

from evaluation.protocol import (
    HEADLINE, ProtocolConfig, ProtocolPaths, build_stores, evaluate_recipe, markdown_tables, render_corpora,
    train_recipe,
)

BUDGET = {"epochs": 20, "patience": 6, "steps_per_epoch": 100, "window": 128, "batch_size": 16,
          "augment": ["specaugment", "noise", "eq"]}
VARIANTS: dict[str, dict[str, Any]] = {
    "crnn": {"model": "crnn", "lr": 3e-3, "remix": 0.0},
    "crnn-remix": {"model": "crnn", "lr": 3e-3, "remix": 0.5},
    "panns": {"model": "panns", "lr": 2e-3, "remix": 0.0},
    "panns-remix": {"model": "panns", "lr": 2e-3, "remix": 0.5},
    "crnn-remix-dry": {"model": "crnn", "lr": 3e-3, "remix": 0.5},
    "crnn-remix-energy": {"model": "crnn", "lr": 3e-3, "remix": 0.5},
}
DRY = {"crnn-remix-dry"}
ENERGY = {"crnn-remix-energy"}


@dataclasses.dataclass(frozen=True)
class DryPaths(ProtocolPaths):
    """A second training corpus and store under ``root``; the held-out corpus and store of ``shared``."""

    shared: ProtocolPaths | None = None

    held_out = property(lambda self: self.shared.held_out)
    held_out_store = property(lambda self: self.shared.held_out_store)


@dataclasses.dataclass(frozen=True)
class EnergyPaths(ProtocolPaths):
    """Stores under ``root`` made from the corpora of ``shared`` (other labels, same audio)."""

    shared: ProtocolPaths | None = None

    corpus = property(lambda self: self.shared.corpus)
    held_out = property(lambda self: self.shared.held_out)


def run_variant(name: str, base: ProtocolConfig, paths: ProtocolPaths, others: dict[str, ProtocolPaths],
                budget: dict[str, Any], device: str, force: bool) -> dict[str, Any]:
    reports = paths.root / "reports" / name
    summary_file = reports / "summary.json"
    if summary_file.exists() and not force:
        return json.loads(summary_file.read_text())
    config = dataclasses.replace(base, training={**budget, **VARIANTS[name]})
    train_paths = others.get(name, paths)
    start = time.perf_counter()
    run_dir = train_recipe(config, train_paths, device=device, run_dir=paths.root / "runs" / name)
    train_s = time.perf_counter() - start
    summary = evaluate_recipe(config, train_paths, run_dir, reports_dir=reports)
    if name in ENERGY:  # the same model on the held-out songs labelled by notes, as every other variant
        from evaluation.evaluate import evaluate
        from evaluation.protocol import headline

        notes = evaluate(str(paths.held_out_store), run_dir, "test", reports / "held-out-notes")
        summary["headline"]["held_out_notes"] = headline(notes)
    summary["train_s"] = round(train_s, 1)
    summary_file.write_text(json.dumps(summary, indent=1) + "\n")
    return summary


def ablation_table(summaries: dict[str, dict[str, Any]]) -> str:
    keys = [k for k in HEADLINE if k != "segment.f1_micro"]
    lines = ["| variant | " + " | ".join(f"held-out {k}" for k in keys)
             + " | its held-out prior micro | in-domain frame.f1_micro | train s |",
             "|---|" + "---|" * (len(keys) + 3)]
    prior: dict[str, Any] = {}
    rows = [(name, summary, "held_out") for name, summary in summaries.items()]
    rows += [(f"{name} (held-out labelled by notes)", summary, "held_out_notes")
             for name, summary in summaries.items() if "held_out_notes" in summary["headline"]]
    for name, summary, scored_on in rows:
        held, ind = summary["headline"][scored_on], summary["headline"]["in_domain"]
        if not prior:  # the prior row: the first variant's (labels by notes, like every variant's)
            prior = {k: held[k]["prior"] for k in keys} | {"in": ind["frame.f1_micro"]["prior"]}
        cells = []
        for k in keys:
            model = held[k]["model"]
            text = "n/a" if model is None else f"{model:.3f}"
            if model is not None and held[k]["prior"] is not None and model <= held[k]["prior"]:
                text = f'<span style="color:red">{text} (not above the baseline)</span>'
            cells.append(text)
        own_prior = held["frame.f1_micro"]["prior"]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {'n/a' if own_prior is None else f'{own_prior:.3f}'} | "
                     f"{ind['frame.f1_micro']['model']:.3f} | "
                     f"{summary.get('train_s', 0):.0f} |")
    if prior:
        lines.append("| prior baseline | " + " | ".join("n/a" if prior[k] is None else f"{prior[k]:.3f}" for k in keys)
                     + f" | | {prior['in']:.3f} | |")
    return "\n".join(lines) + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True)
    parser.add_argument("--songs", type=int, default=240)
    parser.add_argument("--seconds", type=float, default=15.0)
    parser.add_argument("--held-out-songs", type=int, default=48)
    parser.add_argument("--variants", default="crnn,crnn-remix,panns,panns-remix,crnn-remix-dry")
    parser.add_argument("--epochs", type=int, default=BUDGET["epochs"])
    parser.add_argument("--steps", type=int, default=BUDGET["steps_per_epoch"])
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--force", action="store_true")
    args = parser.parse_args()
    names = [n for n in args.variants.split(",") if n]
    unknown = sorted(set(names) - set(VARIANTS))
    if unknown:
        parser.error(f"unknown variants {unknown}; known: {sorted(VARIANTS)}")
    budget = {**BUDGET, "epochs": args.epochs, "steps_per_epoch": args.steps}
    base = ProtocolConfig(songs=args.songs, seconds=args.seconds, held_out_songs=args.held_out_songs,
                          held_out_seconds=args.seconds, workers=args.workers)
    paths = ProtocolPaths(args.root)
    render_corpora(base, paths)
    build_stores(base, paths)
    others: dict[str, ProtocolPaths] = {}
    for name in names:
        if name in DRY:
            others[name] = DryPaths(args.root / "dry", shared=paths)
            dry_config = dataclasses.replace(base, sound_design=False)
            render_corpora(dry_config, others[name], parts=("corpus",))
            build_stores(dry_config, others[name], parts=("corpus",))
        if name in ENERGY:
            others[name] = EnergyPaths(args.root / "energy", shared=paths)
            build_stores(dataclasses.replace(base, activity="stem-energy"), others[name])
    summaries = {name: run_variant(name, base, paths, others, budget, args.device, args.force) for name in names}
    table = ablation_table(summaries)
    print(table)
    for name, summary in summaries.items():
        print(f"\n### {name}\n\n{markdown_tables(summary)}")
    (args.root / "ablation.md").write_text(table)


if __name__ == "__main__":
    main()
