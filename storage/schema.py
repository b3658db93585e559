"""What a feature set and a track are in the store: specs, metadata, dimension names, codecs."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from storage.layout import feature_key

if TYPE_CHECKING:
    from features.base import FeatureConfig

DEFAULT_CHUNK_FRAMES = 512

_FRAME_DIMS = {
    "logmel": ("mel",), "scalogram": ("scale",), "vggish": ("embedding",), "vggish-input": ("mel",),
    "musicnn": ("embedding",),
}


def frame_dim_names(name: str, frame_shape: Sequence[int]) -> tuple[str, ...]:
    """Names of the per-frame dimensions of a feature family (``mel`` for log-mel...)."""
    family = name.split("-")[0]
    dims = _FRAME_DIMS.get(name) or _FRAME_DIMS.get(family)
    if dims is not None and len(dims) == len(frame_shape):
        return dims
    return tuple(f"feature_{i}" for i in range(len(frame_shape)))


@dataclass(frozen=True)
class FeatureSetSpec:
    """Everything the store records about a feature set, independent of its tracks.

    Parameters
    ----------
    name : str
        Family name (``logmel``, ``logmel-vggish``, ``vggish``...).
    params : dict
        ``features.base.config_params(config)``: the exact extraction parameters.
    config_hash : str
        ``features.base.config_hash(config)`` (64 hex); the key is ``name-<hash[:8]>``.
    frame_shape : tuple of int
        Shape of one frame (``(n_mels,)``).
    frame_rate, hop_s, first_centre : float
        The frame grid: frame ``i`` is centred at ``first_centre + i * hop_s`` seconds.
    dtype : str
        Storage dtype of the frames: ``float16`` (log-mel in dB: <= 0.03 dB rounding) or
        ``float32`` when the values need it.
    chunk_frames : int
        Frames per chunk along time.
    """

    name: str
    params: dict
    config_hash: str
    frame_shape: tuple[int, ...]
    frame_rate: float
    hop_s: float
    first_centre: float
    dtype: str = "float16"
    chunk_frames: int = DEFAULT_CHUNK_FRAMES

    def __post_init__(self) -> None:
        if len(self.config_hash) < 8:
            raise ValueError(f"config_hash must be a hex digest, got {self.config_hash!r}")
        if self.dtype not in ("float16", "float32"):
            raise ValueError(f"dtype must be float16 or float32, got {self.dtype!r}")
        if self.chunk_frames <= 0 or self.frame_rate <= 0:
            raise ValueError("chunk_frames and frame_rate must be positive")

    @property
    def key(self) -> str:
        return feature_key(self.name, self.config_hash)

    @property
    def frame_dims(self) -> tuple[str, ...]:
        return frame_dim_names(self.name, self.frame_shape)

    @classmethod
    def from_config(cls, config: FeatureConfig, *, dtype: str = "float16", chunk_frames: int = DEFAULT_CHUNK_FRAMES) -> "FeatureSetSpec":
        """The spec of a ``features.base.FeatureConfig``."""
        from features.base import config_hash, config_params

        grid = config.grid
        return cls(
            name=config.name, params=config_params(config), config_hash=config_hash(config),
            frame_shape=tuple(int(n) for n in config.frame_shape()), frame_rate=float(grid.frame_rate),
            hop_s=float(grid.hop_s), first_centre=float(grid.first_centre), dtype=dtype,
            chunk_frames=chunk_frames,
        )

    def to_json(self) -> dict:
        return {
            "name": self.name, "params": self.params, "config_hash": self.config_hash,
            "frame_shape": list(self.frame_shape), "frame_dims": list(self.frame_dims),
            "frame_rate": self.frame_rate, "hop_s": self.hop_s, "first_centre": self.first_centre,
            "dtype": self.dtype, "chunk_frames": self.chunk_frames,
        }

    @classmethod
    def from_json(cls, doc: dict) -> "FeatureSetSpec":
        return cls(
            name=doc["name"], params=doc["params"], config_hash=doc["config_hash"],
            frame_shape=tuple(doc["frame_shape"]), frame_rate=float(doc["frame_rate"]),
            hop_s=float(doc["hop_s"]), first_centre=float(doc["first_centre"]),
            dtype=doc.get("dtype", "float16"), chunk_frames=int(doc.get("chunk_frames", DEFAULT_CHUNK_FRAMES)),
        )


# Per-frame dimensions whose coordinate is a frequency: the feature configuration's bin_frequencies().
FREQUENCY_DIMS = ("mel", "scale")


def frame_coordinates(spec: FeatureSetSpec) -> dict[str, np.ndarray]:
    """Coordinate values of the per-frame dimensions that have one: ``mel`` / ``scale`` centre frequencies in Hz.

    Computed from the feature set's parameters (``features.registry.config_from_params``), so a
    store written before coordinates existed gets the same values for its new tracks.

    Returns
    -------
    dict
        Dimension name -> ``np.ndarray [shape=(n_bins,), dtype=float64]``; empty for dimensions
        without physical units (``embedding``).
    """
    dims = [d for d in spec.frame_dims if d in FREQUENCY_DIMS]
    if not dims:
        return {}
    from features.registry import config_from_params

    values = np.asarray(config_from_params(spec.params).bin_frequencies(), dtype=np.float64)
    if values.shape != (spec.frame_shape[spec.frame_dims.index(dims[0])],):
        raise ValueError(f"{spec.key}: {len(values)} bin frequencies for frame shape {spec.frame_shape}")
    return {dims[0]: values}


def grid_attributes(spec: FeatureSetSpec) -> dict[str, Any]:
    """What a reader of one track group needs to interpret its frames without instrec."""
    sr = spec.params.get("sr")
    return {
        "feature_name": spec.name, "feature_params": spec.params, "config_hash": spec.config_hash,
        "sr": sr, "hop_length": spec.params.get("hop_length", round(spec.hop_s * sr) if sr else None), "hop_s": spec.hop_s,
        "frame_rate": spec.frame_rate, "first_centre": spec.first_centre,
        "time_coordinate": "frame centre in seconds: first_centre + i * hop_s",
    }


def track_attributes(track_id: str, spec: FeatureSetSpec, meta: dict[str, Any]) -> dict[str, Any]:
    """The attributes of a track version's group: its id, feature set, ``TrackMeta.to_json()`` and the grid."""
    return {"track_id": track_id, "feature_set": spec.key, **meta, **grid_attributes(spec)}


