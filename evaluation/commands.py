"""``instrec evaluate``, ``instrec compare`` and ``instrec predict``."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from evaluation.choices import SPLIT_CHOICES, THRESHOLD_MODES
from pipeline.arguments import non_negative_float, non_negative_int, positive_float, positive_int
from storage.options import add_endpoint_url
from training.choices import DEVICES


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the evaluation subcommands to the ``instrec`` parser."""
    p = subparsers.add_parser(
        "evaluate", help="score a trained run on a store split and write metrics.json + report.html",
        description="Score a run on a feature store split with the run's own decision rule (thresholds tuned "
                    "on validation when it was trained; `instrec tune-thresholds` re-tunes them). Evaluation "
                    "never modifies the run.",
    )
    p.add_argument("--store", required=True, metavar="URL", help="store path or fsspec URL (s3://bucket/path)")
    p.add_argument("--run", required=True, type=Path, help="run directory written by `instrec train`")
    p.add_argument("--split", default="test", choices=SPLIT_CHOICES, help="the store split to score")
    p.add_argument("--out", required=True, type=Path,
                   help="report folder to write (new, empty or an earlier report, which is replaced whole)")
    add_endpoint_url(p)
    p.add_argument("--snapshot", default=None, metavar="ID",
                   help="score this store snapshot (`instrec store log`); default: the latest")
    p.add_argument("--smoothing", type=non_negative_float, default=None, metavar="SECONDS",
                   help="median filter length for every class instead of the run's per-class windows (0: raw "
                        "activations; default: the run's decision rule)")
    p.add_argument("--segment", type=positive_float, default=1.0, metavar="SECONDS", help="segment length")
    p.add_argument("--track-plots", type=non_negative_int, default=4, metavar="N", help="how many per-track plots")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_evaluate)

    p = subparsers.add_parser(
        "tune-thresholds", help="tune a run's decision thresholds on a validation split (a new version)",
        description="Predict the split's tracks with the run, tune per-class thresholds (classes with >= 60 s "
                    "of positives), one micro-F1 threshold, and pick the default rule by 2-fold "
                    "cross-validation; writes a new version of the run's thresholds.json. `instrec train` "
                    "does this on its validation split when training ends.",
    )
    p.add_argument("--run", required=True, type=Path, help="run directory written by `instrec train`")
    p.add_argument("--store", required=True, metavar="URL", help="store whose split to tune on (e.g. held-out timbres)")
    p.add_argument("--split", default="validation", choices=("validation", "train", "test", "all"),
                   help="the split to tune on (never tune on the split you report)")
    add_endpoint_url(p)
    p.set_defaults(handler=_tune)

    p = subparsers.add_parser(
        "recipe", help="leave-one-timbre-out recipe: corpora -> stem stores -> remix training -> reports",
        description="Render a training corpus with some of the project's soundfonts and a held-out corpus "
                    "with another, build log-mel stores (stems for the training corpus), train with the "
                    "recipe's settings choosing epochs and thresholds on the held-out validation half, and "
                    "report the in-domain and held-out test splits per family beside the prior baseline. "
                    "Steps already done with the same settings are skipped. --export writes a model folder "
                    "with its card (what `make model` does).",
    )
    p.add_argument("--out", required=True, type=Path, help="working folder (corpora, stores, run, reports)")
    p.add_argument("--config", type=Path,
                   help="recipe JSON: fields of evaluation.protocol.ProtocolConfig (default: the built-in recipe)")
    for flag, kind, text in (("--songs", positive_int, "training-corpus songs"),
                             ("--seconds", positive_float, "song length"),
                             ("--held-out-songs", positive_int, "held-out songs"), ("--seed", int, "seed"),
                             ("--workers", positive_int, "rendering/extraction workers")):
        p.add_argument(flag, type=kind, help=f"{text} (default: the recipe's)")
    p.add_argument("--device", default="auto", choices=DEVICES,
                   help="auto uses CUDA when available, else the CPU")
    p.add_argument("--export", type=Path, metavar="MODEL_DIR",
                   help="write the model folder and card here (default: no export)")
    p.add_argument("--name", default="gm-families", help="model name in the card")
    p.set_defaults(handler=_recipe)

    p = subparsers.add_parser(
        "compare", help="put several evaluation reports side by side",
        description="Read the metrics.json of each report folder written by `instrec evaluate` and write a "
                    "comparison of their headline scores (with the prior baselines) into --out: compare.json, "
                    "compare.csv, compare.png and a self-contained compare.html.",
    )
    p.add_argument("reports", nargs="+", type=Path, metavar="REPORT", help="report directories")
    p.add_argument("--out", required=True, type=Path, help="folder to write the comparison to")
    p.set_defaults(handler=_compare)

    p = subparsers.add_parser(
        "predict", help="detect instruments in audio files with one or more runs",
        description="Per song, named after the track (Slakh's TrackXXXXX/mix.flac -> TrackXXXXX): a JSON with "
                    "segments, activation summary, dominant instrument and clip scores, the frame-level activations "
                    "(.framewise.npz), the segments as CSV and JAMS, and a PNG timeline; per run, mirex-RUN.csv "
                    "with one confidence per OpenMIC-2018 label. Several --run options compare runs.",
    )
    p.add_argument("audio", nargs="+", type=Path, metavar="AUDIO",
                   help="WAV/FLAC/OGG/MP3 files or folders (a folder's mixes, or else all its audio files)")
    p.add_argument("--run", action="append", type=Path, dest="runs", metavar="RUN",
                   help="run or model directory (repeat to compare runs; default: the shipped model, "
                        "$INSTREC_MODEL or models/gm-families)")
    p.add_argument("--out", required=True, type=Path, help="folder for the per-song outputs")
    p.add_argument("--smoothing", type=non_negative_float, default=None, metavar="SECONDS",
                   help="median filter length for every class (0: none; default: the run's per-class windows)")
    p.add_argument("--min-duration", type=non_negative_float, default=0.0, metavar="SECONDS",
                   help="drop segments shorter than this")
    p.add_argument("--thresholds", choices=THRESHOLD_MODES, default="default",
                   help="default: the run's default rule (chosen on validation when it was tuned); per-class: "
                        "each class's F1-optimal threshold; micro: one threshold for all classes, tuned for "
                        "micro F1; 0.5")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=_predict)


