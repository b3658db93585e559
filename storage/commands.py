"""``instrec store info|verify|export|log|expire|tag|rollback URL``."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from storage.options import add_endpoint_url


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``store`` command with its ``info`` and ``verify`` subcommands."""
    parser = subparsers.add_parser("store", help="inspect, check, export or expire a feature store",
                                   description="Inspect (info), check (verify), export, list the snapshots of (log) "
                                               "or expire old snapshots of (expire) a feature store.")
    sub = parser.add_subparsers(dest="store_command", metavar="SUBCOMMAND", required=True)
    info = sub.add_parser("info", help="print a JSON summary of a store",
                          description="Tracks per split, feature sets with parameters and frame counts, "
                                      "classes and label density per class, as JSON.")
    info.add_argument("url", metavar="URL", help="store path or fsspec URL")
    info.add_argument("--no-frame-density", action="store_true", help="skip reading frame labels")
    add_endpoint_url(info)
    info.set_defaults(handler=run_info)
    verify = sub.add_parser("verify", help="check a store's consistency; non-zero exit when broken",
                            description="Check the manifest of the latest snapshot (or --snapshot ID) against the arrays: "
                                        "shapes, frame counts, missing chunks, content and config hashes. Exit 0 "
                                        "when consistent, 1 otherwise.")
    verify.add_argument("url", metavar="URL", help="store path or fsspec URL")
    verify.add_argument("--deep", action="store_true",
                        help="also decode every chunk (checksums: each bad chunk is named) and read every frame "
                             "(NaN/Inf, 0/1 labels)")
    verify.add_argument("--repair", action="store_true",
                        help="restore a damaged manifest.json from the newest readable snapshot, delete uncommitted "
                             "versions and uncommit broken tracks (re-extract them after)")
    verify.add_argument("--snapshot", default=None, metavar="ID",
                        help="check this snapshot (id or tag from `instrec store log`); default: the latest")
    add_endpoint_url(verify)
    verify.set_defaults(handler=run_verify)
    export = sub.add_parser("export", help="write a split of a feature set as Parquet or NumPy (.npz)",
                            description="Every frame of the split's committed tracks with its track id, time, "
                                        "labels and label mask (storage/export.py; from Python, to='xarray' "
                                        "gives a lazy xarray.Dataset).")
    export.add_argument("url", metavar="URL", help="store path or fsspec URL")
    export.add_argument("--feature-set", default="logmel", help="feature set name or key")
    export.add_argument("--split", default=None, help="train, validation, test (default: every track)")
    export.add_argument("--out", required=True, help="file to write: .parquet, or .npz for NumPy")
    add_endpoint_url(export)
    export.add_argument("--snapshot", default=None, metavar="ID", help="export this snapshot (`instrec store log`); default: the latest")
    export.set_defaults(handler=run_export)
    log = sub.add_parser("log", help="list the snapshots the store keeps (id, time, tracks, run)",
                         description="Every snapshot the store keeps, oldest first: its id (what runs record in "
                                     "store.json; `instrec train --snapshot ID` reads it), commit time, generation, "
                                     "committed tracks per feature set and the run that committed it.")
    log.add_argument("url", metavar="URL", help="store path or fsspec URL")
    log.add_argument("--json", action="store_true", help="print JSON instead of a table")
    add_endpoint_url(log)
    log.set_defaults(handler=run_log)
    expire = sub.add_parser("expire", help="delete snapshots replaced long ago and the data only they refer to",
                            description="Delete every snapshot replaced more than DURATION ago (the latest is "
                                        "always kept), then every track version no kept snapshot refers to. Readers "
                                        "of an expired snapshot fail naming it. Takes the writer lock.")
    expire.add_argument("url", metavar="URL", help="store path or fsspec URL")
    expire.add_argument("--older-than", required=True, metavar="DURATION", type=_duration,
                        help="e.g. 7d, 12h, 30m, 0s (0s keeps only the latest snapshot)")
    add_endpoint_url(expire)
    expire.set_defaults(handler=run_expire)
    tag = sub.add_parser("tag", help="name a snapshot so that expiry keeps it (or remove the name)",
                         description="Name a snapshot (default: the latest); `store expire` never removes a tagged "
                                     "snapshot, and `--snapshot NAME` reads it (train, evaluate, export).")
    tag.add_argument("url", metavar="URL", help="store path or fsspec URL")
    tag.add_argument("name", metavar="NAME", help="letters, digits, '.', '_', '-' (e.g. paper-2026)")
    tag.add_argument("--snapshot", default=None, metavar="ID", help="the snapshot to name; default: the latest")
    tag.add_argument("--delete", action="store_true", help="remove the tag (the snapshot may then expire)")
    add_endpoint_url(tag)
    tag.set_defaults(handler=run_tag)
    rollback = sub.add_parser("rollback", help="make an older snapshot the latest again (a new commit)",
                              description="Commit a new snapshot holding exactly the tracks of SNAPSHOT (an id from "
                                          "`store log`, or a tag), e.g. to undo a bad re-extraction. Nothing is "
                                          "deleted: the snapshots in between stay until they expire.")
    rollback.add_argument("url", metavar="URL", help="store path or fsspec URL")
    rollback.add_argument("snapshot", metavar="SNAPSHOT", help="snapshot id or tag to return to")
    add_endpoint_url(rollback)
    rollback.set_defaults(handler=run_rollback)


