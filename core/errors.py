"""Every error instrec raises, in one catalogue.

Every user-facing error is one line naming the file (or store, run, option), what was wrong and
what to do.  The CLI prints an :class:`InstrecError` as that one line, without a traceback.

Each class is defined here and nowhere else; the module that raises it re-exports it
(``from storage.errors import StoreError`` and ``from training.run import RunError`` are the
same class objects as ``core.errors.StoreError`` and ``core.errors.RunError``), so
``isinstance``, ``except`` and pickling do not depend on where a caller imports it from.
``tests/test_layers.py`` keeps it so.  Three are internal signals rather than user-facing
errors and subclass a built-in only (:class:`FeatureSpecError`, :class:`TensorBundleError`,
:class:`MissingChunkError`): the code that catches them turns them into one of the others.
"""

from __future__ import annotations


class InstrecError(Exception):
    """Base of every error instrec raises at its users: one line naming the file, what was wrong and what to do."""


class DatasetError(InstrecError):
    """A dataset reader (pipeline/readers, pipeline/audio) met a missing, unreadable or malformed file: fix or re-fetch that file."""


# --- features/ -------------------------------------------------------------------------------

class TensorBundleError(ValueError):
    """features.tensor_bundle met a TF checkpoint index or data file that is damaged or not a tensor bundle (re-raised as MusicnnWeightsError)."""


class VGGishWeightsError(InstrecError):
    """A VGGish checkpoint or PCA file is unsafe, unreadable, of the wrong shape or not the configured one: pass the torchvggish .pth it names."""


class MusicnnWeightsError(InstrecError):
    """A musicnn checkpoint is missing, damaged, truncated or not the expected one: fetch it with `instrec fetch-musicnn`."""


# --- storage/ --------------------------------------------------------------------------------

class StoreError(InstrecError):
    """A store is missing, of another schema, or inconsistent with the request: check the store URL or rebuild the store."""


class StoreDataError(StoreError):
    """Committed data of a track is missing or fails its checksum (never read as zeros): run `instrec store verify --deep`, `--repair`, then `instrec extract`."""


class ManifestError(StoreError):
    """A store's ``manifest.json`` (the commit point) is missing or unreadable: run `instrec store verify --repair`."""


class StoreLockedError(InstrecError):
    """Another writer holds the store's lock: wait for it to finish (the message names its pid, host and run)."""


class MissingChunkError(LookupError):
    """storage.strict found a chunk absent from the store (lost data, never read as the fill value); readers raise StoreDataError."""

    def __init__(self, key: str) -> None:
        super().__init__(f"chunk {key} is missing")
        self.key = key


# --- pipeline/ -------------------------------------------------------------------------------

class FeatureSpecError(ValueError):
    """pipeline.feature_specs cannot parse a feature spec (``logmel:n_mels=64``): the CLI turns it into a one-line option error."""


class RenderError(InstrecError):
    """The demo corpus cannot render: FluidSynth or a soundfont is missing or a render failed; install it or set the soundfont path."""


# --- training/ -------------------------------------------------------------------------------

class TrainOptionError(InstrecError):
    """An `instrec train` option or training config file is invalid: correct the option the message names."""


class RunError(InstrecError):
    """A run directory is missing files or holds one that cannot be trusted or read: train again, or resume with the same settings."""


class DeviceError(InstrecError):
    """The requested device (``--device``) is unknown or not on this machine: choose auto, cpu, or install a CUDA build of torch."""


# --- evaluation/ -----------------------------------------------------------------------------

class EvaluationError(InstrecError):
    """A run and a store cannot be evaluated together (other classes or features), or the split is empty: pick a matching store or split."""


class PredictionError(InstrecError):
    """`instrec predict` cannot rebuild a run's features or read a song: check the run directory and the audio file it names."""


class ProtocolError(InstrecError):
    """A leave-one-timbre-out protocol cannot run (soundfonts missing, nothing rendered or to evaluate): fix the recipe it names."""


class CompareError(InstrecError):
    """`instrec compare` got a report directory without a readable metrics.json: give directories written by `instrec evaluate`."""


class ModelError(InstrecError):
    """A shipped model folder is missing, or a run to ship is incomplete or too large: pass --run RUN_DIR, or train it with `instrec recipe`."""


# --- flows/ ----------------------------------------------------------------------------------

class FlowParameterError(InstrecError, ValueError):
    """A Prefect flow's parameters do not validate: correct each parameter the one-line message names."""