def _evaluate(args: argparse.Namespace) -> int:
    from evaluation.evaluate import evaluate
    from storage.options import storage_options

    options = storage_options(endpoint_url=args.endpoint_url)
    metrics = evaluate(args.store, args.run, args.split, args.out, storage_options=options,
                       smoothing_s=args.smoothing, segment_s=args.segment, n_track_plots=args.track_plots,
                       progress=not args.no_progress, snapshot=args.snapshot)
    for note in metrics.get("notes", []):
        print(f"note: {note}", file=sys.stderr)
    for problem in metrics.get("problems", []):
        print(f"skipped: {problem}", file=sys.stderr)
    headline = {k: metrics.get(k) for k in ("frame.f1_micro", "frame.f1_macro", "frame.map_macro",
                                            "segment.f1_micro", "dominant.accuracy")}
    headline["thresholds"] = metrics["thresholds"]["default"]
    print(json.dumps({k: v if isinstance(v, str) or v is None or v != v else round(float(v), 4)
                      for k, v in headline.items()}))
    print(f"report: {Path(args.out) / 'report.html'}")
    return 0


def _tune(args: argparse.Namespace) -> int:
    from evaluation.tune import tune_run
    from training.run_files import THRESHOLDS_FILE
    from storage.options import storage_options

    options = storage_options(endpoint_url=args.endpoint_url)
    decision = tune_run(args.run, args.store, split=args.split, storage_options=options)
    print(json.dumps({"default": decision.default, "micro": round(decision.micro, 4),
                      "per_class_tuned": [c for c, ok in zip(decision.classes, decision.tuned) if ok],
                      "cross_validated": decision.info.get("cross_validated_f1_micro_plus_macro")}))
    print(f"thresholds written to {Path(args.run) / THRESHOLDS_FILE}")
    return 0


def _recipe(args: argparse.Namespace) -> int:
    from evaluation.model_card import export_model
    from evaluation.protocol import ProtocolConfig, ProtocolError, markdown_tables, run_protocol

    values = {}
    if args.config is not None:
        try:
            values = json.loads(args.config.read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ProtocolError(f"{args.config}: cannot read the recipe ({exc}); pass a JSON object of "
                                "ProtocolConfig fields") from None
    for name in ("songs", "seconds", "held_out_songs", "seed", "workers"):
        if getattr(args, name) is not None:
            values[name] = getattr(args, name)
    config = ProtocolConfig.from_json(values)
    summary = run_protocol(config, args.out, device=args.device)
    print(markdown_tables(summary))
    for name, path in summary["reports"].items():
        print(f"{name} report: {path}")
    if args.export is not None:
        print(f"model written to {export_model(summary['run'], args.export, summary=summary, name=args.name)}")
    return 0


def _compare(args: argparse.Namespace) -> int:
    from evaluation.compare import compare_reports

    print(f"comparison: {compare_reports(args.reports, args.out)}")
    return 0


def _predict(args: argparse.Namespace) -> int:
    from evaluation.predict import predict_files

    runs = args.runs
    if not runs:
        from evaluation.model_card import default_model_dir

        runs = [default_model_dir()]
        print(f"using the shipped model {runs[0]} (pass --run to choose another)")
    result = predict_files(args.audio, runs, args.out, smoothing_s=args.smoothing,
                           min_duration_s=args.min_duration, thresholds=args.thresholds,
                           progress=not args.no_progress)
    for path in result["written"]:
        print(path)
    for problem in result["problems"]:
        print(f"skipped: {problem}")
    return 1 if result["problems"] else 0