def _duration(text: str) -> float:
    from storage.history import parse_duration

    try:
        return parse_duration(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _options(args: argparse.Namespace) -> dict | None:
    from storage.options import storage_options

    return storage_options(endpoint_url=args.endpoint_url)


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
    report = verify_store(args.url, storage_options=_options(args), deep=args.deep, repair=args.repair,
                          snapshot=args.snapshot)
    status = "OK" if report.ok else f"BROKEN ({len(report.problems)} problems)"
    out.write(f"{args.url}: {status}, {report.tracks_checked} committed track versions checked\n")
    for problem in report.problems:
        out.write(f"  problem: {problem}\n")
    for note in report.notes:
        out.write(f"  note: {note}\n")
    for line in report.repaired:
        out.write(f"  repaired: {line}\n")
    if not report.ok and args.snapshot is not None:
        out.write("  fix: `instrec store verify URL` checks the latest snapshot (`--repair` mends that one); "
                  "`instrec store log URL` lists the others\n")
    elif not report.ok and not args.repair:
        out.write("  fix: run `instrec store verify --repair URL`, then `instrec extract` again to recompute "
                  "the uncommitted tracks\n")
    return 0 if report.ok or (args.repair and report.repaired) else 1


def run_export(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from storage.export import export_split

    to = "numpy" if args.out.endswith(".npz") else "parquet"
    export_split(args.url, feature_set=args.feature_set, split=args.split, to=to, path=args.out,
                 storage_options=_options(args), snapshot=args.snapshot)
    (out or sys.stdout).write(f"{args.out}: {args.split or 'every'} split of {args.feature_set} ({to})\n")
    return 0


def run_log(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from storage.history import snapshot_log
    from storage.store import open_store

    out = out or sys.stdout
    store = open_store(args.url, storage_options=_options(args))
    entries = [entry.to_json() for entry in snapshot_log(store.location, store.manifest)]
    if args.json:
        out.write(json.dumps(entries, indent=1) + "\n")
        return 0
    out.write(f"{'snapshot':<18} {'committed (UTC)':<21} {'gen':>5}  {'tracks':<28} run\n")
    for e in entries:
        tracks = ", ".join(f"{key}: {n}" for key, n in e["tracks"].items()) or ("damaged" if e["damaged"] else "-")
        mark = "".join(f"  [{name}]" for name in e["tags"]) + ("  (latest)" if e["latest"] else "")
        out.write(f"{e['snapshot_id']:<18} {e['committed_at'] or '-':<21} {e['generation']:>5}  {tracks:<28} "
                  f"{e['run_id'] or '-'}{mark}\n")
    return 0


def run_expire(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from storage.history import expire_snapshots

    report = expire_snapshots(args.url, older_than_s=args.older_than, storage_options=_options(args))
    (out or sys.stdout).write(
        f"{args.url}: expired {len(report.expired)} snapshots, kept {len(report.kept)}; deleted "
        f"{len(report.deleted_versions)} track versions no kept snapshot refers to\n")
    return 0


def run_tag(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from storage.history import tag_snapshot

    target = tag_snapshot(args.url, args.name, snapshot=args.snapshot, delete=args.delete,
                          storage_options=_options(args))
    (out or sys.stdout).write(f"{args.url}: tag {args.name} removed\n" if args.delete else
                              f"{args.url}: tag {args.name} -> snapshot {target}\n")
    return 0


def run_rollback(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    from storage.store import open_store

    with open_store(args.url, mode="a", storage_options=_options(args)) as store:
        created = store.rollback(args.snapshot)
    (out or sys.stdout).write(f"{args.url}: snapshot {created} holds the tracks of {args.snapshot}\n")
    return 0
