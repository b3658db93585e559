"""``instrec demo``: the whole chain on the demo corpus, through the Prefect flows."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import MutableMapping


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="generate the demo corpus and run extract -> train -> evaluate through the flows",
        description="Render a demo corpus (and a held-out corpus with a soundfont training never "
                    "hears), build log-mel stores, train a model and write reports for the in-domain "
                    "test split and the unseen-soundfont corpus. Uses an ephemeral Prefect server "
                    "unless PREFECT_API_URL points at a running one.",
    )
    p.add_argument("--out", default="demo", help="folder for corpus, stores, runs and reports (default: demo)")
    p.add_argument("--songs", type=int, help="songs in the training corpus (default: the flow's, 160)")
    p.add_argument("--seconds", type=float, help="length of each training-corpus song (default: 10)")
    p.add_argument("--unseen-songs", type=int, help="songs in the held-out corpus (default: 24)")
    p.add_argument("--unseen-seconds", type=float, help="length of each held-out song (default: 20)")
    p.add_argument("--seed", type=int, help="seed of corpus and training (default: 0)")
    p.add_argument("--model", help="model to train (default: crnn)")
    p.add_argument("--epochs", type=int, help="maximum epochs (default: 40; early stopping may end sooner)")
    p.add_argument("--workers", type=int, help="Dask workers for extraction (default: 2)")
    p.set_defaults(handler=run_demo)


def demo_prefect_home(out: str, environ: MutableMapping[str, str]) -> None:
    """Keep the demo's ephemeral Prefect server database with the demo, not in ~/.prefect.

    Does nothing when the user chose a Prefect server (``PREFECT_API_URL``) or home
    (``PREFECT_HOME``).  The directory is created here, parents included: Prefect creates
    only the last level, and its server then fails with "unable to open database file".
    """
    if "PREFECT_API_URL" in environ or "PREFECT_HOME" in environ:
        return
    home = Path(out).resolve() / ".prefect"
    home.mkdir(parents=True, exist_ok=True)
    environ["PREFECT_HOME"] = str(home)


def run_demo(args: argparse.Namespace) -> int:
    import os

    demo_prefect_home(args.out, os.environ)
    from flows.demo import demo_pipeline

    names = ("songs", "seconds", "unseen_songs", "unseen_seconds", "seed", "model", "epochs", "workers")
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    summary = demo_pipeline(out=args.out, **given)  # unset options keep the flow's defaults
    print(json.dumps(summary, indent=1))
    print(f"\nreport: {summary['reports']['in_domain']}")
    return 0
