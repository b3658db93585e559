"""``instrec demo-corpus``: build the embedded demo dataset."""

from __future__ import annotations

import argparse
import json
import sys
import time

from pipeline.arguments import positive_float, positive_int
from pipeline.demo.choices import LAYOUTS, SOUNDFONT_ENV, SOUNDFONT_SPLITS


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``demo-corpus`` subcommand."""
    parser = subparsers.add_parser(
        "demo-corpus",
        help="generate and render a multitrack demo corpus (AAM or Slakh layout)",
        description=(
            "Compose random but musical songs (2-9 parts, generative or built on real pieces from "
            "music21's corpus), render every stem with its own soundfont and GM program "
            "(FluidSynth), pass it through its own effect chain, and write the songs with "
            "annotations in the on-disk layout of AAM or Slakh2100. The same seed gives the same "
            "corpus. Every stem's soundfont, program and sound design and the song's mix bus are "
            "recorded in <id>_render.json (AAM) or render.json (Slakh track folder)."
        ),
    )
    parser.add_argument("out", metavar="OUT", help="folder to write the corpus to")
    parser.add_argument("--layout", choices=LAYOUTS, default="aam", help="on-disk layout")
    parser.add_argument("--songs", type=positive_int, default=40, help="number of songs")
    parser.add_argument("--seconds", type=positive_float, default=20.0, help="length of each song")
    parser.add_argument("--seed", type=int, default=0, help="random seed")
    parser.add_argument(
        "--soundfont",
        action="append",
        metavar="SF2",
        help=f"soundfont to render with; repeat for several (default: all found: ${SOUNDFONT_ENV}, "
        "pretty_midi's TimGM6mb.sf2, the system's FluidR3_GM.sf2)",
    )
    parser.add_argument(
        "--soundfont-split",
        choices=SOUNDFONT_SPLITS,
        default="stem",
        help="how stems get soundfonts: stem (each stem draws its own), holdout (test-split songs "
        "use only the last soundfont, every other stem draws from the rest), cycle (all stems of "
        "song i use soundfont i %% n) or random (one drawn per song)",
    )
    parser.add_argument(
        "--effects",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="song mix bus: random stem gains, EQ and bus reverb",
    )
    parser.add_argument(
        "--sound-design",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="per-stem effect chain (filters, EQ, compression, saturation, chorus, phaser, reverb) "
        "and resampling shift",
    )
    parser.add_argument("--sr", type=positive_int, default=22050, help="sample rate in Hz")
    parser.add_argument("--workers", type=positive_int, default=2, help="groups of songs rendered in parallel")
    parser.add_argument("--split-ratios", type=_ratios, default="0.8,0.1,0.1", metavar="TRAIN,VAL,TEST",
                        help="shares of the deterministic split by track id (a held-out corpus for validation "
                             "and test only: 0,0.5,0.5)")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.set_defaults(handler=run_demo_corpus)


def _ratios(text: str) -> tuple[float, float, float]:
    try:
        values = tuple(float(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected three numbers like 0.8,0.1,0.1, got {text!r}") from None
    if len(values) != 3:
        raise argparse.ArgumentTypeError(f"expected three numbers (train, validation, test), got {text!r}")
    return values


def run_demo_corpus(args: argparse.Namespace) -> int:
    """Build the corpus; print one JSON line per song; exit 1 when any song failed."""
    from pipeline.demo.corpus import generate_corpus

    started = time.monotonic()
    infos = generate_corpus(
        args.out,
        layout=args.layout,
        songs=args.songs,
        seconds=args.seconds,
        seed=args.seed,
        soundfonts=args.soundfont,
        soundfont_split=args.soundfont_split,
        effects=args.effects,
        sound_design=args.sound_design,
        sr=args.sr,
        workers=args.workers,
        split_ratios=args.split_ratios,
        progress=not args.no_progress,
    )
    for info in infos:
        print(json.dumps(info, sort_keys=True))
    problems = [info["problem"] for info in infos if "problem" in info]
    classes = sorted({label for info in infos if "problem" not in info for label in info["instruments"]})
    print(
        f"demo-corpus: wrote {len(infos) - len(problems)} of {len(infos)} songs ({args.layout} layout, "
        f"{len(classes)} instrument classes) to {args.out} in {time.monotonic() - started:.1f} s",
        file=sys.stderr,
    )
    for problem in problems:
        print(f"demo-corpus: skipped {problem}", file=sys.stderr)
    return 1 if problems else 0
