"""``instrec demo``: the whole chain on the demo corpus, through the Prefect flows."""

from __future__ import annotations

import argparse
import json


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="generate the demo corpus and run extract -> train -> evaluate through the flows",
        description="Render a demo corpus (and a held-out corpus with a soundfont training never "
                    "hears), build log-mel stores, train a model and write reports for the in-domain "
                    "test split and the unseen-soundfont corpus. Uses an ephemeral Prefect server "
                    "unless PREFECT_API_URL points at a running one.",
    )
    p.add_argument("--out", default="demo", help="folder for corpus, stores, runs and reports (default: demo)")
    p.add_argument("--songs", type=int, default=40, help="songs in the training corpus (default: 40)")
    p.add_argument("--unseen-songs", type=int, default=12, help="songs in the held-out corpus (default: 12)")
    p.add_argument("--seconds", type=float, default=20.0, help="length of each song (default: 20)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--model", default="crnn", help="model to train (default: crnn)")
    p.add_argument("--epochs", type=int, default=25, help="maximum epochs (default: 25)")
    p.add_argument("--workers", type=int, default=2, help="Dask workers for extraction (default: 2)")
    p.set_defaults(handler=run_demo)


def run_demo(args: argparse.Namespace) -> int:
    from flows.demo import demo_pipeline

    summary = demo_pipeline(out=args.out, songs=args.songs, unseen_songs=args.unseen_songs,
                            seconds=args.seconds, seed=args.seed, model=args.model, epochs=args.epochs,
                            workers=args.workers)
    print(json.dumps(summary, indent=1))
    print(f"\nreport: {summary['reports']['in_domain']}")
    return 0
