"""Snapshot history: every commit's manifest kept, listed (``store log``), expired, restored.

Each commit writes its manifest to ``URL/manifests/<snapshot_id>.json.gz`` before it replaces
``manifest.json``, and deletes nothing it replaced.  So every snapshot a reader opened, or a run
recorded, stays readable until it is expired:

* :func:`expire_snapshots` (``instrec store expire --older-than 7d``) removes the history entries
  of snapshots replaced more than that long ago (the latest snapshot is always kept), then every
  track version that no kept snapshot refers to.  A snapshot's age counts from the moment it was
  replaced, so a reader that opened the latest snapshot has the whole period to finish.
* :func:`tag_snapshot` (``instrec store tag URL NAME``) names a snapshot; expiry keeps tagged
  snapshots, and ``open_store(url, snapshot=NAME)`` opens one by its name.
* :func:`restore_manifest` (``instrec store verify --repair``) rewrites a damaged or missing
  ``manifest.json`` from the newest history entry that reads back whole.
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from typing import Iterator

from storage.errors import ManifestError, StoreError
from storage.layout import (
    HISTORY, MANIFEST, ROOT_METADATA, SCHEMA_VERSION, TAGS, StoreLocation, encode_manifest, history_name,
    list_history, publish_bytes, publish_history, publish_json, read_history, read_json, remove_file,
)

SNAPSHOT_ID = re.compile(r"^\d{8}-[0-9a-f]{8}$")
TAG_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_duration(text: str) -> float:
    """Seconds in ``7d``, ``12h``, ``30m``, ``45s``, ``2w`` or ``0s`` (a plain number is seconds).

    Raises ``ValueError`` naming the accepted forms."""
    value = text.strip().lower()
    unit = value[-1:] if value[-1:] in _UNITS else "s"
    number = value[:-1] if value[-1:] in _UNITS else value
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        seconds = -1.0
    if not seconds >= 0 or seconds == float("inf"):
        raise ValueError(f"{text!r} is not a duration; use a number with s, m, h, d or w (e.g. 7d, 12h, 0s)")
    return seconds


def read_manifest(loc: StoreLocation) -> dict | None:
    """``manifest.json``, or None when there is none; :class:`ManifestError` (one line) when it is damaged."""
    loc.fs.invalidate_cache()
    try:
        manifest = read_json(loc, MANIFEST)
        if manifest is not None and not (isinstance(manifest, dict) and isinstance(manifest.get("feature_sets"), dict)
                                         and "snapshot_id" in manifest):
            raise ValueError("not an instrec manifest")
    except (ValueError, UnicodeDecodeError) as exc:
        reason = str(exc).splitlines()[0][:120] if str(exc) else type(exc).__name__
        todo = (f"run `instrec store verify --repair {loc.url}` to restore the latest snapshot from {HISTORY}/"
                if list_history(loc) else
                "the store keeps no snapshot history to restore it from (written before instrec kept one): "
                "re-extract into a new store")
        raise ManifestError(f"{loc.path(MANIFEST)}: the store's commit point is damaged ({reason}); {todo}") from None
    return manifest


def load_manifest(loc: StoreLocation, snapshot: str | None = None) -> dict:
    """The latest committed manifest, or snapshot ``snapshot``'s from the history; one-line StoreError otherwise."""
    manifest = None if snapshot is not None else read_manifest(loc)
    if snapshot is not None and not SNAPSHOT_ID.match(snapshot):  # a tag's name
        tags = read_tags(loc)
        if snapshot not in tags:
            raise StoreError(f"{loc.url}: {snapshot!r} is neither a snapshot id (00000012-1a2b3c4d) nor a tag of the "
                             f"store (tags: {', '.join(sorted(tags)) or 'none'}); `instrec store log {loc.url}` lists both")
        snapshot = tags[snapshot]
    if snapshot is not None:
        try:
            manifest = read_history(loc, snapshot)
        except (OSError, ValueError, EOFError) as exc:
            raise StoreError(f"{loc.path(HISTORY, history_name(snapshot))}: snapshot {snapshot} is damaged "
                             f"({type(exc).__name__}); pick another from `instrec store log {loc.url}`") from None
        if manifest is None:  # a store written before history was kept still opens at its latest snapshot
            latest = read_manifest(loc)
            if latest is None or latest.get("snapshot_id") != snapshot:
                raise StoreError(
                    f"{loc.url}: snapshot {snapshot!r} is not in the store (expired by `instrec store expire`, or "
                    f"of another store); `instrec store log {loc.url}` lists the snapshots it keeps")
            manifest = latest
    if manifest is None and list_history(loc):
        raise ManifestError(f"{loc.path(MANIFEST)} is missing but {HISTORY}/ holds snapshots; run "
                            f"`instrec store verify --repair {loc.url}` to restore the latest")
    if manifest is None:
        raise StoreError(f"{loc.url}: no feature store here (no {MANIFEST}); create one with `instrec extract`")
    version = manifest.get("schema_version")
    if version != SCHEMA_VERSION:
        raise StoreError(
            f"{loc.url}: store schema version {version} is not supported (this instrec reads version "
            f"{SCHEMA_VERSION}); re-extract into a new store"
        )
    return manifest


