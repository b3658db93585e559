"""The feature store: open, read windows, write and commit tracks.

Readers see one committed snapshot only (``manifest.json``, replaced atomically and last, or an
older one from ``manifests/``), so a half-written track is never visible, and a snapshot's data
stays until ``instrec store expire`` removes the snapshot: a reader reads its snapshot's data or
fails with one line (:class:`StoreDataError`), never the fill value.  Writers (``mode="a"``)
hold the store's lock from open to close; track arrays may be written by any process through
:class:`storage.writer.VersionWriter`, and become visible when the lock holder commits them.
"""

from __future__ import annotations

import copy
import os
import time
import uuid
from dataclasses import dataclass
from typing import Any, Iterable

import numpy as np

from core.errors import InstrecError
from storage.consolidated import root_metadata
from storage.errors import ManifestError, StoreDataError, StoreError
from storage.history import load_manifest, lost_data_hint, read_manifest, referenced_paths, retained_manifests
from storage.layout import (
    HISTORY, MANIFEST, ROOT_METADATA, RUNS, SCHEMA_VERSION, SOURCE_HASHES, MissingChunkError, StoreLocation,
    encode_manifest, history_name, list_history, list_versions, publish_bytes, publish_history, publish_json,
    read_json, remove_file, remove_tree, resolve,
)
from storage.locking import StoreLock
from storage.schema import FeatureSetSpec, TrackMeta
from storage.writer import VersionWriter

__all__ = ["FeatureSetReader", "FeatureStore", "ManifestError", "StemEntry", "StoreDataError", "StoreError",
           "TrackEntry", "open_store"]


@dataclass(frozen=True)
class TrackEntry:
    """A committed track of a feature set."""

    track_id: str
    split: str
    n_frames: int
    duration: float
    dominant: str | None
    content_hash: str


@dataclass(frozen=True)
class StemEntry:
    """A committed stem of a song (stores extracted with stems): ``index`` is its slot in the
    song's stem group, ``label`` its class."""

    track_id: str
    stem: str
    index: int
    label: str
    program: int | None
    split: str
    n_frames: int


# What a store's labels and stems are made from; fixed when the store is created.
DEFAULT_SETTINGS = {"stems": False, "activity": {"mode": "notes"}}


def _empty_manifest(dataset: str, classes: list[str]) -> dict:
    return {
        "schema_version": SCHEMA_VERSION, "dataset": dataset, "classes": list(classes),
        "generation": 0, "snapshot_id": "empty", "committed_at": None, "feature_sets": {},
    }


