"""Consistency check of a store, and repair.

Problems (the store is wrong; exit non-zero): a committed track whose arrays are missing,
mis-shaped or incomplete (a chunk gone), labels and features of different frame counts, a
content or config hash that does not match, a feature key that is not ``name-hash8``; with
``deep``, every chunk that cannot be decoded (a crc32c mismatch: flipped bytes), each named by
its file.  A damaged ``manifest.json`` is a problem that ``repair`` fixes from the history.
Notes (expected after a crash; not errors): uncommitted track versions, a lock left behind.
"""

from __future__ import annotations

import hashlib
import itertools
import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from storage.consolidated import root_metadata
from storage.history import read_manifest, referenced_paths, restore_manifest, retained_manifests
from storage.layout import (
    LOCK, ROOT_METADATA, MissingChunkError, feature_key, list_versions, publish_bytes, read_json, resolve,
)
from storage.locking import StoreLock
from storage.store import FeatureSetReader, FeatureStore, ManifestError, StoreError, open_store


@dataclass
class VerifyReport:
    """Result of :func:`verify_store`."""

    url: str
    problems: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    tracks_checked: int = 0
    broken: list[tuple[str, str]] = field(default_factory=list)  # (feature key, track id)
    garbage: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)
    stale_root: bool = False
    snapshot_id: str | None = None  # the snapshot checked (None: the store could not be opened)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {
            "url": self.url, "snapshot_id": self.snapshot_id, "ok": self.ok, "tracks_checked": self.tracks_checked,
            "problems": self.problems,
            "notes": self.notes, "uncommitted_versions": len(self.garbage), "repaired": self.repaired,
        }


def _expected_frames(params: dict, n_samples: int) -> int | None:
    try:
        from features.registry import config_from_params

        return config_from_params(params).grid.n_frames(n_samples)
    except Exception:  # a family this install cannot rebuild (or whose grid needs more): skip the check
        return None


