"""Flow parameters, validated at the flow boundary with pydantic and mapped onto the library.

Validation happens twice, with the same types:

* at submission: the flows' signatures use the types below (literals, bounds), so the
  deployment's parameter schema lists the allowed values and the Prefect server refuses
  ``prefect deployment run -p dataset=foo`` at once, naming the field and the values
  ("Validation failed for field 'dataset'. Failure reason: 'foo' is not one of [...]");
* when the run starts (what the server cannot know: whether a folder exists on the worker,
  whether a feature set name is known to this instrec): :func:`parse_parameters` builds the
  models below and turns a failure into :class:`FlowParameterError`, one line naming each
  parameter, the value and what is allowed; :func:`rejected` logs that line and ends the run
  Failed with it as the message (on a worker, Prefect's engine then logs the traceback it logs
  for every failed run, which ends with the same line; no pydantic report).  The flows
  therefore switch Prefect's own signature validation off (``validate_parameters=False``): it
  would fail first, with a multi-line pydantic report.

Everything past this boundary is the plain library configuration.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from core.errors import FlowParameterError, InstrecError  # re-exported: defined in core.errors
from features.registry import feature_names
from training.choices import MODEL_NAMES

Dataset = Literal["aam", "slakh", "openmic", "folder", "demo"]
FeatureName = Literal[feature_names()]  # type: ignore[valid-type]  # the registry's names
ModelName = Literal[MODEL_NAMES]  # type: ignore[valid-type]
Split = Literal["train", "validation", "test", "all"]
Device = Literal["auto", "cpu", "cuda"]
Activity = Literal["notes", "stem-energy"]
Workers = Annotated[int, Field(ge=1, le=256, description="local Dask workers")]
Positive = Annotated[int, Field(ge=1)]

M = TypeVar("M", bound=BaseModel)


def describe_errors(exc: ValidationError, model: type[BaseModel]) -> str:
    """One line for all of a model's validation errors: ``parameter NAME=VALUE: what is allowed``."""
    parts = []
    for error in exc.errors():
        name = ".".join(str(part) for part in error["loc"]) or "parameters"
        message = str(error["msg"]).removeprefix("Value error, ")
        if error["type"] == "extra_forbidden":
            message = f"not a parameter; the parameters are {', '.join(model.model_fields)}"
        value = error.get("input")
        shown = repr(value) if not isinstance(value, (dict, list)) or len(repr(value)) < 80 else type(value).__name__
        parts.append(f"parameter {name}={shown}: {message}")
    return "; ".join(parts)


def parse_parameters(schema: type[M], /, **values: Any) -> M:
    """``schema(**values)``, a failure raised as :class:`FlowParameterError` (one line)."""
    try:
        return schema(**values)
    except ValidationError as exc:
        raise FlowParameterError(describe_errors(exc, schema)) from None


def rejected(exc: InstrecError) -> Any:
    """Log the one-line reason (bad parameters, no CUDA device for ``device="cuda"``...) in the run's log
    and end the run Failed with it as the state message."""
    from prefect import get_run_logger
    from prefect.states import Failed

    get_run_logger().error(str(exc))
    return Failed(message=str(exc))


