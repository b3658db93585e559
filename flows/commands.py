"""``instrec demo``: the whole chain on the demo corpus, through the Prefect flows."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import MutableMapping

from pipeline.arguments import positive_int


def register(subparsers: argparse._SubParsersAction) -> None:
    p = subparsers.add_parser(
        "demo", help="the leave-one-timbre-out recipe on a demo-sized corpus, through the flows",
        description="Render a training corpus (every stem from the training soundfonts) and a held-out "
                    "corpus (a soundfont training never hears), extract log-mel stores (stems for the "
                    "training corpus), train with the shipped model's recipe (models/recipes/gm-families.json) "
                    "at demo size, choosing epochs and thresholds on the held-out validation half, write "
                    "reports for both test splits and predict held-out songs with the shipped model. Uses "
                    "an ephemeral Prefect server unless PREFECT_API_URL points at a running one.",
    )
    p.add_argument("--out", default="demo", help="folder for corpora, stores, run and reports")
    p.add_argument("--songs", type=positive_int, help="songs in the training corpus (default: 160)")
    p.add_argument("--seed", type=int, help="seed of corpora and training (default: 0)")
    p.add_argument("--model", help="model to train (default: the recipe's)")
    p.add_argument("--epochs", type=positive_int, help="maximum epochs (default: 12; early stopping may end sooner)")
    p.add_argument("--workers", type=positive_int, help="rendering and extraction workers (default: 2)")
    p.set_defaults(handler=run_demo)


def demo_prefect_home(out: str, environ: MutableMapping[str, str]) -> None:
    """Keep the demo's ephemeral Prefect server database with the demo, not in ~/.prefect.

    Does nothing when the user chose a Prefect server (``PREFECT_API_URL``) or home
    (``PREFECT_HOME``).  The directory is created here, parents included: Prefect creates
    only the last level, and its server then fails with "unable to open database file".
    That throw-away server also sends no usage analytics (``PREFECT_SERVER_ANALYTICS_ENABLED``,
    unless set): offline, its attempt printed an ERROR line in every demo.
    """
    if "PREFECT_API_URL" in environ or "PREFECT_HOME" in environ:
        return
    home = Path(out).resolve() / ".prefect"
    home.mkdir(parents=True, exist_ok=True)
    environ["PREFECT_HOME"] = str(home)
    environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def run_demo(args: argparse.Namespace) -> int:
    import os

    demo_prefect_home(args.out, os.environ)
    from flows.demo import demo_pipeline

    names = ("songs", "seed", "model", "epochs", "workers")
    given = {name: getattr(args, name) for name in names if getattr(args, name) is not None}
    summary = demo_pipeline(out=args.out, **given)  # unset options keep the flow's defaults
    (Path(args.out) / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    from evaluation.protocol import markdown_tables

    # the flow's own prints go to its run log (the Prefect UI); the terminal gets them here
    print("\n" + markdown_tables(summary))
    print(f"in-domain test report:   {summary['reports']['in_domain']}")
    print(f"held-out-timbre report:  {summary['reports']['held_out']}  ({summary['held_out_soundfont']})")
    print(f"side-by-side comparison: {summary['comparison']}")
    if summary.get("predictions"):
        print(f"shipped model's predictions of {len(summary['predictions'])} held-out songs: "
              f"{Path(args.out) / 'predictions'}")
    print(f"summary: {Path(args.out) / 'summary.json'}")
    return 0
