"""``instrec extract``: build or update a dataset's feature store."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TextIO

from features.choices import ACTIVITY_MODES, ACTIVITY_THRESHOLD_DB, FEATURE_SETS
from pipeline.arguments import non_negative_int, positive_float
from pipeline.musicnn_options import add_musicnn_arguments, musicnn_options_from_args
from pipeline.readers import DATASETS
from pipeline.track import InstrecError
from pipeline.vggish_options import add_vggish_arguments, build_feature_configs, vggish_options_from_args
from storage.options import add_endpoint_url


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``extract`` subcommand."""
    parser = subparsers.add_parser(
        "extract",
        help="extract feature sets of a dataset into a Zarr feature store (incremental)",
        description=(
            "Decode every track of a dataset once, compute the requested feature sets and write them "
            "with frame-aligned labels into the store at --store (a path or s3://bucket/path). Unchanged "
            "tracks are skipped, changed ones replaced, new ones appended; --prune removes tracks whose "
            "sources are gone. Runs on a local Dask cluster (--workers) or an existing one (--dask-address)."
        ),
    )
    parser.add_argument("root", metavar="ROOT", help="the dataset's folder")
    parser.add_argument("--dataset", required=True, choices=DATASETS, help="which reader to use")
    parser.add_argument("--store", required=True, metavar="URL", help="store path or fsspec URL")
    parser.add_argument("--features", default="logmel", metavar="SPEC[,SPEC...]",
                        help=f"comma-separated feature sets, each a name ({', '.join(FEATURE_SETS)}) with optional "
                             "parameters: logmel:n_mels=64,hop_length=256,scalogram")
    parser.add_argument("--workers", type=non_negative_int, default=2,
                        help="local Dask workers (threads); 0 = in-process")
    parser.add_argument("--dask-address", default=None, metavar="tcp://HOST:PORT",
                        help="use an existing Dask cluster (default: a local one with --workers)")
    parser.add_argument("--taxonomy", default=None,
                        help="class vocabulary; Slakh: inst_class (the default), program or slakh34")
    parser.add_argument("--prune", action="store_true", help="remove tracks whose sources are gone")
    add_endpoint_url(parser)
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument("--batch-seconds", type=positive_float, default=120.0, metavar="S",
                        help="audio per Dask task; smaller spreads a small run over more workers of a big cluster")
    parser.add_argument("--json", action="store_true", help="print the summary as JSON")
    parser.add_argument("--stems", action=argparse.BooleanOptionalAction, default=None,
                        help="also store every song's stems (same feature sets and frame grid, each with its "
                             "own activity) for remix training; datasets with stems only (aam, slakh, demo). "
                             "Default: what the store was built with (a new store: no stems)")
    parser.add_argument("--activity", choices=ACTIVITY_MODES, default=None,
                        help="frame labels from the MIDI notes (notes) or from each stem's own energy "
                             "(stem-energy, MedleyDB-style: drum decays and releases count). Default: what the "
                             "store was built with (a new store: notes)")
    parser.add_argument("--activity-threshold-db", type=positive_float, default=ACTIVITY_THRESHOLD_DB,
                        metavar="DB", help="stem-energy: active within this many dB of the stem's loud level")
    add_vggish_arguments(parser)
    add_musicnn_arguments(parser)
    parser.set_defaults(handler=run_extract)


STEM_DATASETS = ("aam", "slakh", "demo")


def run_extract(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    """Extract; exit 0 when every track is done or skipped, 1 when some failed."""
    from features.activity import ActivityConfig
    from pipeline.extraction.driver import extract_dataset, label_settings
    from pipeline.extraction.extract import FeatureTarget
    from pipeline.feature_specs import FeatureSpecError, split_feature_list
    from pipeline.readers import read_dataset
    from pipeline.readers.files import SourceHashCache
    from storage.options import storage_options

    out = out or sys.stdout
    try:
        names = split_feature_list(args.features)
    except FeatureSpecError as exc:
        raise InstrecError(f"--features: {exc}") from None
    if not names:
        raise InstrecError("--features is empty; name at least one feature set, e.g. --features logmel")
    options = vggish_options_from_args(args, storage_options=storage_options(endpoint_url=args.endpoint_url))
    configs = build_feature_configs(names, vggish=options, musicnn=musicnn_options_from_args(args))
    targets = [FeatureTarget.from_config(config) for config in configs]
    activity = None
    if args.activity is not None:
        try:
            activity = ActivityConfig(mode=args.activity, threshold_db=args.activity_threshold_db)
        except ValueError as exc:
            raise InstrecError(f"--activity: {exc}") from None
    stems, activity = label_settings(args.store, stems=args.stems, activity=activity,
                                     storage_options=storage_options(endpoint_url=args.endpoint_url))
    needs_stems = stems or activity.needs_stem_audio
    if needs_stems and args.dataset not in STEM_DATASETS:
        raise InstrecError(f"--stems / --activity stem-energy: {args.dataset} tracks have no stems; "
                           f"use them with {', '.join(STEM_DATASETS)} (or leave them out)")
    hash_cache = SourceHashCache()  # unchanged source files are not read again
    reader_options = {"stems": True} if needs_stems else {}
    tracks = read_dataset(args.dataset, args.root, taxonomy=args.taxonomy, hash_cache=hash_cache, **reader_options)
    summary = extract_dataset(
        tracks, args.store, targets=targets, workers=args.workers, dask_address=args.dask_address,
        prune=args.prune, storage_options=storage_options(endpoint_url=args.endpoint_url),
        progress=not args.no_progress, hash_cache=hash_cache, max_batch_seconds=args.batch_seconds,
        stems=stems, activity=activity,
    )
    out.write((json.dumps(summary.to_json(), indent=1) if args.json else summary.text()) + "\n")
    return 1 if summary.failed else 0
