"""``instrec train``: train a model from the feature store into a run directory.

Settings come from :class:`training.config.TrainConfig`'s defaults, then from ``--config FILE``
(a TOML file of TrainConfig fields, or a run's ``config.json``), then from the options given
on the command line: each level overrides the one before.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import Any

from core.errors import TrainOptionError  # re-exported: defined in core.errors
from pipeline.arguments import Default, given_options, non_negative_int, positive_float, positive_int, probability
from storage.options import add_endpoint_url
from training.choices import AUGMENTATIONS, DEVICES, MODEL_NAMES, MONITORS
from training.config import TrainConfig

DEFAULTS = TrainConfig(store="-", features="logmel", model="crnn", out="-")


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
                    "Writes weights, config, classes, feature parameters and metrics to --out. "
                    "Settings: the defaults below, overridden by --config FILE (TOML with TrainConfig "
                    "fields, or a run's config.json to train it again), overridden by the options given here.",
    )
    p.add_argument("--config", type=Path, default=None, metavar="FILE",
                   help="TOML file of training.config.TrainConfig fields (store, features, model, out, epochs, "
                        "lr, ...), or a run's config.json; options given here override it (default: none)")
    p.add_argument("--store", default=Default(None), metavar="URL",
                   help="feature store path or fsspec URL (s3://bucket/path); required unless --config gives it")
    add_endpoint_url(p, default=Default(None))  # the training and the validation store
    p.add_argument("--features", default=Default(d.features), metavar="SPEC",
                   help="feature set: a name (logmel), a store key (logmel-1a2b3c4d) or a name with the parameters "
                        "it was extracted with (logmel:n_mels=64,hop_length=256)")
    p.add_argument("--model", default=Default(d.model), choices=MODEL_NAMES, help="model family")
    p.add_argument("--out", default=Default(None), metavar="RUN_DIR",
                   help="run directory to write; required unless --config gives it")
    p.add_argument("--epochs", type=positive_int, default=Default(d.epochs), help="maximum epochs")
    p.add_argument("--device", default=Default(d.device), choices=DEVICES,
                   help="auto uses CUDA when available, else the CPU")
    p.add_argument("--batch-size", type=positive_int, default=Default(d.batch_size), help="examples per batch")
    p.add_argument("--window", type=positive_int, default=Default(d.window), help="frames per example")
    p.add_argument("--lr", type=positive_float, default=Default(d.lr), help="AdamW learning rate")
    p.add_argument("--seed", type=int, default=Default(d.seed), help="random seed (sampling, initialisation)")
    p.add_argument("--augment", type=_augmentations, default=Default(d.augment),
                   help=f"comma-separated from {', '.join(AUGMENTATIONS)}, or 'none'")
    p.add_argument("--attention", action="store_true", default=Default(False),
                   help="crnn-gru: add 2-head self-attention + LayerNorm after the GRU")
    p.add_argument("--model-options", default=Default("{}"), metavar="JSON",
                   help='extra model keyword options as JSON, e.g. \'{"hidden": 32}\'')
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last checkpoint")
    p.add_argument("--patience", type=positive_int, default=Default(d.patience),
                   help="early stopping: epochs without improvement")
    p.add_argument("--monitor", default=Default(d.monitor), choices=MONITORS,
                   help="validation score: frame micro F1 at 0.5 (f1) or macro mAP (map)")
    p.add_argument("--workers", type=non_negative_int, default=Default(d.workers),
                   help="DataLoader workers (default: from the CPU count)")
    p.add_argument("--steps-per-epoch", type=positive_int, default=Default(d.steps_per_epoch),
                   help="cap on batches per epoch (default: one pass over the epoch's windows)")
    p.add_argument("--remix", type=probability, default=Default(d.remix), metavar="P",
                   help="probability (0..1) that a training example is a new mixture of stems of different "
                        "songs; needs a store extracted with --stems")
    p.add_argument("--remix-stems", type=_stem_range, default=Default(d.remix_stems), metavar="MIN,MAX",
                   help="stems per remix")
    p.add_argument("--validation-store", default=Default(d.validation_store), metavar="URL",
                   help="store whose validation split picks the best epoch, early stopping and thresholds "
                        "(e.g. songs rendered with timbres training never hears); default: the training store")
    p.add_argument("--snapshot", default=Default(d.snapshot), metavar="ID",
                   help="train on this store snapshot (`instrec store log`; a run's store.json records its own); "
                        "default: the latest")
    p.add_argument("--no-progress", action="store_true", default=Default(False), help="no progress bar")
    p.set_defaults(handler=run_train)


def read_config_file(path: Path) -> dict[str, Any]:
    """The TrainConfig fields in a TOML file or in a run's ``config.json`` (by the file's suffix;
    anything but ``.json`` is read as TOML).

    Raises
    ------
    TrainOptionError
        Unreadable file, bad syntax, not a table of fields, or a key that is no TrainConfig field.
    """
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise TrainOptionError(f"{path}: cannot read the training config ({exc.strerror or exc})") from None
    try:
        if path.suffix.lower() == ".json":
            values = json.loads(data.decode("utf-8-sig"))
        else:
            import tomllib

            values = tomllib.loads(data.decode("utf-8-sig"))
    except UnicodeDecodeError as exc:
        raise TrainOptionError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    except json.JSONDecodeError as exc:
        raise TrainOptionError(f"{path}: not valid JSON at line {exc.lineno}, column {exc.colno}") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError: "... (at line 3, column 7)"
        raise TrainOptionError(f"{path}: not valid TOML ({exc})") from None
    if not isinstance(values, dict):
        raise TrainOptionError(f"{path}: expected a table of TrainConfig fields, got a {type(values).__name__}")
    fields = {f.name: str(f.type) for f in dataclasses.fields(TrainConfig)}
    unknown = sorted(set(values) - set(fields))
    if unknown:
        raise TrainOptionError(f"{path}: unknown training setting(s) {', '.join(unknown)}; the settings are the "
                               f"fields of training.config.TrainConfig ({', '.join(sorted(fields))})")
    for name, value in values.items():
        if not _has_type(value, fields[name]):
            raise TrainOptionError(f"{path}: {name} should be {fields[name]}, got {type(value).__name__} {value!r}")
    return values


def _has_type(value: Any, annotation: str) -> bool:
    """Whether a TOML/JSON value fits a TrainConfig field's annotation (``int | None``, ``tuple[int, int]``...)."""
    if value is None:
        return "None" in annotation
    kinds = {"tuple": (list, tuple), "Mapping": dict, "bool": bool, "int": int, "float": (int, float), "str": str}
    kind = next((k for k in kinds if annotation.startswith(k)), None)
    if kind is None:
        return True
    if kind in ("int", "float") and isinstance(value, bool):
        return False
    return isinstance(value, kinds[kind])


