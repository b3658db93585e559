"""Writing track versions: the part of a write that needs no lock.

A :class:`VersionWriter` is a small picklable object (URL + storage options) that any
process (a Dask worker, the driver) uses to write one track's arrays under a fresh,
unique path.  Nothing it writes is visible to readers until the lock holder commits the
returned record into the manifest (``FeatureStore.commit``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storage.layout import StoreLocation, resolve, stem_group_path, track_version_path
from storage.schema import (
    FeatureSetSpec, StemMeta, TrackMeta, frame_coordinates, frames_codec, labels_codec, small_codec, track_attributes,
)

LABEL_CHUNK_FACTOR = 4


@dataclass
class VersionWriter:
    """Writes track versions into the store at ``url``.

    Parameters
    ----------
    url : str
        Store URL (local path or fsspec URL).
    storage_options : dict, optional
        fsspec options (:func:`storage.options.storage_options` for an S3 endpoint).
    nonce : str
        Per-run suffix of version paths (never reused, so committed data is never overwritten).
    """

    url: str
    storage_options: dict | None = None
    nonce: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    _zarr_store: Any = field(default=None, repr=False, compare=False)

    def __getstate__(self) -> dict:
        state = dict(self.__dict__)
        state["_zarr_store"] = None
        return state

    def location(self) -> StoreLocation:
        return resolve(self.url, self.storage_options)

    def zarr_store(self) -> Any:
        if self._zarr_store is None:
            self._zarr_store = self.location().zarr_store(read_only=False)
        return self._zarr_store

    def begin(
        self, spec: FeatureSetSpec, meta: TrackMeta, *, classes: list[str], labels: np.ndarray,
        label_mask: np.ndarray, clip_labels: np.ndarray, clip_mask: np.ndarray,
    ) -> "TrackVersion":
        """Create a new track version holding its labels; fill its frames with ``write_features``.

        Parameters
        ----------
        labels : np.ndarray [shape=(n_frames, n_classes)], 0/1
        label_mask : np.ndarray [shape=(n_frames, n_classes)], bool
        clip_labels : np.ndarray [shape=(n_classes,)], float in [0, 1]
        clip_mask : np.ndarray [shape=(n_classes,)], bool
        """
        return TrackVersion.create(
            self.zarr_store(), spec=spec, meta=meta, classes=classes, labels=labels, label_mask=label_mask,
            clip_labels=clip_labels, clip_mask=clip_mask,
            path=track_version_path(spec.key, meta.track_id, meta.content_hash, self.nonce),
        )

    def begin_stems(self, spec: FeatureSetSpec, meta: TrackMeta, *, stems: list[StemMeta],
                    n_frames: int) -> "StemGroupVersion":
        """Create a new version of a song's stem group; fill it with ``write_stem``.

        ``meta`` is the song's; every stem has the song's ``n_frames`` frames.
        """
        return StemGroupVersion.create(
            self.zarr_store(), spec=spec, meta=meta, stems=stems, n_frames=n_frames,
            path=stem_group_path(spec.key, meta.track_id, meta.content_hash, self.nonce),
        )

    def write_track(
        self,
        spec: FeatureSetSpec,
        meta: TrackMeta,
        *,
        classes: list[str],
        features: np.ndarray,
        labels: np.ndarray,
        label_mask: np.ndarray,
        clip_labels: np.ndarray,
        clip_mask: np.ndarray,
        n_samples: int | None = None,
    ) -> dict:
        """Write a whole track at once; returns the manifest record (not yet committed).

        ``features`` has shape ``(n_frames, *spec.frame_shape)``; see :meth:`begin` for the rest.
        """
        version = self.begin(
            spec, meta, classes=classes, labels=labels, label_mask=label_mask, clip_labels=clip_labels,
            clip_mask=clip_mask,
        )
        version.write_features(0, features)
        return version.record(n_samples=n_samples)


# Chunk files sit beside the array's zarr.json (``features/c.3.0``), not in nested folders
# (``features/c/3/0``): no folder to create per chunk row.
CHUNK_KEY_ENCODING = {"name": "default", "separator": "."}


async def _create_version(zstore: Any, path: str, attributes: dict, arrays: dict) -> list:
    """Create a version group and its arrays with as few store operations as possible; the arrays in order.

    The metadata of every array is made in memory first (``zarr.create_array`` on a
    ``MemoryStore``), then every document is written at once: each array's ``zarr.json``, the
    group's with all of them consolidated into it (so ``xarray.open_zarr(f"{url}/{path}")``
    reads one document and warns about nothing; the arrays' metadata never changes after
    this), and the parent groups' where missing.  No existence checks: the version path is new
    (content hash + run nonce).  Then the arrays given ``data`` are written, all concurrently.
    """
    import asyncio

    from zarr.api.asynchronous import create_array
    from zarr.core.array import AsyncArray
    from zarr.core.buffer import default_buffer_prototype
    from zarr.core.group import ConsolidatedMetadata, GroupMetadata
    from zarr.storage import MemoryStore, StorePath

    scratch = MemoryStore()
    data = {name: options.pop("data") for name, options in arrays.items() if "data" in options}
    for name, values in data.items():
        arrays[name].setdefault("chunks", values.shape)
        arrays[name].update(shape=values.shape, dtype=str if values.dtype.kind == "T" else values.dtype)
    configs = {name: options.pop("config", None) for name, options in arrays.items()}
    for options in arrays.values():
        options.setdefault("chunk_key_encoding", CHUNK_KEY_ENCODING)
    metadata = {name: (await create_array(scratch, name=name, zarr_format=3, **options)).metadata
                for name, options in arrays.items()}
    prototype = default_buffer_prototype()
    group = GroupMetadata(attributes=attributes, consolidated_metadata=ConsolidatedMetadata(metadata=metadata))
    documents = {f"{path}/{name}/{key}": buffer for name, meta in metadata.items()
                 for key, buffer in meta.to_buffer_dict(prototype).items()}
    documents.update({f"{path}/{key}": buffer for key, buffer in group.to_buffer_dict(prototype).items()})
    parents = path.split("/")[:-1]
    empty = GroupMetadata().to_buffer_dict(prototype)["zarr.json"]
    await asyncio.gather(*(zstore.set(key, buffer) for key, buffer in documents.items()),
                         *(zstore.set_if_not_exists("/".join(parents[:i]) + "/zarr.json", empty)
                           for i in range(1, len(parents) + 1)))
    created = [AsyncArray(metadata=meta, store_path=StorePath(zstore, f"{path}/{name}"), config=configs[name])
               for name, meta in metadata.items()]
    by_name = dict(zip(metadata, created))
    await asyncio.gather(*(by_name[name].setitem(tuple(slice(None) for _ in values.shape), values)
                           for name, values in data.items() if values.size))
    return created


def _coordinate_arrays(spec: FeatureSetSpec, n_frames: int, names: dict[str, list[str]]) -> dict[str, dict]:
    """Small arrays named after their dimension, which xarray reads as coordinates: ``time`` (frame
    centres, s), the frequency of each ``mel`` / ``scale`` bin (Hz) and each name list in ``names``
    (``class``, ``stem``)."""
    times = spec.first_centre + np.arange(n_frames, dtype=np.float64) * spec.hop_s
    coords = {"time": (times, {"units": "s", "long_name": "frame centre time"})}
    coords.update({dim: (hz, {"units": "Hz", "long_name": f"centre frequency of each {dim} bin"})
                   for dim, hz in frame_coordinates(spec).items()})
    coords.update({dim: (np.array(values, dtype=np.dtypes.StringDType()), {"long_name": f"{dim} name"})
                   for dim, values in names.items()})
    arrays = {}
    for dim, (values, attrs) in coords.items():
        options: dict[str, Any] = {"dimension_names": (dim,), "attributes": attrs, "compressors": small_codec(),
                                   "config": {"write_empty_chunks": True}}
        if len(values):
            options["data"] = values
        else:  # zarr cannot infer chunks from empty data
            options.update(shape=(0,), chunks=(1,), dtype=str if values.dtype.kind == "T" else values.dtype)
        arrays[dim] = options
    return arrays


@dataclass
class TrackVersion:
    """The arrays of one track version being written."""

    path: str
    spec: FeatureSetSpec
    meta: TrackMeta
    n_frames: int
    n_classes: int
    features: Any
    clip: tuple

    @classmethod
    def create(
        cls, zstore: Any, *, spec: FeatureSetSpec, meta: TrackMeta, classes: list[str], path: str,
        labels: np.ndarray, label_mask: np.ndarray, clip_labels: np.ndarray, clip_mask: np.ndarray,
    ) -> "TrackVersion":
        import zarr
        from zarr.core.sync import sync

        n_classes = len(classes)
        n_frames = int(labels.shape[0]) if labels.ndim == 2 else -1
        if labels.shape != (n_frames, n_classes) or label_mask.shape != labels.shape:
            raise ValueError(
                f"track {meta.track_id!r}: labels {labels.shape} and mask {label_mask.shape} must both be "
                f"(n_frames, {n_classes}) (one row per feature frame, one column per class)"
            )
        if clip_labels.shape != (n_classes,) or clip_mask.shape != (n_classes,):
            raise ValueError(f"track {meta.track_id!r}: clip labels and mask must have shape ({n_classes},)")
        time_chunk = max(1, min(spec.chunk_frames, n_frames))
        # labels are a few bytes per frame: LABEL_CHUNK_FACTOR feature chunks per label chunk
        # means fewer objects per track (-5 ms of ~25 ms to create a track) and fewer reads per window
        label_chunk = max(1, min(spec.chunk_frames * LABEL_CHUNK_FACTOR, n_frames))
        class_chunk = max(n_classes, 1)
        config = {"write_empty_chunks": True}
        label_opts = {"compressors": labels_codec(), "config": config, "dimension_names": ("time", "class"),
                      "chunks": (label_chunk, class_chunk)}
        clip = (np.asarray(clip_labels, dtype=np.float32), np.asarray(clip_mask, dtype=bool))
        arrays = {
            "features": {"shape": (n_frames, *spec.frame_shape), "dtype": spec.dtype,
                         "chunks": (time_chunk, *spec.frame_shape), "compressors": frames_codec(),
                         "dimension_names": ("time", *spec.frame_dims), "fill_value": 0, "config": config},
            "labels": {"data": np.ascontiguousarray(labels, dtype=np.uint8), **label_opts},
            "label_mask": {"data": np.ascontiguousarray(label_mask, dtype=bool), **label_opts},
            "clip_labels": {"data": clip[0], "dimension_names": ("class",), "compressors": small_codec(),
                            "config": config},
            "clip_mask": {"data": clip[1], "dimension_names": ("class",), "compressors": small_codec(),
                          "config": config},
        }
        if not (n_frames and n_classes):  # zarr cannot infer chunks from empty data
            for name in ("labels", "label_mask"):
                data = arrays[name].pop("data")
                arrays[name].update(shape=data.shape, dtype=data.dtype)
        if not n_classes:
            for name in ("clip_labels", "clip_mask"):
                data = arrays[name].pop("data")
                arrays[name].update(shape=(0,), dtype=data.dtype, chunks=(1,))
        arrays.update(_coordinate_arrays(spec, n_frames, {"class": list(classes)}))
        attributes = track_attributes(meta.track_id, spec, meta.to_json())
        features = sync(_create_version(zstore, path, attributes, arrays))[0]
        return cls(path=path, spec=spec, meta=meta, n_frames=n_frames, n_classes=n_classes,
                   features=zarr.Array(features), clip=clip)

    def write_features(self, start: int, block: np.ndarray) -> None:
        """Write frames ``start .. start + len(block)``; ``start`` should be chunk-aligned."""
        block = np.asarray(block)
        if block.shape[1:] != tuple(self.spec.frame_shape):
            raise ValueError(
                f"track {self.meta.track_id!r}: frames of shape {block.shape[1:]} do not match the "
                f"feature set's frame shape {tuple(self.spec.frame_shape)}"
            )
        stop = start + block.shape[0]
        if start < 0 or stop > self.n_frames:
            raise ValueError(f"track {self.meta.track_id!r}: frames {start}:{stop} outside 0:{self.n_frames}")
        if block.shape[0]:
            with np.errstate(over="ignore"):
                stored = block.astype(self.spec.dtype)
            if self.spec.dtype == "float16" and not np.isfinite(stored).all() and np.isfinite(block).all():
                raise ValueError(
                    f"track {self.meta.track_id!r}: {self.spec.key} values exceed the float16 range "
                    "(|x| > 65504); store this feature set with FeatureSetSpec(dtype='float32')"
                )
            self.features[start:stop] = stored

    def record(self, *, n_samples: int | None = None) -> dict:
        """The manifest record for this version (call after every write)."""
        clip_labels, clip_mask = self.clip
        doc = {
            "track_id": self.meta.track_id, "feature_set": self.spec.key, "path": self.path,
            "n_frames": self.n_frames, **self.meta.to_json(),
            "clip_labels": [round(float(v), 6) for v in clip_labels],
            "clip_mask": [bool(v) for v in clip_mask],
        }
        if n_samples is not None:
            doc["n_samples"] = int(n_samples)
        return doc


@dataclass
class StemGroupVersion:
    """The arrays of one version of a song's stems: ``features (stem, time, ...)`` and
    ``activity (stem, time)``, one chunk per stem along ``stem``."""

    path: str
    spec: FeatureSetSpec
    meta: TrackMeta
    stems: list[StemMeta]
    n_frames: int
    features: Any
    activity: Any
    excluded: list[dict] = field(default_factory=list)

    @classmethod
    def create(cls, zstore: Any, *, spec: FeatureSetSpec, meta: TrackMeta, stems: list[StemMeta], path: str,
               n_frames: int) -> "StemGroupVersion":
        import zarr
        from zarr.core.sync import sync

        n_stems = len(stems)
        time_chunk = max(1, min(spec.chunk_frames, n_frames))
        label_chunk = max(1, min(spec.chunk_frames * LABEL_CHUNK_FACTOR, n_frames))
        config = {"write_empty_chunks": True}
        arrays = {
            "features": {"shape": (n_stems, n_frames, *spec.frame_shape), "dtype": spec.dtype,
                         "chunks": (1, time_chunk, *spec.frame_shape), "compressors": frames_codec(),
                         "dimension_names": ("stem", "time", *spec.frame_dims), "fill_value": 0, "config": config},
            "activity": {"shape": (n_stems, n_frames), "dtype": "uint8", "chunks": (1, label_chunk),
                         "compressors": labels_codec(), "dimension_names": ("stem", "time"), "fill_value": 0,
                         "config": config},
        }
        arrays.update(_coordinate_arrays(spec, n_frames, {"stem": [stem.name for stem in stems]}))
        # each stem's class, a coordinate along `stem` (xarray reads it from the "coordinates" attribute)
        arrays["label"] = {"data": np.array([stem.label for stem in stems], dtype=np.dtypes.StringDType()),
                           "dimension_names": ("stem",), "attributes": {"long_name": "class of each stem"},
                           "compressors": small_codec(), "config": config}
        if not stems:
            arrays["label"] = {**_coordinate_arrays(spec, 0, {"label": []})["label"], "dimension_names": ("stem",)}
        for name in ("features", "activity"):
            arrays[name]["attributes"] = {"coordinates": "label"}
        attributes = {**track_attributes(meta.track_id, spec, meta.to_json()), "stems": [s.to_json() for s in stems]}
        features, activity = sync(_create_version(zstore, path, attributes, arrays))[:2]
        return cls(path=path, spec=spec, meta=meta, stems=list(stems), n_frames=n_frames,
                   features=zarr.Array(features), activity=zarr.Array(activity))

    def write_stem(self, index: int, *, activity: np.ndarray, blocks: Any) -> None:
        """Write stem ``index``: its activity ``(n_frames,)`` 0/1 and its frames from
        ``blocks``, an iterable of ``(start, block)`` as :func:`pipeline.extraction.extract.iter_feature_blocks` yields."""
        activity = np.asarray(activity, dtype=np.uint8)
        if activity.shape != (self.n_frames,):
            raise ValueError(f"track {self.meta.track_id!r}: stem activity of shape {activity.shape}, "
                             f"expected ({self.n_frames},)")
        self.activity[index] = activity
        for start, block in blocks:
            block = np.asarray(block)
            if block.shape[1:] != tuple(self.spec.frame_shape) or start + len(block) > self.n_frames:
                raise ValueError(f"track {self.meta.track_id!r}: stem frames {start}:{start + len(block)} of shape "
                                 f"{block.shape[1:]} do not fit ({self.n_frames}, {tuple(self.spec.frame_shape)})")
            with np.errstate(over="ignore"):
                stored = block.astype(self.spec.dtype)
            if not np.isfinite(stored).all():
                raise ValueError(f"track {self.meta.track_id!r}: stem {self.stems[index].name} frames are not "
                                 f"finite in {self.spec.dtype}")
            self.features[index, start:start + len(block)] = stored

    def exclude(self, index: int, reason: str) -> None:
        """Leave stem ``index`` out of the committed group (its slot stays, unread), with the reason."""
        self.excluded.append({"index": index, "name": self.stems[index].name, "reason": reason})

    def record(self) -> dict:
        """The manifest record of this stem group (``kind: stems``), not yet committed."""
        left_out = {e["index"] for e in self.excluded}
        return {
            "track_id": self.meta.track_id, "feature_set": self.spec.key, "kind": "stems", "path": self.path,
            "n_frames": self.n_frames, "content_hash": self.meta.content_hash, "split": self.meta.split,
            "stems": [{**stem.to_json(), "index": i} for i, stem in enumerate(self.stems) if i not in left_out],
            "excluded": [{"name": e["name"], "reason": e["reason"]} for e in self.excluded],
        }
