"""``instrec evaluate``, ``instrec compare`` and ``instrec predict``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from evaluation.evaluate import SPLIT_CHOICES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the evaluation subcommands to the ``instrec`` parser."""
    p = subparsers.add_parser(
        "evaluate", help="score a trained run on a store split and write metrics.json + report.html",
        description="Score a run on a feature store split. Thresholds are tuned on the store's validation "
                    "split (saved with the run) unless the reported split includes it.",
    )
    p.add_argument("--store", required=True, help="store URL (local path or s3://...)")
    p.add_argument("--run", required=True, type=Path, help="run directory written by `instrec train`")
    p.add_argument("--split", default="test", choices=SPLIT_CHOICES)
    p.add_argument("--out", required=True, type=Path, help="report directory to write")
    p.add_argument("--endpoint-url", default=None, help="S3 endpoint (MinIO, moto) for s3:// stores")
    p.add_argument("--smoothing", type=float, default=0.5, metavar="SECONDS",
                   help="median filter length for the +smooth variants (0: off; default 0.5)")
    p.add_argument("--segment", type=float, default=1.0, metavar="SECONDS", help="segment length (default 1)")
    p.add_argument("--no-tune", action="store_true", help="use the run's saved thresholds as they are")
    p.add_argument("--no-save-thresholds", action="store_true", help="tune, but do not write them to the run")
    p.add_argument("--track-plots", type=int, default=4, help="how many per-track plots (default 4)")
    p.set_defaults(handler=_evaluate)

    p = subparsers.add_parser("compare", help="put several evaluation reports side by side")
    p.add_argument("reports", nargs="+", type=Path, metavar="REPORT", help="report directories")
    p.add_argument("--out", required=True, type=Path)
    p.set_defaults(handler=_compare)

    p = subparsers.add_parser(
        "predict", help="detect instruments in audio files with one or more runs",
        description="Per song: a JSON with activation summary, segments and dominant instrument, and a PNG "
                    "timeline; several --run options compare runs on the same songs.",
    )
    p.add_argument("audio", nargs="+", type=Path, metavar="AUDIO", help="WAV/FLAC/OGG/MP3 files")
    p.add_argument("--run", required=True, action="append", type=Path, dest="runs",
                   help="run directory (repeat to compare runs)")
    p.add_argument("--out", required=True, type=Path)
    p.add_argument("--smoothing", type=float, default=0.5, metavar="SECONDS")
    p.add_argument("--min-duration", type=float, default=0.0, metavar="SECONDS",
                   help="drop segments shorter than this")
    p.add_argument("--thresholds", choices=("per-class", "micro"), default="per-class",
                   help="per-class: each class's F1-optimal threshold (best macro F1); micro: one threshold for "
                        "all classes, tuned for micro F1 (fewer false alarms on rare classes). Both are tuned by "
                        "`instrec evaluate` on the validation split (default: per-class)")
    p.set_defaults(handler=_predict)


def _evaluate(args: argparse.Namespace) -> int:
    from evaluation.evaluate import evaluate

    options = {"client_kwargs": {"endpoint_url": args.endpoint_url}} if args.endpoint_url else None
    metrics = evaluate(args.store, args.run, args.split, args.out, storage_options=options,
                       tune=not args.no_tune, save_thresholds=not args.no_save_thresholds,
                       smoothing_s=args.smoothing, segment_s=args.segment, n_track_plots=args.track_plots)
    headline = {k: metrics.get(k) for k in ("frame.f1_micro", "frame@micro.f1_micro", "frame.f1_macro", "frame.map_macro",
                                            "segment.f1_micro", "dominant.accuracy")}
    print(json.dumps({k: None if v is None or v != v else round(float(v), 4) for k, v in headline.items()}))
    print(f"report: {Path(args.out) / 'report.html'}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from evaluation.compare import compare_reports

    print(f"comparison: {compare_reports(args.reports, args.out)}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from evaluation.predict import predict_files

    result = predict_files(args.audio, args.runs, args.out, smoothing_s=args.smoothing,
                           min_duration_s=args.min_duration, thresholds=args.thresholds)
    for path in result["written"]:
        print(path)
    for problem in result["problems"]:
        print(f"skipped: {problem}")
    return 1 if result["problems"] else 0