_FIELDS = {f.name for f in dataclasses.fields(TrainConfig)}


def config_from_args(args: argparse.Namespace) -> TrainConfig:
    """The :class:`TrainConfig` of parsed ``train`` arguments (``--config`` file, then the options given),
    built by :meth:`TrainConfig.from_options` as the ``train-model`` flow builds it."""
    values: dict[str, Any] = {}
    config_file = getattr(args, "config", None)
    if config_file is not None:
        values.update(read_config_file(Path(config_file)))
    given = given_options(args)
    for name, value in given.items():
        if name == "no_progress":
            values["progress"] = not value
        elif name == "model_options":
            values["model_options"] = _model_options(value)
        elif name in _FIELDS:
            values[name] = value
    missing = [name for name in ("store", "out") if values.get(name) is None]
    if missing:
        raise TrainOptionError(f"{' and '.join('--' + m for m in missing)} required: give them on the command line "
                               "or in the --config file")
    values.setdefault("features", DEFAULTS.features)
    values.setdefault("model", DEFAULTS.model)
    try:
        return TrainConfig.from_options(values, attention=bool(given.get("attention")),
                                        endpoint_url=given.get("endpoint_url"))
    except ValueError as exc:
        where = f"{config_file}: " if config_file is not None else ""
        raise TrainOptionError(f"{where}{exc}") from None


def _model_options(text: str) -> dict[str, Any]:
    try:
        options = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrainOptionError(f"--model-options is not valid JSON ({exc}): {text!r}") from None
    if not isinstance(options, dict):
        raise TrainOptionError(f"--model-options must be a JSON object, got {text!r}")
    return options


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
