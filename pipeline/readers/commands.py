"""``instrec manifest``: list a dataset's tracks as JSON lines."""

from __future__ import annotations

import argparse
import json
import os
import sys
from typing import TextIO

from pipeline.arguments import non_negative_float
from pipeline.readers import DATASETS, read_dataset
from pipeline.track import DatasetError, TrackProblem


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``manifest`` subcommand."""
    parser = subparsers.add_parser(
        "manifest",
        help="print one JSON object per track of a dataset (JSON lines)",
        description=(
            "Read a dataset and print one JSON object per track on stdout (track_id, audio, "
            "duration, split, classes, events, clip_labels, clip_mask, dominant, ...). "
            "Tracks that cannot be read are listed with the file and the reason on stderr."
        ),
    )
    parser.add_argument("root", metavar="ROOT", help="the dataset's folder")
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="which reader to use")
    parser.add_argument(
        "--taxonomy",
        default=None,
        help="class vocabulary; Slakh: inst_class (default), program or slakh34",
    )
    parser.add_argument(
        "--min-event-s", type=non_negative_float, default=None, metavar="S",
        help="drop events shorter than S seconds (AAM, Slakh; off by default)",
    )
    parser.add_argument(
        "--merge-gap-s", type=non_negative_float, default=None, metavar="S",
        help="close gaps shorter than S seconds between events of one class (AAM, Slakh; off by default)",
    )
    parser.set_defaults(handler=run_manifest)


def run_manifest(args: argparse.Namespace, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Write the manifest; 0 when at least one track was read, 1 when none could be."""
    out = out or sys.stdout
    err = err or sys.stderr
    options = {
        name: value
        for name, value in (("min_event_s", args.min_event_s), ("merge_gap_s", args.merge_gap_s))
        if value is not None
    }
    tracks = 0
    problems: list[TrackProblem] = []
    try:
        for item in read_dataset(args.dataset, args.root, taxonomy=args.taxonomy, **options):
            if isinstance(item, TrackProblem):
                problems.append(item)
                continue
            out.write(json.dumps(item.to_json()) + "\n")
            tracks += 1
        out.flush()
    except BrokenPipeError:  # the reader of stdout went away (`instrec manifest ... | head`)
        if out is sys.stdout:
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    if problems:
        print(f"instrec manifest: skipped {len(problems)} track(s):", file=err)
        for problem in problems:
            print(f"  {problem.track_id}: {problem}", file=err)
    if tracks == 0:
        raise DatasetError(f"{args.root}: no {args.dataset} track could be read (see the skipped tracks above)")
    print(f"instrec manifest: {tracks} track(s) read, {len(problems)} skipped", file=err)
    return 0