class FeatureSetReader:
    """Read access to one committed feature set; open arrays are cached."""

    def __init__(self, store: "FeatureStore", key: str, doc: dict) -> None:
        self._store = store
        self.key = key
        self.spec = FeatureSetSpec.from_json(doc)
        self._records: dict[str, dict] = doc["tracks"]
        self._stem_records: dict[str, dict] = doc.get("stems", {})
        self._arrays: dict[tuple[str, str], Any] = {}

    name = property(lambda self: self.spec.name)
    params = property(lambda self: dict(self.spec.params))
    config_hash = property(lambda self: self.spec.config_hash)
    frame_rate = property(lambda self: self.spec.frame_rate)
    hop_s = property(lambda self: self.spec.hop_s)
    first_centre = property(lambda self: self.spec.first_centre)
    frame_shape = property(lambda self: tuple(self.spec.frame_shape))
    classes = property(lambda self: list(self._store.classes))

    def tracks(self, split: str | None = None) -> list[TrackEntry]:
        """Committed tracks, sorted by id; only ``split`` when given."""
        return [
            TrackEntry(
                track_id=tid, split=r["split"], n_frames=int(r["n_frames"]), duration=float(r["duration"]),
                dominant=r.get("dominant"), content_hash=r["content_hash"],
            )
            for tid, r in sorted(self._records.items())
            if split is None or r["split"] == split
        ]

    @property
    def has_stems(self) -> bool:
        """True when the store holds stems for this feature set (extracted with ``--stems``)."""
        return bool(self._stem_records)

    def stems(self, split: str | None = None) -> list[StemEntry]:
        """Committed stems (excluded ones left out), sorted by song then stem; only ``split`` when given."""
        return [
            StemEntry(track_id=tid, stem=stem["name"], index=int(stem["index"]), label=stem["label"],
                      program=stem.get("program"), split=group["split"], n_frames=int(group["n_frames"]))
            for tid, group in sorted(self._stem_records.items())
            if split is None or group["split"] == split
            for stem in group["stems"]
        ]

    def stem_tracks(self) -> list[str]:
        """Ids of the songs with a committed stem group."""
        return sorted(self._stem_records)

    def stem_group(self, track_id: str) -> dict:
        """The manifest record of a song's stem group (``stems``, ``excluded``, ``n_frames``...)."""
        try:
            return self._stem_records[track_id]
        except KeyError:
            raise KeyError(f"track {track_id!r} has no committed stems in feature set {self.key} of "
                           f"{self._store.url}") from None

    def read_stem(self, track_id: str, index: int, start: int = 0, stop: int | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
        """Frames ``start:stop`` of stem slot ``index`` of a song: features float32 ``(T, *frame_shape)``
        and its class's activity uint8 ``(T,)``."""
        n = int(self.stem_group(track_id)["n_frames"])
        stop = n if stop is None else min(int(stop), n)
        start = max(0, int(start))
        stop = max(start, stop)
        features = self._read(track_id, "features", (index, slice(start, stop)), np.float32, stems=True)
        activity = self._read(track_id, "activity", (index, slice(start, stop)), np.uint8, stems=True)
        return features, activity

    def record(self, track_id: str) -> dict:
        try:
            return self._records[track_id]
        except KeyError:
            raise KeyError(
                f"track {track_id!r} is not committed in feature set {self.key} of {self._store.url}"
            ) from None

    def array(self, track_id: str, name: str, *, stems: bool = False) -> Any:
        """The zarr array ``name`` of a committed track, or of its stem group with ``stems`` (cached)."""
        cache_key = (track_id, f"stems/{name}" if stems else name)
        arr = self._arrays.get(cache_key)
        if arr is None:
            import zarr

            record = self.stem_group(track_id) if stems else self.record(track_id)
            path = f"{record['path']}/{name}"
            try:
                arr = zarr.open_array(self._store.zarr_store, path=path, mode="r", zarr_format=3)
            except FileNotFoundError:
                raise StoreDataError(
                    f"{self._store.url}: array {name} of committed track {track_id!r} ({path}) is missing; "
                    + self._store.lost_data_hint()
                ) from None
            self._arrays[cache_key] = arr
        return arr

    def _read(self, track_id: str, name: str, selection: Any, dtype: Any, *, stems: bool = False) -> np.ndarray:
        """``array[selection]`` as ``dtype``; a chunk that cannot be decoded is one StoreError naming it."""
        arr = self.array(track_id, name, stems=stems)
        try:
            return np.asarray(arr[selection], dtype=dtype)
        except MemoryError:
            raise
        except MissingChunkError as exc:
            raise StoreDataError(
                f"{self._store.url}: array {name} of committed track {track_id!r} has lost a chunk ({exc.key}); "
                + self._store.lost_data_hint()
            ) from None
        except Exception as exc:  # crc32c raises ValueError; numcodecs RuntimeError (blosc, zstd), TypeError...
            record = self.stem_group(track_id) if stems else self.record(track_id)
            reason = (str(exc).strip().splitlines() or [""])[0][:200]
            if "checksum" in reason:  # crc32c: "Stored and computed checksum do not match. Stored: b'...'"
                reason = "crc32c checksum mismatch: the chunk's bytes changed after it was written"
            access = isinstance(exc, OSError) or any(c.__module__.startswith(("botocore", "aiohttp"))
                                                     for c in type(exc).__mro__)
            where = (f"{self._store.url}: array {name} of track {track_id!r} ({record['path']}/{name}) cannot be read "
                     f"({type(exc).__name__}{': ' + reason if reason else ''}); ")
            if access:
                raise StoreError(where + "check the connection to the store and the credentials") from None
            raise StoreDataError(
                where + f"a chunk is damaged: run `instrec store verify --deep {self._store.url}` to list the bad "
                "chunks, then `--repair` and `instrec extract` to recompute the track"
            ) from None

    def _window(self, track_id: str, start: int, stop: int | None) -> tuple[int, int]:
        n = int(self.record(track_id)["n_frames"])
        stop = n if stop is None else min(int(stop), n)
        start = max(0, int(start))
        return start, max(start, stop)

    def read_features(self, track_id: str, start: int = 0, stop: int | None = None) -> np.ndarray:
        """Frames ``start:stop`` of a track, float32 ``[shape=(T, *frame_shape)]``."""
        start, stop = self._window(track_id, start, stop)
        return self._read(track_id, "features", slice(start, stop), np.float32)

    def read_labels(self, track_id: str, start: int = 0, stop: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Multi-hot labels uint8 ``(T, C)`` and known-mask bool ``(T, C)`` for frames ``start:stop``."""
        start, stop = self._window(track_id, start, stop)
        labels = self._read(track_id, "labels", slice(start, stop), np.uint8)
        mask = self._read(track_id, "label_mask", slice(start, stop), bool)
        if labels.max(initial=0) > 1:  # a store without checksums (before crc32c) whose chunk was damaged
            raise StoreDataError(
                f"{self._store.url}: array labels of track {track_id!r} holds values other than 0/1 in frames "
                f"{start}:{stop}: a chunk is damaged; run `instrec store verify --deep {self._store.url}`, then "
                "`--repair` and `instrec extract` to recompute the track")
        return labels, mask

    def read_clip(self, track_id: str) -> tuple[np.ndarray, np.ndarray]:
        """Clip labels float32 ``(C,)`` and clip mask bool ``(C,)`` (from the manifest)."""
        record = self.record(track_id)
        return np.asarray(record["clip_labels"], dtype=np.float32), np.asarray(record["clip_mask"], dtype=bool)

    def to_xarray(self, track_id: str) -> Any:
        """The track's group as an ``xarray.Dataset`` with named dimensions."""
        import xarray as xr

        return xr.open_zarr(
            self._store.zarr_store, group=self.record(track_id)["path"], consolidated=False, zarr_format=3
        )


class FeatureStore:
    """A store of feature sets for one dataset.  Use :func:`open_store`."""

    def __init__(self, loc: StoreLocation, *, mode: str, manifest: dict, lock: StoreLock | None,
                 pinned: bool = False) -> None:
        self._loc = loc
        self.mode = mode
        self._manifest = manifest
        self._lock = lock
        self._pinned = pinned
        # recorded in each snapshot this writer commits (`instrec store log`); drivers set their run id
        self.run_id: str | None = lock.run_id if lock is not None else None
        self._zarr_store: Any = None
        self._readers: dict[str, FeatureSetReader] = {}
        self._staged: list[dict] = []
        self._writer: VersionWriter | None = None
        self._parent_kept = False  # the snapshot this writer replaces has its history entry

    # -- reading ---------------------------------------------------------------------------
    url = property(lambda self: self._loc.url)
    location = property(lambda self: self._loc)
    classes = property(lambda self: list(self._manifest["classes"]))
    dataset = property(lambda self: self._manifest["dataset"])
    snapshot_id = property(lambda self: self._manifest["snapshot_id"])
    manifest = property(lambda self: self._manifest)

    @property
    def settings(self) -> dict:
        """What the store's labels and stems are made from: ``{"stems": bool, "activity": {...}}``."""
        return {**DEFAULT_SETTINGS, **self._manifest.get("settings", {})}

    @property
    def zarr_store(self) -> Any:
        """The zarr store of the root; reading an absent chunk through it is an error (``strict``)."""
        if self._zarr_store is None:
            self._zarr_store = self._loc.zarr_store(read_only=self.mode == "r", strict=True)
        return self._zarr_store

    def lost_data_hint(self) -> str:
        """What to do about data of this reader's snapshot that is not in the store
        (:func:`storage.history.lost_data_hint`)."""
        return lost_data_hint(self._loc, self.snapshot_id)

    def feature_sets(self) -> list[str]:
        return sorted(self._manifest["feature_sets"])

    def feature_set(self, name_or_key: str) -> FeatureSetReader:
        """A feature set by key (``logmel-1a2b3c4d``) or by family name when exactly one matches."""
        sets = self._manifest["feature_sets"]
        key = name_or_key
        if key not in sets:
            matches = [k for k, doc in sets.items() if doc["name"] == name_or_key]
            if len(matches) != 1:
                raise StoreError(
                    f"{self.url}: feature set {name_or_key!r} "
                    + ("is ambiguous: " + ", ".join(sorted(matches)) + "; pass the full key" if matches
                       else "is not in the store; it has: " + (", ".join(sorted(sets)) or "none")
                       + " (run `instrec extract` first)")
                )
            key = matches[0]
        if key not in self._readers:
            self._readers[key] = FeatureSetReader(self, key, sets[key])
        return self._readers[key]

    def refresh(self) -> None:
        """Reload the latest committed manifest (see tracks committed since opening); a store opened at a
        given ``snapshot`` stays on it."""
        if not self._pinned:
            self._manifest = load_manifest(self._loc)
        self._readers.clear()

    # -- writing ---------------------------------------------------------------------------
    def _require_writer(self) -> None:
        if self.mode != "a" or self._lock is None or not self._lock.held:
            raise StoreError(f"{self.url}: store is open read-only; open it with mode='a' to write")

    @property
    def version_writer(self) -> VersionWriter:
        """A picklable writer of track versions for this store (for worker processes)."""
        if self._writer is None:
            self._writer = VersionWriter(self._loc.url, self._loc.storage_options or None)
        return self._writer

    def initialize(self, *, dataset: str, classes: list[str], settings: dict | None = None) -> None:
        """Set the dataset, vocabulary and settings of a new store, or check them on an existing one.

        ``settings``: ``{"stems": bool, "activity": ActivityConfig.to_json()}`` (default: no stems,
        note-based labels).  A store keeps the settings it was created with.
        """
        self._require_writer()
        settings = {**DEFAULT_SETTINGS, **(settings or {})}
        if not self._manifest["classes"] and not self._manifest["feature_sets"]:
            import zarr

            self._manifest["dataset"], self._manifest["classes"] = dataset, list(classes)
            self._manifest["settings"] = settings
            root = zarr.open_group(self.zarr_store, mode="a", zarr_format=3)
            root.attrs.update({"instrec_schema_version": SCHEMA_VERSION, "dataset": dataset, "classes": list(classes)})
            return
        if list(classes) != self.classes or dataset != self.dataset:
            raise StoreError(
                f"{self.url}: the store holds dataset {self.dataset!r} with {len(self.classes)} classes; "
                f"cannot add dataset {dataset!r} with {len(classes)} classes (different vocabulary); "
                "use another store URL per dataset/taxonomy"
            )
        if settings != self.settings:
            have, want = self.settings, settings
            raise StoreError(
                f"{self.url}: the store was built with stems={have['stems']} and activity "
                f"{have['activity']['mode']}, not stems={want['stems']} and activity {want['activity']['mode']}; "
                "extract with the store's settings (see `instrec store info`) or into another store URL"
            )

    def add_feature_set(self, spec: FeatureSetSpec) -> str:
        """Declare a feature set (idempotent); returns its key."""
        self._require_writer()
        sets = self._manifest["feature_sets"]
        if spec.key in sets:
            if sets[spec.key]["config_hash"] != spec.config_hash:
                raise StoreError(f"{self.url}: feature key {spec.key} collides with another configuration")
            return spec.key
        import zarr  # here: an unchanged store (a no-op `instrec extract`) needs no zarr

        group = zarr.open_group(self.zarr_store, path=spec.key, mode="a", zarr_format=3)
        group.attrs.update(spec.to_json())
        sets[spec.key] = {**spec.to_json(), "tracks": {}}
        return spec.key

    def write_track(self, feature_key: str, *, meta: TrackMeta, features: np.ndarray, labels: np.ndarray,
                    label_mask: np.ndarray, clip_labels: np.ndarray, clip_mask: np.ndarray) -> dict:
        """Write one track's arrays and stage it for the next :meth:`commit`."""
        self._require_writer()
        spec = FeatureSetSpec.from_json(self._manifest["feature_sets"][feature_key])
        record = self.version_writer.write_track(
            spec, meta, classes=self.classes, features=features, labels=labels, label_mask=label_mask,
            clip_labels=clip_labels, clip_mask=clip_mask,
        )
        self._staged.append(record)
        return record

    def commit(self, records: Iterable[dict] = (), *, remove: Iterable[tuple[str, str]] = (),
               feature_sets: dict | None = None) -> str:
        """Publish written track versions (and removals) in one atomic manifest update.

        Parameters
        ----------
        records : iterable of dict
            Records returned by ``VersionWriter.write_track`` / ``TrackVersion.record``.
        remove : iterable of (feature_key, track_id)
            Tracks to drop from the committed state.
        feature_sets : dict, optional
            Replace every committed feature set first (the ``feature_sets`` of an older snapshot's
            manifest: :meth:`rollback`).

        Returns
        -------
        snapshot_id : str
        """
        self._require_writer()
        records = [*self._staged, *records]
        remove = list(remove)
        if not records and not remove and feature_sets is None:
            return self.snapshot_id
        if not self._parent_kept:  # a store from before history: keep its latest snapshot as an entry too
            sid = self.snapshot_id
            if sid != "empty" and not self._loc.fs.exists(self._loc.path(HISTORY, history_name(sid))):
                publish_history(self._loc, sid, encode_manifest(self._manifest))
            self._parent_kept = True
        if feature_sets is not None:
            self._manifest["feature_sets"] = copy.deepcopy(feature_sets)
        sets = self._manifest["feature_sets"]
        for record in records:
            doc = sets[record["feature_set"]]
            entries = doc.setdefault("stems", {}) if record.get("kind") == "stems" else doc["tracks"]
            entries[record["track_id"]] = {k: v for k, v in record.items()
                                           if k not in ("track_id", "feature_set", "kind")}
        for key, track_id in remove:
            for level in ("tracks", "stems"):
                sets.get(key, {}).get(level, {}).pop(track_id, None)
        # Replaced versions stay: readers of earlier snapshots keep reading them until `store expire`.
        previous = self.snapshot_id
        self._manifest["parent"] = previous
        self._manifest["generation"] = int(self._manifest.get("generation", 0)) + 1
        self._manifest["snapshot_id"] = f"{self._manifest['generation']:08d}-{uuid.uuid4().hex[:8]}"
        self._manifest["committed_at"] = time.time()
        self._manifest["run_id"] = self.run_id
        try:
            # the snapshot's immutable history entry, the root's consolidated metadata (for xarray and
            # zarr), then the manifest: the commit itself
            data = encode_manifest(self._manifest)
            publish_history(self._loc, self.snapshot_id, data)
            publish_bytes(self._loc, root_metadata(self._manifest), ROOT_METADATA)
            publish_bytes(self._loc, data, MANIFEST)
        except OSError as exc:
            self._manifest = load_manifest(self._loc)  # back to what is committed
            self._staged.clear()
            raise StoreError(
                f"{self._loc.url}: cannot commit ({exc}); snapshot {previous} is intact. Free disk space "
                "or fix the permissions, then run again: finished tracks are recomputed"
            ) from exc
        self._staged.clear()
        self._readers.clear()
        if self._lock is not None:
            self._lock.refresh()
        return self.snapshot_id

    def rollback(self, snapshot: str) -> str:
        """Commit a new snapshot holding exactly the tracks ``snapshot`` (an id or a tag) held, e.g. to
        undo a re-extraction; the snapshots in between stay in the history until they expire.
        Returns the new snapshot's id."""
        self._require_writer()
        old = load_manifest(self._loc, snapshot)
        if old["classes"] != self.classes or old.get("settings", {}) != self._manifest.get("settings", {}):
            raise StoreError(f"{self.url}: snapshot {snapshot} has another vocabulary or other settings than the "
                             "store; open it with --snapshot instead")
        return self.commit(feature_sets=old["feature_sets"])

    def source_hashes(self) -> dict:
        """The source-file hash cache saved by the last extraction (``{}`` when none or unreadable).

        Only a cache (path -> ``[size, mtime_ns, ctime_ns, inode, sha256]``, see
        ``pipeline.readers.files.SourceHashCache``): losing it costs a re-hash, never a wrong result.
        """
        try:
            document = read_json(self._loc, SOURCE_HASHES)
        except (OSError, ValueError):
            return {}
        return document.get("files", {}) if isinstance(document, dict) else {}

    def save_source_hashes(self, files: dict) -> None:
        """Replace the source-file hash cache (lock holder only)."""
        self._require_writer()
        publish_json(self._loc, {"files": files}, SOURCE_HASHES)

    def collect_garbage(self) -> list[str]:
        """Delete track versions no kept snapshot points to (left by crashed writers), and history
        entries newer than ``manifest.json`` (a commit killed before its last step)."""
        self._require_writer()
        generation = int(self._manifest.get("generation", 0))
        for sid in list_history(self._loc):
            if int(sid.split("-", 1)[0]) > generation:
                remove_file(self._loc, HISTORY, history_name(sid))
        committed = set().union(*(referenced_paths(m) for _, m in retained_manifests(self._loc, self._manifest)))
        removed = []
        # every feature-set folder on disk, also those of a run killed before its first commit
        keys = set(self._manifest["feature_sets"]) | {
            entry["name"].rstrip("/").rsplit("/", 1)[-1] for entry in _safe_ls(self._loc, detail=True)
            if entry["type"] == "directory" and entry["name"].rstrip("/").rsplit("/", 1)[-1] != RUNS
        }
        for key in sorted(keys):
            for path in list_versions(self._loc, key):
                if path not in committed:
                    remove_tree(self._loc, path)
                    removed.append(path)
        return removed

    def close(self) -> None:
        if self._lock is not None:
            self._lock.release()

    def __enter__(self) -> "FeatureStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_store(url: str, *, mode: str = "r", storage_options: dict | None = None,
               snapshot: str | None = None) -> FeatureStore:
    """Open a feature store.

    Parameters
    ----------
    url : str
        Local path or fsspec URL (``s3://bucket/store``).
    mode : {"r", "a"}
        ``r`` read the committed state; ``a`` create-or-append, holding the writer lock until
        :meth:`FeatureStore.close`.
    storage_options : dict, optional
        fsspec options, e.g. ``storage.options.storage_options(endpoint_url="http://127.0.0.1:9000")``.
    snapshot : str, optional
        Read this snapshot (an id from ``instrec store log``, as each run records it) instead of the
        latest; only with ``mode="r"``.  It stays readable until ``instrec store expire`` removes it.
    """
    if mode not in ("r", "a"):
        raise ValueError(f"mode must be 'r' or 'a', got {mode!r}")
    if snapshot is not None and mode != "r":
        raise ValueError("a snapshot other than the latest can only be read (mode='r')")
    loc = resolve(url, storage_options)
    if loc.is_local and os.path.isfile(loc.root):
        raise StoreError(f"{loc.url}: is a regular file, not a feature store (a store is a folder); pass the "
                         "folder `instrec extract --store` wrote")
    if mode == "r":
        try:
            return FeatureStore(loc, mode=mode, manifest=load_manifest(loc, snapshot), lock=None,
                                pinned=snapshot is not None)
        except Exception as exc:
            raise _access_error(loc, exc, "read") from None
    try:
        lock = StoreLock(loc).acquire()
    except OSError as exc:  # not a directory, read-only, disk full...
        raise StoreError(f"{loc.url}: cannot write a store here ({exc}); choose a writable folder") from exc
    except Exception as exc:
        raise _access_error(loc, exc, "write") from None
    try:
        if read_manifest(loc) is None:
            existing = []
            for path in _safe_ls(loc):
                name = path.rstrip("/").rsplit("/", 1)[-1]
                if name.startswith(".tmp-"):  # a manifest write killed before its rename
                    loc.fs.rm(path)
                elif name not in (".lock", "zarr.json"):
                    existing.append(path)
            if existing and list_history(loc):
                raise ManifestError(f"{loc.path(MANIFEST)} is missing but {HISTORY}/ holds snapshots; run "
                                    f"`instrec store verify --repair {loc.url}` to restore the latest")
            if existing:
                raise StoreError(
                    f"{loc.url}: directory is not empty and holds no {MANIFEST}; choose an empty or new "
                    "location for the store"
                )
            publish_json(loc, _empty_manifest("", []), MANIFEST)
        return FeatureStore(loc, mode=mode, manifest=load_manifest(loc), lock=lock)
    except OSError as exc:
        lock.release()
        raise StoreError(f"{loc.url}: cannot write a store here ({exc}); choose a writable folder "
                         "with free space") from exc
    except BaseException:
        lock.release()
        raise


def _access_error(loc: StoreLocation, exc: Exception, action: str) -> Exception:
    """``exc`` as a one-line StoreError when it is an error of the filesystem or of the object store
    (no credentials, endpoint unreachable, access denied); ``exc`` itself otherwise."""
    if isinstance(exc, InstrecError):
        return exc
    kinds = {cls.__name__ for cls in type(exc).__mro__}
    if not isinstance(exc, OSError) and not any(cls.__module__.startswith("botocore") for cls in type(exc).__mro__):
        return exc
    if "NoCredentialsError" in kinds or "PartialCredentialsError" in kinds:
        hint = ("no S3 credentials were found; set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE), "
                "and --endpoint-url for a server other than AWS")
    elif "EndpointConnectionError" in kinds or "ConnectionError" in kinds or "ConnectTimeoutError" in kinds:
        hint = "the storage endpoint cannot be reached; check the network and --endpoint-url"
    elif isinstance(exc, PermissionError):
        hint = "access denied; check the credentials and the bucket's permissions"
    elif isinstance(exc, NotADirectoryError):
        hint = "a part of the path is a regular file, not a folder; check the path"
    else:
        hint = f"{type(exc).__name__}: {exc.strerror if isinstance(exc, OSError) and exc.strerror else exc}"
    return StoreError(f"{loc.url}: cannot {action} the store ({hint})")


def _safe_ls(loc: StoreLocation, *, detail: bool = False) -> list:
    try:
        return loc.fs.ls(loc.root, detail=detail)
    except FileNotFoundError:
        return []