class _Params(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ExtractParams(_Params):
    """What ``extract-features`` builds: which dataset, into which store, which feature sets."""

    dataset: Dataset
    root: str = Field(description="the dataset's folder")
    store: str = Field(description="store path or fsspec URL (s3://bucket/path)")
    features: list[str] = Field(default_factory=lambda: ["logmel"], min_length=1)
    workers: Workers = 2
    dask_address: str | None = Field(default=None, description="existing Dask scheduler, tcp://host:8786")
    taxonomy: str | None = None
    prune: bool = False
    endpoint_url: str | None = Field(default=None, description="S3 endpoint for s3:// stores")
    stems: bool | None = Field(default=None, description="store every song's stems (default: the store's setting)")
    activity: Activity | None = Field(
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
        from storage.options import storage_options

        return storage_options(endpoint_url=self.endpoint_url)


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
    device: Device = "auto"
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
        from training.choices import MODEL_NAMES

        if name not in MODEL_NAMES:
            raise ValueError(f"unknown model {name!r}; choose one of {', '.join(MODEL_NAMES)}")
        return name

    def to_config(self):
        """The library's :class:`training.config.TrainConfig`, built as ``instrec train`` builds it
        (:meth:`~training.config.TrainConfig.from_options`: the attention rule, feature specs with
        parameters, the endpoint).

        Raises
        ------
        FlowParameterError
            One line naming what is wrong (``attention`` on a model other than crnn-gru...).
        """
        from training.config import TrainConfig

        fields = self.model_dump(exclude={"attention", "endpoint_url", "resume"})
        fields["augment"] = tuple(self.augment)
        try:
            return TrainConfig.from_options(fields, attention=self.attention, endpoint_url=self.endpoint_url)
        except ValueError as exc:
            raise FlowParameterError(f"parameters: {exc}") from None


class EvaluateParams(_Params):
    """Evaluate a run on one split of a store (possibly another dataset's)."""

    store: str
    run: str
    out: str
    split: Split = "test"
    endpoint_url: str | None = None

    def storage_options(self) -> dict[str, Any] | None:
        from storage.options import storage_options

        return storage_options(endpoint_url=self.endpoint_url)


class ReprocessParams(ExtractParams):
    """What ``reprocess-new-songs`` watches: a dataset and its store, optionally a run to predict with.

    ``prune`` stays off: songs gone from the dataset are reported, never deleted on a schedule.
    ``run`` may name a folder that does not exist yet: predictions are then skipped.
    """

    prune: Literal[False] = False
    run: str | None = Field(default=None, description="run directory whose model predicts the new songs")
    predictions: str | None = Field(default=None, description="where prediction JSON/PNG go "
                                                              "(default: <run>/predictions)")
    keep_history: str | None = Field(default="1d", description="after a run that commits, expire the store's "
                                                               "snapshots replaced longer ago than this (7d, 12h, "
                                                               "0s); None keeps every snapshot")

    @field_validator("root")
    @classmethod
    def _root_exists(cls, root: str) -> str:
        # a root that does not exist yet is allowed (the flow warns and completes): the schedule of a
        # fresh `make serve` runs before `make demo` has written the corpus
        return root

    @field_validator("keep_history")
    @classmethod
    def _duration(cls, text: str | None) -> str | None:
        from storage.history import parse_duration

        if text is not None:
            parse_duration(text)  # ValueError naming the accepted forms
        return text

    def keep_history_s(self) -> float | None:
        """``keep_history`` in seconds; None keeps every snapshot."""
        from storage.history import parse_duration

        return None if self.keep_history is None else parse_duration(self.keep_history)

    def dataset_missing(self) -> bool:
        """True when the dataset root is a local path that is not a folder (yet)."""
        return "://" not in self.root and not Path(self.root).is_dir()

    @field_validator("run")
    @classmethod
    def _run_exists(cls, run: str | None) -> str | None:
        # a run that does not exist yet is allowed (the flow warns and skips predictions), so a
        # scheduled deployment keeps extracting before the first model is trained
        from training.run_files import CONFIG_FILE

        local = run is not None and "://" not in run
        if local and Path(run).exists() and not (Path(run) / CONFIG_FILE).is_file():
            raise ValueError(f"{run}: not a run directory (no {CONFIG_FILE}); pass the --out folder of "
                             "`instrec train`, or leave run empty to skip predictions")
        return run

    def predictions_dir(self) -> str | None:
        """Where predictions go, or None when no run was given or it does not exist yet."""
        if self.run is None or ("://" not in self.run and not Path(self.run).exists()):
            return None
        from training.run_files import PREDICTIONS_DIR

        return self.predictions or str(Path(self.run) / PREDICTIONS_DIR)


class DemoParams(_Params):
    """The demo chain (``demo-pipeline``): where it writes, and the recipe's size."""

    out: str = "demo"
    songs: Positive | None = None
    seed: int = 0
    model: ModelName | None = None
    epochs: Positive | None = None
    workers: Workers = 2
    recipe: dict[str, Any] | None = None
    training: dict[str, Any] | None = None
