"""A split of a feature set as one table: xarray, NumPy or Parquet (``instrec store export``).

Every frame of every committed track of the split, in track order, with its track id and its
centre time; the per-frame bins keep their coordinate (``mel`` / ``scale`` in Hz).

>>> from storage.export import export_split
>>> ds = export_split("stores/aam", feature_set="logmel", split="test")            # xarray.Dataset
>>> arrays = export_split("stores/aam", split="test", to="numpy")                  # dict of arrays
>>> export_split("stores/aam", split="test", to="parquet", path="test.parquet")    # one row per frame

``xarray``: a lazy (dask-backed) ``Dataset`` with ``features (frame, mel)`` float32,
``labels (frame, class)`` uint8 and ``label_mask (frame, class)`` bool; coordinates
``track_id (frame)``, ``time (frame)`` (seconds from the track's start), ``mel`` (Hz), ``class``;
attributes: the grid (``sr``, ``hop_length``, ``hop_s``, ``frame_rate``, ``first_centre``) and the
feature parameters.  ``numpy``: the same as a dict of arrays (read into memory), also written with
``np.savez`` when ``path`` is given.  ``parquet``: one row per frame, columns ``track_id``,
``split``, ``time``, ``features`` (list of float32), ``labels`` (list of uint8), ``label_mask``
(list of bool); the class names, bin frequencies and grid in the file's key-value metadata
(``instrec``, JSON); written one row group per track, so memory stays at one track.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np

from storage.schema import frame_coordinates, grid_attributes
from storage.store import FeatureSetReader, StoreError, open_store

FORMATS = ("xarray", "numpy", "parquet")


def export_split(store: str, *, feature_set: str = "logmel", split: str | None = None, to: str = "xarray",
                 path: str | Path | None = None, storage_options: dict | None = None,
                 snapshot: str | None = None) -> Any:
    """Every frame of ``split`` (None: all tracks) of ``feature_set`` as one xarray Dataset, dict of
    NumPy arrays or Parquet file (see the module docstring).

    ``snapshot`` exports that snapshot (``instrec store log``) instead of the latest.

    Raises
    ------
    StoreError
        Unknown format, no track in the split, or ``to="parquet"`` without ``path``.
    StoreDataError
        A chunk of a track is missing or damaged (never exported as zeros).  The lazy ``xarray``
        result raises ``storage.layout.MissingChunkError`` (or the codec's error) when computed.
    """
    if to not in FORMATS:
        raise StoreError(f"unknown export format {to!r}; choose one of {', '.join(FORMATS)}")
    if to == "parquet" and path is None:
        raise StoreError("a Parquet export needs a file: pass path='split.parquet' (--out)")
    reader = open_store(store, storage_options=storage_options, snapshot=snapshot).feature_set(feature_set)
    entries = reader.tracks(split)
    if not entries:
        raise StoreError(f"{store}: feature set {reader.key} has no committed track in split {split!r}; "
                         "`instrec store info` lists the splits")
    if to == "parquet":
        return _write_parquet(reader, entries, Path(path), split)
    if to == "xarray":
        return _to_xarray(reader, entries, split)
    try:
        arrays = {name: np.asarray(value) for name, value in _to_xarray(reader, entries, split).variables.items()}
    except MemoryError:
        raise
    except Exception:  # a lost or damaged chunk: read track by track for the one-line error naming it
        for entry in entries:
            reader.read_features(entry.track_id)
            reader.read_labels(entry.track_id)
        raise
    arrays["classes"] = np.asarray(reader.classes)
    if path is not None:
        np.savez(path, **arrays)
    return arrays


def _bin_dim(reader: FeatureSetReader) -> str:
    return reader.spec.frame_dims[0] if len(reader.spec.frame_dims) == 1 else "bin"


def _attributes(reader: FeatureSetReader, split: str | None) -> dict[str, Any]:
    attrs = {**grid_attributes(reader.spec), "feature_set": reader.key, "split": split or "all"}
    attrs["feature_params"] = json.dumps(attrs["feature_params"], sort_keys=True)  # netCDF-safe
    attrs["time_coordinate"] = "frame centre in seconds from the start of its track"
    return attrs


def _to_xarray(reader: FeatureSetReader, entries: list, split: str | None) -> Any:
    import dask.array as da
    import xarray as xr

    dim = _bin_dim(reader)
    parts = {name: [] for name in ("features", "labels", "label_mask")}
    track_ids, times = [], []
    for entry in entries:
        for name in parts:
            parts[name].append(da.from_zarr(reader.array(entry.track_id, name))[: entry.n_frames])
        track_ids.append(np.full(entry.n_frames, entry.track_id, dtype=object))
        times.append(reader.first_centre + np.arange(entry.n_frames) * reader.hop_s)
    coords: dict[str, Any] = {"track_id": ("frame", np.concatenate(track_ids).astype(str)),
                              "time": ("frame", np.concatenate(times), {"units": "s"}),
                              "class": ("class", np.asarray(reader.classes, dtype=str))}
    coords.update({d: (d, hz, {"units": "Hz"}) for d, hz in frame_coordinates(reader.spec).items()})
    return xr.Dataset(
        {"features": (("frame", dim), da.concatenate(parts["features"]).astype(np.float32)),
         "labels": (("frame", "class"), da.concatenate(parts["labels"])),
         "label_mask": (("frame", "class"), da.concatenate(parts["label_mask"]))},
        coords=coords, attrs=_attributes(reader, split),
    )


def _write_parquet(reader: FeatureSetReader, entries: list, path: Path, split: str | None) -> Path:
    import pyarrow as pa
    import pyarrow.parquet as pq

    n_bins, n_classes = int(np.prod(reader.frame_shape)), len(reader.classes)
    meta = {**_attributes(reader, split), "classes": reader.classes,
            "bins": {d: hz.tolist() for d, hz in frame_coordinates(reader.spec).items()}}
    schema = pa.schema([("track_id", pa.string()), ("split", pa.string()), ("time", pa.float64()),
                        ("features", pa.list_(pa.float32(), n_bins)), ("labels", pa.list_(pa.uint8(), n_classes)),
                        ("label_mask", pa.list_(pa.bool_(), n_classes))],
                       metadata={"instrec": json.dumps(meta)})
    path.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(path, schema) as writer:
        for entry in entries:
            x = reader.read_features(entry.track_id).reshape(entry.n_frames, n_bins)
            y, known = reader.read_labels(entry.track_id)
            columns = [pa.array([entry.track_id] * entry.n_frames), pa.array([entry.split] * entry.n_frames),
                       pa.array(reader.first_centre + np.arange(entry.n_frames) * reader.hop_s),
                       pa.FixedSizeListArray.from_arrays(pa.array(x.ravel()), n_bins),
                       pa.FixedSizeListArray.from_arrays(pa.array(y.astype(np.uint8).ravel()), n_classes),
                       pa.FixedSizeListArray.from_arrays(pa.array(known.astype(bool).ravel()), n_classes)]
            writer.write_table(pa.Table.from_arrays(columns, schema=schema))
    return path
