"""Which songs of a dataset are new, changed, unchanged or gone, compared with a store.

A cheap scan: the readers already hash every source file (:attr:`Track.content_hash`), and
the store keeps the hash each committed track was extracted from, so the comparison reads
no audio and computes no features.  The extraction driver makes the same decision per
track when it runs; this module answers the question up front, for reporting and for
deciding whether anything has to run at all.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Iterable, Sequence

from pipeline.track import Track, TrackProblem


@dataclass(frozen=True)
class Changes:
    """A dataset scan compared with a store's committed tracks.

    Attributes
    ----------
    new : tuple[Track, ...]
        Tracks missing from at least one of the feature sets and committed nowhere with
        another content hash.
    changed : tuple[Track, ...]
        Tracks committed in some feature set from other source files (another content hash).
    unchanged : tuple[str, ...]
        Ids of tracks committed with the same content hash in every feature set.
    gone : tuple[str, ...]
        Ids committed in the store whose songs are no longer in the dataset.
    problems : tuple[str, ...]
        One line per song the reader had to skip (file and reason).
    store_exists : bool
        False when there is no store at the URL yet (every song is then new).
    """

    new: tuple[Track, ...] = ()
    changed: tuple[Track, ...] = ()
    unchanged: tuple[str, ...] = ()
    gone: tuple[str, ...] = ()
    problems: tuple[str, ...] = field(default=())
    store_exists: bool = True

    @property
    def todo(self) -> tuple[Track, ...]:
        """New and changed tracks, the ones extraction will compute."""
        return self.new + self.changed

    def to_json(self) -> dict:
        """Track ids per category (and the problems), for artifacts and logs."""
        return {
            "new": [t.track_id for t in self.new],
            "changed": [t.track_id for t in self.changed],
            "unchanged": list(self.unchanged),
            "gone": list(self.gone),
            "problems": list(self.problems),
            "store_exists": self.store_exists,
        }


def committed_hashes(store_url: str, feature_keys: Sequence[str], *,
                     storage_options: dict | None = None) -> dict[str, dict[str, str]] | None:
    """Feature key -> {track id: content hash} of the store's committed tracks.

    None when there is no store at ``store_url`` yet; a feature set the store does not hold
    maps to ``{}``.

    Parameters
    ----------
    store_url : str
        Local path or fsspec URL.
    feature_keys : sequence of str
        Exact feature-set keys (``logmel-1a2b3c4d``); a key the store lacks maps to ``{}``.
    storage_options : dict, optional
        fsspec options for remote stores.
    """
    from storage.store import StoreError, open_store

    try:
        store = open_store(store_url, mode="r", storage_options=storage_options)
    except StoreError as exc:
        if "no feature store here" not in str(exc):
            raise
        return None
    present = set(store.feature_sets())
    return {
        key: ({e.track_id: e.content_hash for e in store.feature_set(key).tracks()} if key in present else {})
        for key in feature_keys
    }


def compare_tracks(tracks: Iterable[Track | TrackProblem], committed: dict[str, dict[str, str]]) -> Changes:
    """Classify a reader's output against ``committed`` (see :func:`committed_hashes`).

    Parameters
    ----------
    tracks : iterable of Track or TrackProblem
        A reader's output.
    committed : dict
        Feature key -> {track id: content hash}; at least one key.

    Returns
    -------
    Changes
    """
    if not committed:
        raise ValueError("no feature set to compare against; pass at least one feature key")
    new, changed, unchanged, problems = [], [], [], []
    seen: set[str] = set()
    for item in tracks:
        if isinstance(item, TrackProblem):
            problems.append(str(item))
            continue
        if item.track_id in seen:
            problems.append(f"{item.audio}: duplicate track id {item.track_id!r}; skipped")
            continue
        seen.add(item.track_id)
        stored = [hashes.get(item.track_id) for hashes in committed.values()]
        if any(h is not None and h != item.content_hash for h in stored):
            changed.append(item)
        elif any(h is None for h in stored):
            new.append(item)
        else:
            unchanged.append(item.track_id)
    in_store = set().union(*(hashes.keys() for hashes in committed.values()))
    return Changes(new=tuple(new), changed=tuple(changed), unchanged=tuple(unchanged),
                   gone=tuple(sorted(in_store - seen)), problems=tuple(problems))


def find_changes(tracks: Iterable[Track | TrackProblem], store_url: str, feature_keys: Sequence[str], *,
                 storage_options: dict | None = None) -> Changes:
    """New, changed, unchanged and gone songs of a dataset scan, compared with the store.

    Parameters
    ----------
    tracks : iterable of Track or TrackProblem
        A reader's output (:func:`pipeline.readers.read_dataset`).
    store_url : str
        The store the dataset is extracted into (it need not exist yet).
    feature_keys : sequence of str
        Exact feature-set keys to compare with; a track counts as unchanged only when every
        one of them holds it with the same content hash.
    storage_options : dict, optional
        fsspec options for remote stores.

    Returns
    -------
    Changes

    Examples
    --------
    >>> changes = find_changes(read_dataset("slakh", "corpus"), "stores/corpus.zarr",
    ...                        ["logmel-1a2b3c4d"])  # doctest: +SKIP
    >>> [t.track_id for t in changes.new]  # doctest: +SKIP
    ['Track00005']
    """
    if not feature_keys:
        raise ValueError("no feature set to compare against; pass at least one feature key")
    committed = committed_hashes(store_url, feature_keys, storage_options=storage_options)
    if committed is None:
        changes = compare_tracks(tracks, {key: {} for key in feature_keys})
        return dataclasses.replace(changes, store_exists=False)
    return compare_tracks(tracks, committed)