def lost_data_hint(loc: StoreLocation, snapshot_id: str) -> str:
    """What to do about data of snapshot ``snapshot_id`` that is not in the store: the snapshot was
    expired after the reader opened it (its history entry is gone), or the store is damaged."""
    try:
        expired = bool(list_history(loc)) and not loc.fs.exists(loc.path(HISTORY, history_name(snapshot_id)))
    except OSError:
        expired = False
    if expired:
        return (f"snapshot {snapshot_id} was expired (`instrec store expire`) after this reader opened it; reopen "
                f"the store for its latest snapshot, or pick one from `instrec store log {loc.url}`")
    return (f"the store is damaged: run `instrec store verify {loc.url}`, then `instrec store verify --repair` "
            "and `instrec extract` to recompute the track")


def read_tags(loc: StoreLocation) -> dict[str, str]:
    """Tag name -> snapshot id, from ``URL/tags/`` (a tag file that cannot be read is left out)."""
    try:
        names = [p.rstrip("/").rsplit("/", 1)[-1] for p in loc.fs.ls(loc.path(TAGS), detail=False)]
    except FileNotFoundError:
        return {}
    tags = {}
    for name in names:
        if name.endswith(".json") and not name.startswith("."):
            try:
                document = read_json(loc, TAGS, name)
            except (OSError, ValueError):
                continue
            if isinstance(document, dict) and isinstance(document.get("snapshot_id"), str):
                tags[name[:-len(".json")]] = document["snapshot_id"]
    return tags


def tag_snapshot(url: str, name: str, *, snapshot: str | None = None, delete: bool = False,
                 storage_options: dict | None = None) -> str | None:
    """Name ``snapshot`` (default: the latest) ``name``, or remove the tag with ``delete``; returns the
    tagged snapshot id.  Takes the writer lock (so no expiry runs meanwhile).

    Raises ``StoreError`` for a bad name or a snapshot the store does not keep."""
    from storage.store import open_store

    if not TAG_NAME.match(name) or SNAPSHOT_ID.match(name):
        raise StoreError(f"tag {name!r}: use letters, digits, '.', '_' and '-' (up to 64, not a snapshot id's form)")
    with open_store(url, mode="a", storage_options=storage_options) as store:
        loc = store.location
        if delete:
            if name not in read_tags(loc):
                raise StoreError(f"{loc.url}: no tag {name!r} to delete; `instrec store log {loc.url}` lists the tags")
            remove_file(loc, TAGS, f"{name}.json")
            return None
        target = snapshot or store.snapshot_id
        manifest = load_manifest(loc, target)  # the store keeps it (one-line error otherwise)
        if read_history(loc, manifest["snapshot_id"]) is None:  # the latest of a store from before history
            publish_history(loc, manifest["snapshot_id"], encode_manifest(manifest))
        target = manifest["snapshot_id"]  # a tag of a tag is a tag of its snapshot
        publish_json(loc, {"snapshot_id": target, "created_at": time.time()}, TAGS, f"{name}.json")
        return target


def referenced_paths(manifest: dict) -> set[str]:
    """Store-relative paths of every track and stem-group version a manifest commits."""
    return {record["path"] for doc in manifest["feature_sets"].values()
            for level in ("tracks", "stems") for record in doc.get(level, {}).values()}


def iter_history(loc: StoreLocation) -> Iterator[tuple[str, dict | None]]:
    """``(snapshot_id, manifest)`` for every history entry, oldest first; the manifest is None when
    the entry cannot be read back (damaged)."""
    for sid in list_history(loc):
        try:
            yield sid, read_history(loc, sid)
        except (OSError, ValueError, EOFError):
            yield sid, None


def retained_manifests(loc: StoreLocation, latest: dict) -> list[tuple[str, dict]]:
    """Every snapshot kept in the store: the history entries that read back, and ``latest``
    (``manifest.json``: a store written before history was kept has only that one)."""
    kept = [(sid, m) for sid, m in iter_history(loc) if m is not None]
    if latest.get("snapshot_id") not in {sid for sid, _ in kept}:
        kept.append((latest["snapshot_id"], latest))
    return kept