@dataclass(frozen=True)
class TrackMeta:
    """Per-track metadata the store keeps next to each feature set's frames."""

    track_id: str
    split: str
    duration: float
    content_hash: str
    dominant: str | None = None
    sample_rate: int = 0
    strong_labels: bool = True
    warnings: tuple[str, ...] = field(default=())

    def __post_init__(self) -> None:
        if not self.track_id:
            raise ValueError("track_id must be a non-empty string")
        if not self.content_hash:
            raise ValueError(f"track {self.track_id!r}: content_hash must be non-empty")

    @classmethod
    def from_track(cls, track: Any, *, warnings: Sequence[str] = ()) -> "TrackMeta":
        """From a ``pipeline.track.Track``."""
        return cls(
            track_id=track.track_id, split=track.split, duration=float(track.duration),
            content_hash=track.content_hash, dominant=track.dominant,
            sample_rate=int(track.sample_rate), strong_labels=bool(track.strong_labels),
            warnings=tuple(warnings),
        )

    FIELDS = ("split", "duration", "content_hash", "dominant", "sample_rate", "strong_labels", "warnings")

    def to_json(self) -> dict:
        return {
            "split": self.split, "duration": round(self.duration, 6), "content_hash": self.content_hash,
            "dominant": self.dominant, "sample_rate": self.sample_rate,
            "strong_labels": self.strong_labels, "warnings": list(self.warnings),
        }


@dataclass(frozen=True)
class StemMeta:
    """One stem of a song's stem group: its name, class and GM program (None when unknown)."""

    name: str
    label: str
    program: int | None = None

    def to_json(self) -> dict:
        return {"name": self.name, "label": self.label, "program": self.program}


def frames_codec() -> list:
    """Codecs after serialisation for frames: blosc lz4 with byte shuffle (fast both ways), then a
    crc32c checksum of the compressed chunk, so a flipped byte fails decoding instead of being read."""
    from zarr.codecs import BloscCodec, Crc32cCodec

    return [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle"), Crc32cCodec()]


def labels_codec() -> list:
    """Codecs for labels, masks and activity: blosc lz4 with bit shuffle, then a crc32c checksum."""
    from zarr.codecs import BloscCodec, Crc32cCodec

    return [BloscCodec(cname="lz4", clevel=5, shuffle="bitshuffle"), Crc32cCodec()]


def small_codec() -> list:
    """Codecs for the small arrays (clip labels, coordinates): zarr's default zstd, then a crc32c checksum."""
    from zarr.codecs import Crc32cCodec, ZstdCodec

    return [ZstdCodec(level=0, checksum=False), Crc32cCodec()]
