"""``instrec train``: train a model from the feature store into a run directory."""

from __future__ import annotations

import argparse
import json

from pipeline.track import InstrecError
from training.augment import AUGMENTATIONS
from training.config import DEVICES, MONITORS, TrainConfig
from training.registry import MODEL_NAMES

DEFAULTS = TrainConfig(store="-", features="-", model="crnn", out="-")


class TrainOptionError(InstrecError):
    """A ``train`` command line option is invalid."""


def _augmentations(text: str) -> tuple[str, ...]:
    if text.strip().lower() in ("", "none"):
        return ()
    names = tuple(n.strip() for n in text.split(",") if n.strip())
    unknown = [n for n in names if n not in AUGMENTATIONS]
    if unknown:
        raise argparse.ArgumentTypeError(
            f"unknown augmentation(s) {unknown}; choose from {', '.join(AUGMENTATIONS)} or 'none'")
    return names


def _stem_range(text: str) -> tuple[int, int]:
    try:
        low, high = (int(part) for part in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected MIN,MAX stems like 2,6, got {text!r}") from None
    return low, high


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``train`` subcommand."""
    d = DEFAULTS
    p = subparsers.add_parser(
        "train", help="train a model from the feature store",
        description="Train a frame-level instrument recogniser on a feature set of the store. "
                    "Writes weights, config, classes, feature parameters and metrics to --out.",
    )
    p.add_argument("--store", required=True, help="feature store URL (path or s3://bucket/path)")
    p.add_argument("--features", default="logmel", help="feature set name or key (default: logmel)")
    p.add_argument("--model", default=d.model, choices=MODEL_NAMES, help=f"model (default: {d.model})")
    p.add_argument("--out", required=True, help="run directory to write")
    p.add_argument("--epochs", type=int, default=d.epochs, help=f"maximum epochs (default: {d.epochs})")
    p.add_argument("--device", default=d.device, choices=DEVICES,
                   help="auto uses CUDA when available, else the CPU (default: auto)")
    p.add_argument("--batch-size", type=int, default=d.batch_size, help=f"(default: {d.batch_size})")
    p.add_argument("--window", type=int, default=d.window, help=f"frames per example (default: {d.window})")
    p.add_argument("--lr", type=float, default=d.lr, help=f"AdamW learning rate (default: {d.lr})")
    p.add_argument("--seed", type=int, default=d.seed, help=f"(default: {d.seed})")
    p.add_argument("--augment", type=_augmentations, default=d.augment,
                   help=f"comma-separated from {', '.join(AUGMENTATIONS)}, or 'none' "
                        f"(default: {','.join(d.augment)})")
    p.add_argument("--attention", action="store_true",
                   help="crnn-gru: add 2-head self-attention + LayerNorm after the GRU")
    p.add_argument("--model-options", default="{}", metavar="JSON",
                   help='extra model keyword options as JSON, e.g. \'{"hidden": 32}\'')
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--patience", type=int, default=d.patience,
                   help=f"early stopping: epochs without improvement (default: {d.patience})")
    p.add_argument("--monitor", default=d.monitor, choices=MONITORS,
                   help="validation score: frame micro F1 at 0.5 or macro mAP (default: f1)")
    p.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: from CPU count)")
    p.add_argument("--steps-per-epoch", type=int, default=None, help="cap on batches per epoch")
    p.add_argument("--remix", type=float, default=d.remix, metavar="P",
                   help="probability (0..1) that a training example is a new mixture of stems of different "
                        "songs; needs a store extracted with --stems (default: 0)")
    p.add_argument("--remix-stems", type=_stem_range, default=d.remix_stems, metavar="MIN,MAX",
                   help=f"stems per remix (default: {d.remix_stems[0]},{d.remix_stems[1]})")
    p.add_argument("--validation-store", default=None, metavar="URL",
                   help="store whose validation split picks the best epoch, early stopping and thresholds "
                        "(e.g. songs rendered with timbres training never hears); default: the training store")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    p.set_defaults(handler=run_train)


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``train`` arguments."""
    try:
        options = json.loads(args.model_options)
    except json.JSONDecodeError as exc:
        raise TrainOptionError(f"--model-options is not valid JSON ({exc}): {args.model_options!r}") from None
    if not isinstance(options, dict):
        raise TrainOptionError(f"--model-options must be a JSON object, got {args.model_options!r}")
    if args.attention:
        if args.model != "crnn-gru":
            raise TrainOptionError(f"--attention applies to --model crnn-gru only, not {args.model!r}")
        options["attention"] = True
    try:
        return TrainConfig(
            store=args.store, features=args.features, model=args.model, out=args.out,
            model_options=options, epochs=args.epochs, batch_size=args.batch_size, window=args.window,
            lr=args.lr, seed=args.seed, device=args.device, augment=args.augment, patience=args.patience,
            monitor=args.monitor, workers=args.workers, steps_per_epoch=args.steps_per_epoch,
            progress=not args.no_progress, remix=args.remix, remix_stems=args.remix_stems,
            validation_store=args.validation_store,
        )
    except ValueError as exc:
        raise TrainOptionError(str(exc)) from None


def run_train(args: argparse.Namespace) -> int:
    from evaluation.tune import tune_after_training
    from training.loop import train

    config = config_from_args(args)
    run_dir = train(config, resume=args.resume)
    decision = tune_after_training(config, run_dir)
    if decision is None:
        print(f"no {config.validation_split!r} tracks: thresholds not tuned (decisions use 0.5)")
    else:
        print(f"thresholds tuned on {decision.info['tuned_on']['n_tracks']} {config.validation_split} tracks of "
              f"{decision.info['tuned_on']['store']}: default rule {decision.default}")
    print(f"run written to {run_dir}")
    return 0