@dataclass(frozen=True)
class SnapshotInfo:
    """One snapshot of ``store log``: id, generation, commit time (Unix s), committed tracks per
    feature set, the run that committed it, whether it is the latest, and ``damaged``."""

    snapshot_id: str
    generation: int
    committed_at: float | None
    tracks: dict[str, int]
    run_id: str | None
    latest: bool
    damaged: bool = False
    tags: tuple[str, ...] = ()

    def to_json(self) -> dict:
        when = (time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(self.committed_at))
                if self.committed_at else None)
        return {"snapshot_id": self.snapshot_id, "generation": self.generation, "committed_at": when,
                "tracks": self.tracks, "run_id": self.run_id, "latest": self.latest, "damaged": self.damaged,
                "tags": list(self.tags)}


def snapshot_log(loc: StoreLocation, latest: dict) -> list[SnapshotInfo]:
    """The snapshots the store keeps, oldest first (``instrec store log``)."""
    entries = list(iter_history(loc))
    if latest.get("snapshot_id") not in {sid for sid, _ in entries}:
        entries.append((latest["snapshot_id"], latest))
    tags: dict[str, list[str]] = {}
    for name, sid in sorted(read_tags(loc).items()):
        tags.setdefault(sid, []).append(name)
    log = []
    for sid, manifest in entries:
        generation = int(sid.split("-", 1)[0]) if sid.split("-", 1)[0].isdigit() else 0
        named = tuple(tags.get(sid, ()))
        if manifest is None:
            log.append(SnapshotInfo(sid, generation, None, {}, None, False, damaged=True, tags=named))
            continue
        log.append(SnapshotInfo(
            sid, int(manifest.get("generation", generation)), manifest.get("committed_at"),
            {key: len(doc.get("tracks", {})) for key, doc in sorted(manifest["feature_sets"].items())},
            manifest.get("run_id"), sid == latest.get("snapshot_id"), tags=named))
    return log


@dataclass
class ExpireReport:
    """What :func:`expire_snapshots` removed and kept."""

    expired: list[str] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    deleted_versions: list[str] = field(default_factory=list)


def expire_snapshots(url: str, *, older_than_s: float, storage_options: dict | None = None,
                     now: float | None = None) -> ExpireReport:
    """Remove snapshots replaced more than ``older_than_s`` seconds ago, then the track versions no
    kept snapshot refers to (uncommitted leftovers included).  Takes the writer lock.

    The latest snapshot and tagged ones (:func:`tag_snapshot`) are always kept.  History entries go first, versions after: a kill between
    the two leaves only unreferenced versions, which the next expiry or writer deletes; a reader of an
    expired snapshot fails naming `store expire` (:meth:`storage.store.FeatureStore.lost_data_hint`).
    """
    from storage.store import open_store

    now = time.time() if now is None else now
    report = ExpireReport()
    with open_store(url, mode="a", storage_options=storage_options) as store:
        loc, latest = store.location, store.manifest
        history = [(sid, m) for sid, m in iter_history(loc)]
        tagged = set(read_tags(loc).values())
        # a snapshot is replaced when its successor is committed
        replaced_at: dict[str, float | None] = {}
        for (sid, _), (_, successor) in zip(history, history[1:]):
            replaced_at[sid] = (successor or {}).get("committed_at")
        for sid, manifest in history:
            if (sid == latest.get("snapshot_id") or sid in tagged
                    or int(sid.split("-", 1)[0]) > int(latest.get("generation", 0))):
                report.kept.append(sid)  # the latest, a tagged one; newer entries are a killed commit's
                continue
            when = replaced_at.get(sid)
            if manifest is not None and when is not None and now - when < older_than_s:
                report.kept.append(sid)
                continue
            remove_file(loc, HISTORY, history_name(sid))
            report.expired.append(sid)
        report.deleted_versions = store.collect_garbage()
    return report


def restore_manifest(loc: StoreLocation) -> str | None:
    """Rewrite ``manifest.json`` (and the root's consolidated metadata) from the newest history entry
    that reads back whole; returns its snapshot id, or None when there is none.  The caller holds
    the writer lock."""
    from storage.consolidated import root_metadata

    for sid, manifest in reversed(list(iter_history(loc))):
        if manifest is not None and manifest.get("snapshot_id") == sid and isinstance(manifest.get("feature_sets"), dict):
            publish_bytes(loc, root_metadata(manifest), ROOT_METADATA)
            publish_bytes(loc, encode_manifest(manifest), MANIFEST)
            return sid
    return None