def bad_chunks(arr: Any, path: str, *, slot: int | None = None) -> list[str]:
    """One line per chunk of ``arr`` (store-relative ``path``) that is missing or cannot be decoded
    (crc32c mismatch, corrupt compression); only chunks of ``slot`` along the first axis when given.

    Reads the whole array (or slot) at once and goes chunk by chunk only when that fails."""
    try:
        arr[slot] if slot is not None else arr[...]
        return []
    except MemoryError:
        raise
    except Exception:
        pass
    bad = []
    ranges = [range(n) for n in arr.cdata_shape]
    if slot is not None:
        ranges[0] = range(slot // arr.chunks[0], slot // arr.chunks[0] + 1)
    for coords in itertools.product(*ranges):
        where = f"{path}/{arr.metadata.chunk_key_encoding.encode_chunk_key(coords)}"
        try:
            arr.get_block_selection(coords)
        except MissingChunkError:
            bad.append(f"{where}: chunk file is missing")
        except MemoryError:
            raise
        except Exception as exc:
            reason = (str(exc).strip().splitlines() or [""])[0][:120]
            bad.append(f"{where}: chunk cannot be decoded ({type(exc).__name__}: {reason})")
    return bad


def _check_feature_set(store: FeatureStore, key: str, doc: dict, report: VerifyReport, *, deep: bool) -> None:
    import zarr

    if key != feature_key(doc["name"], doc["config_hash"]):
        report.problems.append(f"{key}: key does not match name-hash8 of its config_hash {doc['config_hash'][:8]}")
    text = json.dumps(doc["params"], sort_keys=True, separators=(",", ":"))
    if hashlib.sha256(text.encode()).hexdigest() != doc["config_hash"]:
        report.problems.append(f"{key}: config_hash does not match its params (params were edited?)")
    try:
        from features.base import config_hash
        from features.registry import config_from_params

        if config_hash(config_from_params(doc["params"])) != doc["config_hash"]:
            report.notes.append(
                f"{key}: this instrec's {doc['name']} configuration has parameters the store does not record "
                "(a newer version added some); extracting again makes a new feature set"
            )
    except Exception as exc:  # unknown family, or one that needs files to build (weights)
        report.notes.append(f"{key}: configuration not rebuilt ({type(exc).__name__}); config hash not recomputed")
    try:
        attrs = dict(zarr.open_group(store.zarr_store, path=key, mode="r").attrs)
        if attrs.get("config_hash") != doc["config_hash"]:
            report.problems.append(f"{key}: group attributes disagree with the manifest's config_hash")
    except FileNotFoundError:
        report.problems.append(f"{key}: feature-set group is missing")
    reader = store.feature_set(key)
    n_classes = len(store.classes)
    frame_shape = tuple(doc["frame_shape"])
    for track_id, record in sorted(doc["tracks"].items()):
        report.tracks_checked += 1
        where = f"{key}/{track_id} ({record['path']})"
        problems: list[str] = []
        try:
            group_attrs = dict(zarr.open_group(store.zarr_store, path=record["path"], mode="r").attrs)
            if group_attrs.get("content_hash") != record["content_hash"]:
                problems.append("content hash in the track group differs from the manifest")
            n = int(record["n_frames"])
            shapes = {"features": (n, *frame_shape), "labels": (n, n_classes), "label_mask": (n, n_classes),
                      "clip_labels": (n_classes,), "clip_mask": (n_classes,)}
            for name, shape in shapes.items():
                arr = reader.array(track_id, name)
                if tuple(arr.shape) != shape:
                    problems.append(f"{name} has shape {tuple(arr.shape)}, expected {shape}")
                elif arr.nchunks_initialized != arr.nchunks:
                    problems.append(f"{name} has {arr.nchunks - arr.nchunks_initialized} of {arr.nchunks} chunks missing")
            if "n_samples" in record:
                expected = _expected_frames(doc["params"], int(record["n_samples"]))
                if expected is not None and expected != n:
                    problems.append(f"{n} frames but the grid gives {expected} for {record['n_samples']} samples")
            if len(record["clip_labels"]) != n_classes or len(record["clip_mask"]) != n_classes:
                problems.append("manifest clip labels do not have one value per class")
            elif not problems:
                clip = np.asarray(reader.array(track_id, "clip_labels")[:], dtype=np.float32)
                if not np.allclose(clip, np.asarray(record["clip_labels"], dtype=np.float32), atol=1e-5):
                    problems.append("clip_labels array differs from the manifest")
            if deep and not problems:
                group = zarr.open_group(store.zarr_store, path=record["path"], mode="r")
                for name, arr in sorted(group.arrays()):
                    problems += bad_chunks(arr, f"{record['path']}/{name}")
            if deep and not problems:
                frames = reader.read_features(track_id)
                if not np.isfinite(frames).all():
                    problems.append("features contain NaN/Inf")
                labels, _ = reader.read_labels(track_id)
                if labels.max(initial=0) > 1:
                    problems.append("labels are not 0/1")
        except Exception as exc:  # any unreadable piece is a problem of this track
            problems.append(f"unreadable: {type(exc).__name__}: {exc}")
        if problems:
            report.broken.append((key, track_id))
            report.problems += [f"{where}: {p}" for p in problems]
    for track_id, group in sorted(doc.get("stems", {}).items()):
        report.tracks_checked += 1
        problems = _check_stem_group(store, reader, track_id, group, doc, frame_shape, deep=deep)
        if problems:
            report.broken.append((key, track_id))
            report.problems += [f"{key}/{track_id} stems ({group['path']}): {p}" for p in problems]


def _check_stem_group(store: FeatureStore, reader: FeatureSetReader, track_id: str, group: dict, doc: dict,
                      frame_shape: tuple[int, ...], *, deep: bool) -> list[str]:
    """Problems of one committed stem group: arrays, shapes, chunks, hashes, slots, values."""
    import zarr

    problems: list[str] = []
    try:
        attrs = dict(zarr.open_group(store.zarr_store, path=group["path"], mode="r").attrs)
        if attrs.get("content_hash") != group["content_hash"]:
            problems.append("content hash in the stem group differs from the manifest")
        track = doc["tracks"].get(track_id)
        if track is None:
            problems.append("stems committed for a track that is not committed")
        elif track["content_hash"] != group["content_hash"] or int(track["n_frames"]) != int(group["n_frames"]):
            problems.append("stems and mix were extracted from different sources or grids")
        slots = len(attrs.get("stems", []))
        n = int(group["n_frames"])
        for name, shape in {"features": (slots, n, *frame_shape), "activity": (slots, n)}.items():
            arr = reader.array(track_id, name, stems=True)
            if tuple(arr.shape) != shape:
                problems.append(f"{name} has shape {tuple(arr.shape)}, expected {shape}")
                continue
            # excluded stems' slots are never written; every committed stem's chunks must exist
            expected = len(group["stems"]) * (arr.nchunks // slots if slots else 0)
            if arr.nchunks_initialized < expected:
                problems.append(f"{name} has {expected - arr.nchunks_initialized} missing chunks")
        indices = [int(stem["index"]) for stem in group["stems"]]
        if any(not 0 <= i < slots for i in indices) or len(set(indices)) != len(indices):
            problems.append(f"stem slots {indices} do not fit the group's {slots} stems")
        if deep and not problems:
            for stem in group["stems"]:
                for name in ("features", "activity"):
                    problems += bad_chunks(reader.array(track_id, name, stems=True), f"{group['path']}/{name}",
                                           slot=int(stem["index"]))
        if deep and not problems:
            for stem in group["stems"]:
                features, activity = reader.read_stem(track_id, int(stem["index"]))
                if not np.isfinite(features).all():
                    problems.append(f"stem {stem['name']} features contain NaN/Inf")
                if activity.max(initial=0) > 1:
                    problems.append(f"stem {stem['name']} activity is not 0/1")
    except Exception as exc:  # any unreadable piece is a problem of this group
        problems.append(f"unreadable: {type(exc).__name__}: {exc}")
    return problems


def verify_store(url: str, *, storage_options: dict | None = None, deep: bool = False,
                 repair: bool = False, snapshot: str | None = None) -> VerifyReport:
    """Check a store; with ``repair``, delete uncommitted versions and uncommit broken tracks.

    Parameters
    ----------
    url : str
    storage_options : dict, optional
    deep : bool
        Also read every frame (NaN/Inf, 0/1 labels).
    repair : bool
        Take the writer lock, remove uncommitted track versions, and drop broken tracks from the
        manifest so the next ``instrec extract`` recomputes them.
    snapshot : str, optional
        Check this snapshot (an id or tag from ``instrec store log``) instead of the latest.  Not
        with ``repair``, which works on the latest.

    Raises
    ------
    StoreError
        With ``snapshot``: the store does not keep it (unknown, expired or damaged), or ``repair``
        was asked for too; one line naming the store and pointing to ``instrec store log``.
    """
    if snapshot is not None:
        return _verify_snapshot(url, snapshot, storage_options=storage_options, deep=deep, repair=repair)
    report = VerifyReport(url=url)
    try:
        store = open_store(url, mode="a" if repair else "r", storage_options=storage_options)
    except ManifestError as exc:
        report.problems.append(f"cannot open the store: {exc}")
        if not repair:
            return report
        restored = _restore(url, storage_options)
        if restored is None:
            report.problems.append("no readable snapshot in the history to restore manifest.json from")
            return report
        report.repaired.append(f"restored manifest.json from snapshot {restored} (the newest readable history entry)")
        store = open_store(url, mode="a", storage_options=storage_options)
    except Exception as exc:
        report.problems.append(f"cannot open the store: {exc}")
        return report
    try:
        _verify_open(store, report, deep=deep)
        if repair:
            if report.broken:
                store.commit(remove=report.broken)
                report.repaired += [f"uncommitted broken track {k}/{t}" for k, t in report.broken]
            removed = store.collect_garbage()
            report.repaired += [f"deleted uncommitted version {p}" for p in removed]
            if report.stale_root and not report.broken:  # a commit above rewrote it already
                publish_bytes(store.location, root_metadata(store.manifest), ROOT_METADATA)
                report.repaired.append("rewrote the root zarr.json's consolidated metadata")
    finally:
        store.close()
    return report


def _verify_snapshot(url: str, snapshot: str, *, storage_options: dict | None, deep: bool,
                     repair: bool) -> VerifyReport:
    """:func:`verify_store` of snapshot ``snapshot``: its tracks, and the versions no kept snapshot refers to."""
    if repair:
        raise StoreError(f"{url}: --repair works on the latest snapshot, not on {snapshot}; verify {snapshot} without "
                         "--repair, or make it the latest first with `instrec store rollback`")
    store = open_store(url, storage_options=storage_options, snapshot=snapshot)  # one-line StoreError if not kept
    report = VerifyReport(url=url, snapshot_id=store.snapshot_id)
    try:
        try:
            latest = (read_manifest(store.location) or {}).get("snapshot_id")
        except ManifestError as exc:
            latest = None
            report.problems.append(f"cannot open the latest snapshot: {exc}")
        _verify_open(store, report, deep=deep, latest=store.snapshot_id == latest)
        if store.snapshot_id != latest:
            report.notes.append(f"checked snapshot {store.snapshot_id}, not the latest ({latest or 'unreadable'}): "
                                "the root group describes the latest and was not compared")
    finally:
        store.close()
    return report


def _restore(url: str, storage_options: dict | None) -> str | None:
    """:func:`storage.history.restore_manifest` under the writer lock."""
    loc = resolve(url, storage_options)
    lock = StoreLock(loc).acquire()
    try:
        return restore_manifest(loc)
    finally:
        lock.release()


def _consolidated_versions(store: FeatureStore) -> set[str]:
    """Version groups the root ``zarr.json`` lists (its consolidated leaves; empty without any)."""
    document = read_json(store.location, ROOT_METADATA) or {}
    nodes = (document.get("consolidated_metadata") or {}).get("metadata", {})
    return {path for path, node in nodes.items() if "consolidated_metadata" not in node and path.count("/") == 3}


def _verify_open(store: FeatureStore, report: VerifyReport, *, deep: bool, latest: bool = True) -> None:
    """Check the open ``store``'s snapshot into ``report``; the root group (classes, consolidated
    metadata) only when it is the ``latest`` snapshot, which the root describes."""
    import zarr

    manifest = store.manifest
    report.snapshot_id = store.snapshot_id
    try:
        root_attrs: dict[str, Any] = dict(zarr.open_group(store.zarr_store, mode="r").attrs)
        if latest and manifest["feature_sets"] and root_attrs.get("classes") != manifest["classes"]:
            report.problems.append("root group classes differ from the manifest's")
    except FileNotFoundError:
        if manifest["feature_sets"]:
            report.problems.append("root zarr group is missing")
    committed = referenced_paths(manifest)
    kept = set().union(*(referenced_paths(m) for _, m in retained_manifests(store.location, manifest)))
    for key, doc in sorted(manifest["feature_sets"].items()):
        _check_feature_set(store, key, doc, report, deep=deep)
        report.garbage += [p for p in list_versions(store.location, key) if p not in kept]
    listed = _consolidated_versions(store)
    if latest and committed and listed != committed:
        report.notes.append(
            "the root zarr.json does not list exactly the committed tracks (a store written before instrec "
            "consolidated it, or a commit interrupted between the two files): xarray.open_zarr(url, group=...) "
            "may warn or miss tracks; `store verify --repair` rewrites it")
        report.stale_root = True
    if report.garbage:
        report.notes.append(
            f"{len(report.garbage)} uncommitted track versions (left by an interrupted run; invisible to "
            "readers; the next extract or `store verify --repair` deletes them)"
        )
    if store.mode == "r" and store.location.fs.exists(store.location.path(LOCK)):
        report.notes.append("a writer lock is present (a run in progress, or a crashed one: the next run takes it over)")
