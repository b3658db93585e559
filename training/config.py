"""The one training configuration, validated on creation."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from training.choices import AUGMENTATIONS, DEVICES, MODEL_NAMES, MONITORS


@dataclass(frozen=True)
class TrainConfig:
    """Everything a training run depends on; saved as ``config.json`` in the run directory.

    Parameters
    ----------
    store : str
        Feature store URL (local path or fsspec URL).
    features : str
        Feature set name or key in the store (``logmel``, ``logmel-1a2b3c4d``...).
    model : str
        Registry name (see :data:`training.registry.MODEL_NAMES`).
    out : str
        Run directory.
    model_options : mapping
        Keyword options of the model (``{"attention": True}`` for crnn-gru...).
    window : int
        Frames per training example; longer tracks are cut, shorter ones padded and masked.
    augment : tuple of str
        Any of :data:`training.augment.AUGMENTATIONS`.
    monitor : {"f1", "map"}
        Validation score driving the LR schedule, early stopping and the best checkpoint:
        frame-level micro F1 at 0.5, or macro mean average precision.
    workers : int or None
        DataLoader worker processes; ``None`` picks from the CPU count.
    rare_track_count, oversample : int
        Tracks holding a class present in fewer than ``rare_track_count`` training tracks are
        sampled ``oversample`` times per epoch.
    max_pos_weight : float
        Per-class ``pos_weight`` (negatives / positives in the training labels) is clipped to
        ``[1, max_pos_weight]``.
    clip_loss_weight : float
        Weight of the clip-level loss (weak labels) added to the frame-level loss.
    steps_per_epoch : int or None
        Cap on batches per epoch (``None``: one pass over the epoch's windows).
    remix : float
        Probability that a training example is a new mixture of stems of different songs
        (:mod:`training.remix`); needs a store extracted with stems.  0 trains on the mixes only.
    remix_stems : (int, int)
        Fewest and most stems per remix.
    remix_gain_db, remix_eq_db : float
        Per-stem random gain range and random EQ size of remixes (:class:`training.remix.RemixOptions`).
    validation_store : str or None
        Store whose ``validation_split`` tracks choose the best epoch, drive early stopping and tune
        the thresholds, instead of the training store's: a store rendered with timbres training never
        hears rewards models that generalise.  It must hold the same feature set (same
        configuration hash) and vocabulary.
    snapshot : str or None
        Train on this snapshot of the store (an id from ``instrec store log``, or the one a run
        recorded in its ``store.json``) instead of the latest; it stays readable until
        ``instrec store expire`` removes it.
    """

    store: str
    features: str
    model: str
    out: str
    model_options: Mapping[str, Any] = field(default_factory=dict)
    epochs: int = 50
    batch_size: int = 16
    window: int = 1000
    lr: float = 1e-3
    weight_decay: float = 1e-2
    seed: int = 0
    device: str = "auto"
    augment: tuple[str, ...] = ("specaugment", "noise")
    patience: int = 10
    lr_patience: int = 3
    lr_factor: float = 0.5
    monitor: str = "f1"
    workers: int | None = None
    rare_track_count: int = 5
    oversample: int = 4
    max_pos_weight: float = 10.0
    clip_loss_weight: float = 0.5
    grad_clip: float = 5.0
    steps_per_epoch: int | None = None
    train_split: str = "train"
    validation_split: str = "validation"
    storage_options: Mapping[str, Any] = field(default_factory=dict)
    amp: bool = True
    progress: bool = True
    remix: float = 0.0
    remix_stems: tuple[int, int] = (2, 6)
    remix_gain_db: float = 6.0
    remix_eq_db: float = 6.0
    validation_store: str | None = None
    snapshot: str | None = None

    def __post_init__(self) -> None:
        problems = []
        if self.model not in MODEL_NAMES:
            problems.append(f"model {self.model!r} is not one of {', '.join(MODEL_NAMES)}")
        for name in ("epochs", "batch_size", "window", "patience", "lr_patience", "oversample",
                     "rare_track_count"):
            if getattr(self, name) < 1:
                problems.append(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            problems.append(f"lr must be positive, got {self.lr}")
        if self.weight_decay < 0 or self.grad_clip < 0 or self.clip_loss_weight < 0:
            problems.append("weight_decay, grad_clip and clip_loss_weight must be >= 0")
        if not 0 < self.lr_factor < 1:
            problems.append(f"lr_factor must be in (0, 1), got {self.lr_factor}")
        if self.max_pos_weight < 1:
            problems.append(f"max_pos_weight must be >= 1, got {self.max_pos_weight}")
        if self.device not in DEVICES:
            problems.append(f"device must be one of {DEVICES}, got {self.device!r}")
        if self.monitor not in MONITORS:
            problems.append(f"monitor must be one of {MONITORS}, got {self.monitor!r}")
        unknown = [a for a in self.augment if a not in AUGMENTATIONS]
        if unknown:
            problems.append(f"unknown augmentation(s) {unknown}; choose from {', '.join(AUGMENTATIONS)}")
        if self.workers is not None and self.workers < 0:
            problems.append(f"workers must be >= 0, got {self.workers}")
        if self.steps_per_epoch is not None and self.steps_per_epoch < 1:
            problems.append(f"steps_per_epoch must be >= 1, got {self.steps_per_epoch}")
        if not 0.0 <= self.remix <= 1.0:
            problems.append(f"remix must be a probability in [0, 1], got {self.remix}")
        stems = tuple(self.remix_stems)
        if len(stems) != 2 or not 1 <= stems[0] <= stems[1]:
            problems.append(f"remix_stems must be (fewest, most) with 1 <= fewest <= most, got {self.remix_stems}")
        if self.remix_gain_db < 0 or self.remix_eq_db < 0:
            problems.append("remix_gain_db and remix_eq_db must be >= 0")
        if problems:
            raise ValueError("invalid training configuration: " + "; ".join(problems))
        object.__setattr__(self, "augment", tuple(self.augment))
        object.__setattr__(self, "remix_stems", tuple(int(n) for n in self.remix_stems))
        try:  # the JSON form (tuples become lists), so a saved config compares equal
            options = json.loads(json.dumps(dict(self.model_options)))
        except TypeError as exc:
            raise ValueError(f"model_options must be plain JSON values: {exc}") from None
        object.__setattr__(self, "model_options", options)
        object.__setattr__(self, "storage_options", dict(self.storage_options))

    def to_json(self) -> dict[str, Any]:
        """Plain JSON-able fields (storage options are left out: they may hold secrets)."""
        data = dataclasses.asdict(self)
        data["augment"] = list(self.augment)
        data["remix_stems"] = list(self.remix_stems)
        data["storage_options"] = {}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> "TrainConfig":
        """The inverse of :meth:`to_json`; unknown keys are an error naming them."""
        names = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - names)
        if unknown:
            raise ValueError(f"unknown training config keys {unknown}")
        values = dict(data)
        for name in ("augment", "remix_stems"):
            if name in values:
                values[name] = tuple(values[name])
        return cls(**values)

    @classmethod
    def from_options(cls, values: Mapping[str, Any], *, attention: bool = False,
                     endpoint_url: str | None = None) -> "TrainConfig":
        """The configuration of a user's options: how ``instrec train`` and the ``train-model`` flow
        both build it, so that they apply the same rules.

        Parameters
        ----------
        values : mapping
            TrainConfig fields (:meth:`from_json` form); ``features`` may be a name, a store key or a
            name with the parameters it was extracted with (``logmel:n_mels=64,hop_length=256``).
        attention : bool
            Add self-attention after the GRU (``model_options["attention"]``); crnn-gru only.
        endpoint_url : str or None
            S3 endpoint of ``s3://`` stores, turned into ``storage_options``
            (:func:`storage.options.storage_options`, merged with any given).

        Raises
        ------
        ValueError
            One line naming what is wrong (an unknown key, a missing field, a bad value, attention
            on another model).
        """
        from pipeline.feature_specs import feature_set_key
        from storage.options import storage_options

        values = dict(values)
        model = values.get("model")
        if attention:
            if model != "crnn-gru":
                raise ValueError(f"attention applies to model crnn-gru only, not {model!r}; "
                                 "drop it or train crnn-gru")
            values["model_options"] = {**dict(values.get("model_options") or {}), "attention": True}
        if endpoint_url:
            values["storage_options"] = storage_options(endpoint_url=endpoint_url,
                                                        extra=values.get("storage_options"))
        missing = [f.name for f in dataclasses.fields(cls)
                   if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                   and values.get(f.name) is None]
        if missing:
            raise ValueError(f"invalid training configuration: {', '.join(missing)} required")
        values["features"] = feature_set_key(str(values["features"]))
        try:
            return cls.from_json(values)
        except TypeError as exc:
            raise ValueError(f"invalid training configuration: {exc}") from None

    def resumable_from(self, other: "TrainConfig") -> list[str]:
        """Fields that differ from ``other`` and make resuming its run unsafe."""
        # snapshot: resuming checks the store snapshot itself (a run resumed with --snapshot of its own is safe)
        free = {"epochs", "patience", "progress", "workers", "device", "storage_options", "snapshot"}
        return [f.name for f in dataclasses.fields(self)
                if f.name not in free and getattr(self, f.name) != getattr(other, f.name)]
