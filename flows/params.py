"""Flow parameters, validated at the flow boundary with pydantic and mapped onto the library.

Prefect shows these fields in the UI and checks ``prefect deployment run -p ...`` values
against them; everything past this boundary is the plain library configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

Dataset = Literal["aam", "slakh", "openmic", "folder", "demo"]


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExtractParams(_Params):
    """What ``extract-features`` builds: which dataset, into which store, which feature sets."""

    dataset: Dataset
    root: str = Field(description="the dataset's folder")
    store: str = Field(description="store path or fsspec URL (s3://bucket/path)")
    features: list[str] = Field(default_factory=lambda: ["logmel"], min_length=1)
    workers: int = Field(default=2, ge=1, le=256, description="local Dask workers")
    dask_address: str | None = Field(default=None, description="existing Dask scheduler, tcp://host:8786")
    taxonomy: str | None = None
    prune: bool = False
    endpoint_url: str | None = Field(default=None, description="S3 endpoint for s3:// stores")
    stems: bool | None = Field(default=None, description="store every song's stems (default: the store's setting)")
    activity: Literal["notes", "stem-energy"] | None = Field(
        default=None, description="frame labels from notes or stem energy (default: the store's setting)")

    @field_validator("features")
    @classmethod
    def _known_features(cls, names: list[str]) -> list[str]:
        from pipeline.feature_specs import build_feature_config

        for name in names:  # a name, or a name with parameters: logmel:n_mels=64,hop_length=256
            build_feature_config(name)  # raises ValueError naming the unknown feature set or parameter
        return names

    @field_validator("root")
    @classmethod
    def _root_exists(cls, root: str) -> str:
        if "://" not in root and not Path(root).is_dir():
            raise ValueError(f"{root}: dataset root is not a folder; pass the folder holding the dataset")
        return root

    def storage_options(self) -> dict[str, Any] | None:
        return {"client_kwargs": {"endpoint_url": self.endpoint_url}} if self.endpoint_url else None


def _train_defaults():
    from training.config import TrainConfig

    return TrainConfig(store="-", features="-", model="crnn", out="-")


_TRAIN = _train_defaults()


class TrainParams(_Params):
    """A training run: store, feature set, model and the hyper-parameters users change most.

    Defaults are the library's (:class:`training.config.TrainConfig`).
    """

    store: str
    out: str = Field(description="run directory")
    features: str = "logmel"
    model: str = _TRAIN.model
    epochs: int = Field(default=_TRAIN.epochs, ge=1)
    batch_size: int = Field(default=_TRAIN.batch_size, ge=1)
    window: int = Field(default=_TRAIN.window, ge=8)
    lr: float = Field(default=_TRAIN.lr, gt=0)
    seed: int = _TRAIN.seed
    device: Literal["auto", "cpu", "cuda"] = "auto"
    augment: list[str] = Field(default_factory=lambda: list(_TRAIN.augment))
    attention: bool = False
    patience: int = Field(default=_TRAIN.patience, ge=1)
    resume: bool = False
    workers: int | None = None
    model_options: dict[str, Any] = Field(default_factory=dict)
    endpoint_url: str | None = None
    monitor: Literal["f1", "map"] = _TRAIN.monitor
    steps_per_epoch: int | None = Field(default=None, ge=1)
    remix: float = Field(default=_TRAIN.remix, ge=0.0, le=1.0,
                         description="probability that an example is a new mixture of stems (store with stems)")
    remix_stems: tuple[int, int] = _TRAIN.remix_stems
    remix_gain_db: float = Field(default=_TRAIN.remix_gain_db, ge=0)
    remix_eq_db: float = Field(default=_TRAIN.remix_eq_db, ge=0)
    weight_decay: float = Field(default=_TRAIN.weight_decay, ge=0)
    clip_loss_weight: float = Field(default=_TRAIN.clip_loss_weight, ge=0)
    validation_store: str | None = Field(default=None, description="store whose validation split selects the "
                                                                   "epoch and thresholds (held-out timbres)")

    @field_validator("model")
    @classmethod
    def _known_model(cls, name: str) -> str:
        from training.registry import MODEL_NAMES

        if name not in MODEL_NAMES:
            raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
        return name

    def to_config(self):
        """The library's :class:`training.config.TrainConfig`."""
        from training.config import TrainConfig

        options = dict(self.model_options)
        if self.attention:
            options["attention"] = True
        return TrainConfig(
            store=self.store, features=self.features, model=self.model, out=self.out,
            model_options=options, epochs=self.epochs, batch_size=self.batch_size, window=self.window,
            lr=self.lr, seed=self.seed, device=self.device, augment=tuple(self.augment),
            patience=self.patience, workers=self.workers, monitor=self.monitor,
            steps_per_epoch=self.steps_per_epoch, remix=self.remix, remix_stems=self.remix_stems,
            remix_gain_db=self.remix_gain_db, remix_eq_db=self.remix_eq_db, weight_decay=self.weight_decay,
            clip_loss_weight=self.clip_loss_weight, validation_store=self.validation_store,
            storage_options=({"client_kwargs": {"endpoint_url": self.endpoint_url}} if self.endpoint_url else {}),
        )


class EvaluateParams(_Params):
    """Evaluate a run on one split of a store (possibly another dataset's)."""

    store: str
    run: str
    out: str
    split: Literal["train", "validation", "test", "all"] = "test"
    endpoint_url: str | None = None

    def storage_options(self) -> dict[str, Any] | None:
        return {"client_kwargs": {"endpoint_url": self.endpoint_url}} if self.endpoint_url else None


class ReprocessParams(ExtractParams):
    """What ``reprocess-new-songs`` watches: a dataset and its store, optionally a run to predict with.

    ``prune`` stays off: songs gone from the dataset are reported, never deleted on a schedule.
    ``run`` may name a folder that does not exist yet: predictions are then skipped.
    """

    prune: Literal[False] = False
    run: str | None = Field(default=None, description="run directory whose model predicts the new songs")
    predictions: str | None = Field(default=None, description="where prediction JSON/PNG go "
                                                              "(default: <run>/predictions)")

    @field_validator("run")
    @classmethod
    def _run_exists(cls, run: str | None) -> str | None:
        # a run that does not exist yet is allowed (the flow warns and skips predictions), so a
        # scheduled deployment keeps extracting before the first model is trained
        local = run is not None and "://" not in run
        if local and Path(run).exists() and not (Path(run) / "config.json").is_file():
            raise ValueError(f"{run}: not a run directory (no config.json); pass the --out folder of "
                             "`instrec train`, or leave run empty to skip predictions")
        return run

    def predictions_dir(self) -> str | None:
        """Where predictions go, or None when no run was given or it does not exist yet."""
        if self.run is None or ("://" not in self.run and not Path(self.run).exists()):
            return None
        return self.predictions or str(Path(self.run) / "predictions")
