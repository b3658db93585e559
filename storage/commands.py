"""``instrec store info URL``, ``instrec store verify URL`` and ``instrec store export URL``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``store`` command with its ``info`` and ``verify`` subcommands."""
    parser = subparsers.add_parser("store", help="inspect or check a feature store",
                                   description="Inspect (info) or check (verify) a feature store.")
    sub = parser.add_subparsers(dest="store_command", metavar="SUBCOMMAND", required=True)
    info = sub.add_parser("info", help="print a JSON summary of a store",
                          description="Tracks per split, feature sets with parameters and frame counts, "
                                      "classes and label density per class, as JSON.")
    info.add_argument("url", metavar="URL", help="store path or fsspec URL")
    info.add_argument("--no-frame-density", action="store_true", help="skip reading frame labels")
    info.add_argument("--endpoint-url", default=None, metavar="URL",
                      help="S3 endpoint (e.g. http://127.0.0.1:9000); default: AWS")
    info.set_defaults(handler=run_info)
    verify = sub.add_parser("verify", help="check a store's consistency; non-zero exit when broken",
                            description="Check the manifest against the arrays: shapes, frame counts, missing "
                                        "chunks, content and config hashes. Exit 0 when consistent, 1 otherwise.")
    verify.add_argument("url", metavar="URL", help="store path or fsspec URL")
    verify.add_argument("--deep", action="store_true", help="also read every frame (NaN/Inf, 0/1 labels)")
    verify.add_argument("--repair", action="store_true",
                        help="delete uncommitted versions and uncommit broken tracks (re-extract them after)")
    verify.add_argument("--endpoint-url", default=None, metavar="URL",
                        help="S3 endpoint (e.g. http://127.0.0.1:9000); default: AWS")
    verify.set_defaults(handler=run_verify)
    export = sub.add_parser("export", help="write a split of a feature set as Parquet or NumPy (.npz)",
                            description="Every frame of the split's committed tracks with its track id, time, "
                                        "labels and label mask (storage/export.py; from Python, to='xarray' "
                                        "gives a lazy xarray.Dataset).")
    export.add_argument("url", metavar="URL", help="store path or fsspec URL")
    export.add_argument("--feature-set", default="logmel", help="feature set name or key")
    export.add_argument("--split", default=None, help="train, validation, test (default: every track)")
    export.add_argument("--out", required=True, help="file to write: .parquet, or .npz for NumPy")
    export.add_argument("--endpoint-url", default=None, metavar="URL",
                        help="S3 endpoint (e.g. http://127.0.0.1:9000; default: AWS)")
    export.set_defaults(handler=run_export)


def _options(args: argparse.Namespace) -> dict | None:
    return {"client_kwargs": {"endpoint_url": args.endpoint_url}} if args.endpoint_url else None


def run_info(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from storage.info import store_info
    from storage.store import open_store

    store = open_store(args.url, storage_options=_options(args))
    info = store_info(store, frame_density=not args.no_frame_density)
    (out or sys.stdout).write(json.dumps(info, indent=1) + "\n")
    return 0


def run_verify(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from storage.verify import verify_store

    out = out or sys.stdout
    report = verify_store(args.url, storage_options=_options(args), deep=args.deep, repair=args.repair)
    status = "OK" if report.ok else f"BROKEN ({len(report.problems)} problems)"
    out.write(f"{args.url}: {status}, {report.tracks_checked} committed track versions checked\n")
    for problem in report.problems:
        out.write(f"  problem: {problem}\n")
    for note in report.notes:
        out.write(f"  note: {note}\n")
    for line in report.repaired:
        out.write(f"  repaired: {line}\n")
    if not report.ok and not args.repair:
        out.write("  fix: run `instrec store verify --repair URL`, then `instrec extract` again to recompute "
                  "the uncommitted tracks\n")
    return 0 if report.ok or (args.repair and report.repaired) else 1


def run_export(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from storage.export import export_split

    to = "numpy" if args.out.endswith(".npz") else "parquet"
    export_split(args.url, feature_set=args.feature_set, split=args.split, to=to, path=args.out,
                 storage_options=_options(args))
    (out or sys.stdout).write(f"{args.out}: {args.split or 'every'} split of {args.feature_set} ({to})\n")
    return 0
