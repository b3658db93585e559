"""The one record every dataset reader yields.

A :class:`Track` is what the rest of instrec knows about a song: where its audio is, how
long it is, which split it belongs to, and its labels in three forms (activity intervals,
clip labels with a known/unknown mask, dominant instrument).  Readers never raise for a
bad song: they yield a :class:`TrackProblem` instead and go on with the others.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable, Iterator, Mapping

from core.errors import DatasetError, InstrecError  # re-exported: their home is core.errors

SPLITS = ("train", "validation", "test")


@dataclass(frozen=True)
class Event:
    """One interval during which an instrument class is active.

    Times are in seconds from the start of the song; ``onset < offset``.
    """

    label: str
    onset: float
    offset: float

    def __post_init__(self) -> None:
        if not (self.offset > self.onset >= 0.0):
            raise ValueError(
                f"event for {self.label!r} has onset={self.onset} and offset={self.offset}; "
                "expected 0 <= onset < offset (did you supply times in seconds?)"
            )


@dataclass(frozen=True)
class Stem:
    """One instrument's own audio in a multitrack song (a Slakh ``stems/SXX.flac``, an AAM
    ``<id>_<Instrument>.flac``, a demo-corpus stem).

    Attributes
    ----------
    name : str
        The stem's name in its song (``S00``; the instrument name for AAM).
    audio : Path
        The stem's audio file.
    label : str or None
        Its class in the track's vocabulary; None when the taxonomy has no class for it
        (its audio is then left out of stem features and labels).
    program : int or None
        0-based General MIDI program (128 = drums) when the dataset says.
    events : tuple[Event, ...]
        The stem's own notes as activity intervals of ``label`` (cleaned like the track's).
    """

    name: str
    audio: Path
    label: str | None
    program: int | None = None
    events: tuple[Event, ...] = ()

    def to_json(self) -> dict:
        return {"audio": str(self.audio), "label": self.label, "program": self.program,
                "n_events": len(self.events)}


@dataclass(frozen=True)
class Track:
    """A song with its labels, as produced by every dataset reader.

    Attributes
    ----------
    track_id : str
        Unique within the dataset.
    dataset : str
        ``aam``, ``slakh``, ``openmic``, ``folder`` or ``demo``.
    audio : Path
        The mixture's audio file.
    duration : float
        Seconds (from the audio header when the file exists).
    sample_rate : int
        The file's native rate in Hz.
    split : str
        ``train``, ``validation``, ``test``, or another name the dataset uses (``omitted``).
    classes : tuple[str, ...]
        The class vocabulary the labels refer to.
    events : tuple[Event, ...]
        Activity intervals (empty for weakly labelled or unlabelled tracks).
    clip_labels : Mapping[str, float]
        Class -> clip-level value in [0, 1] (relevance for OpenMIC, 0/1 otherwise).
    clip_mask : Mapping[str, bool]
        Class -> whether ``clip_labels[class]`` is known.  Unknown is never negative.
    dominant : str or None
        Class with the longest cumulative active time (union of its intervals).
    source_hashes : Mapping[str, str]
        Relative source path -> content hash; changes when any source file changes.
    stems : Mapping[str, Stem]
        Per-instrument audio with its class and notes, keyed by stem name (datasets that ship
        stems: Slakh, AAM, the demo corpus).  Their audio is part of ``source_hashes`` only
        when the reader was asked for stems (``stems=True``), since only then does stored
        data depend on it.
    strong_labels : bool
        True when ``events`` give frame-level truth (AAM, Slakh, demo).
    """

    track_id: str
    dataset: str
    audio: Path
    duration: float
    sample_rate: int
    split: str
    classes: tuple[str, ...]
    events: tuple[Event, ...] = ()
    clip_labels: Mapping[str, float] = field(default_factory=dict)
    clip_mask: Mapping[str, bool] = field(default_factory=dict)
    dominant: str | None = None
    source_hashes: Mapping[str, str] = field(default_factory=dict)
    stems: Mapping[str, Stem] = field(default_factory=dict)
    strong_labels: bool = True

    @property
    def content_hash(self) -> str:
        """One hash over every source file; the store's change detector."""
        digest = hashlib.sha256()
        for name in sorted(self.source_hashes):
            digest.update(name.encode())
            digest.update(b"\0")
            digest.update(self.source_hashes[name].encode())
            digest.update(b"\n")
        return digest.hexdigest()

    def to_json(self) -> dict:
        """The manifest record (one JSON object per track)."""
        return {
            "track_id": self.track_id,
            "dataset": self.dataset,
            "audio": str(self.audio),
            "duration": round(self.duration, 6),
            "sample_rate": self.sample_rate,
            "split": self.split,
            "classes": list(self.classes),
            "events": [[e.label, round(e.onset, 6), round(e.offset, 6)] for e in self.events],
            "clip_labels": {k: float(v) for k, v in self.clip_labels.items()},
            "clip_mask": {k: bool(v) for k, v in self.clip_mask.items()},
            "dominant": self.dominant,
            "strong_labels": self.strong_labels,
            "stems": {k: v.to_json() for k, v in self.stems.items()},
            "source_hashes": dict(self.source_hashes),
            "content_hash": self.content_hash,
        }


@dataclass(frozen=True)
class TrackProblem:
    """A track a reader had to skip, with the file and the reason."""

    track_id: str
    path: Path
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"

    def to_json(self) -> dict:
        return {"track_id": self.track_id, "path": str(self.path), "problem": self.message}


class TrackScan(Iterator["Track | TrackProblem"]):
    """A reader's tracks, read one by one as they are asked for, with how many there are.

    ``operator.length_hint`` gives the number still to come (for progress bars); the readers
    know it once they have found the dataset's files, before reading any of them.
    """

    def __init__(self, items: Iterable["Track | TrackProblem"], count: int) -> None:
        self._items = iter(items)
        self._left = int(count)

    def __iter__(self) -> "TrackScan":
        return self

    def __next__(self) -> "Track | TrackProblem":
        item = next(self._items)
        self._left = max(0, self._left - 1)
        return item

    def __length_hint__(self) -> int:
        return self._left


def merge_intervals(intervals: Iterable[tuple[float, float]]) -> list[tuple[float, float]]:
    """Union of half-open intervals, sorted, touching intervals joined."""
    merged: list[tuple[float, float]] = []
    for onset, offset in sorted(intervals):
        if merged and onset <= merged[-1][1]:
            if offset > merged[-1][1]:
                merged[-1] = (merged[-1][0], offset)
        else:
            merged.append((onset, offset))
    return merged


def merge_events(events: Iterable[Event]) -> tuple[Event, ...]:
    """Per class, the union of its intervals, as events sorted by onset then class."""
    by_class: dict[str, list[tuple[float, float]]] = {}
    for event in events:
        by_class.setdefault(event.label, []).append((event.onset, event.offset))
    merged = [
        Event(label, onset, offset)
        for label, intervals in by_class.items()
        for onset, offset in merge_intervals(intervals)
    ]
    return tuple(sorted(merged, key=lambda e: (e.onset, e.label, e.offset)))


def active_time(events: Iterable[Event]) -> dict[str, float]:
    """Per class, the total active time (union of its intervals) in seconds."""
    totals: dict[str, float] = {}
    for event in merge_events(events):
        totals[event.label] = totals.get(event.label, 0.0) + (event.offset - event.onset)
    return totals


def dominant_instrument(events: Iterable[Event]) -> str | None:
    """The class with the longest cumulative active time; ties go to the first name."""
    totals = active_time(events)
    if not totals:
        return None
    return min(totals, key=lambda label: (-totals[label], label))


def clip_labels_from_events(
    events: Iterable[Event], classes: Iterable[str]
) -> tuple[dict[str, float], dict[str, bool]]:
    """Strong labels imply fully known clip labels: 1 when the class is ever active."""
    present = {event.label for event in events}
    labels = {name: 1.0 if name in present else 0.0 for name in classes}
    return labels, {name: True for name in labels}


def _split_position(track_id: str, salt: str) -> float:
    """The track id's place in [0, 1): sha256 of ``salt:track_id``."""
    digest = hashlib.sha256(f"{salt}:{track_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0**64


def _split_bands(ratios: tuple[float, float, float]) -> list[tuple[float, float]]:
    """The [low, high) part of [0, 1) that each split of ``SPLITS`` takes."""
    if len(ratios) != 3 or any(r < 0 for r in ratios) or sum(ratios) <= 0:
        raise ValueError(f"split ratios must be three non-negative numbers, got {ratios}")
    total = float(sum(ratios))
    cut_train = ratios[0] / total
    cut_val = cut_train + ratios[1] / total
    return [(0.0, cut_train), (cut_train, cut_val), (cut_val, 1.0)]


def deterministic_split(
    track_id: str, ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), salt: str = "instrec"
) -> str:
    """Train/validation/test from a hash of the track id.

    Stable as songs are added: a track's split depends on its id alone.  Readers of whole
    datasets use :func:`assign_splits`, which is this for every corpus but the smallest.
    """
    bands = _split_bands(ratios)
    u = _split_position(track_id, salt)
    for split, (_, high) in zip(SPLITS, bands):
        if u < high:
            return split
    return SPLITS[-1]


def assign_splits(
    track_ids: Iterable[str], ratios: tuple[float, float, float] = (0.8, 0.1, 0.1), salt: str = "instrec"
) -> dict[str, str]:
    """The split of every track of a corpus without official splits.

    Each track gets :func:`deterministic_split` of its id, except in a corpus so small that a
    split with a positive ratio got no track although there are at least as many tracks as such
    splits (3 for the default 80/10/10): then, for each empty split in turn (validation, test,
    train), the track whose hash lies nearest to that split's share moves there, taken from the
    split holding the most tracks (never emptying one).  So a corpus of 3 or more songs always
    has a validation and a test song, and once the hash alone fills every split (a few dozen
    songs at 80/10/10) the result is exactly the per-id split, unchanged as songs are added.

    Parameters
    ----------
    track_ids : iterable of str
        Every track id of the corpus (duplicates are counted once).
    ratios : (train, validation, test)
        Non-negative shares, positive sum.

    Returns
    -------
    dict
        Track id -> ``train``, ``validation`` or ``test``.
    """
    bands = _split_bands(ratios)
    ids = sorted(set(track_ids))
    position = {track_id: _split_position(track_id, salt) for track_id in ids}
    splits = {track_id: deterministic_split(track_id, ratios, salt) for track_id in ids}
    wanted = [name for name, ratio in zip(SPLITS, ratios) if ratio > 0]
    if len(ids) < len(wanted):
        return splits
    for name in ("validation", "test", "train"):
        if name not in wanted or name in splits.values():
            continue
        low, high = bands[SPLITS.index(name)]
        counts = {split: list(splits.values()).count(split) for split in SPLITS}
        donor = max(SPLITS, key=lambda split: (counts[split], -SPLITS.index(split)))
        candidates = [track_id for track_id in ids if splits[track_id] == donor]

        def distance(track_id: str) -> float:
            u = position[track_id]
            return 0.0 if low <= u < high else min(abs(u - low), abs(u - high))

        splits[min(candidates, key=lambda track_id: (distance(track_id), track_id))] = name
    return splits


def file_hash(path: Path, chunk_size: int = 1 << 20) -> str:
    """sha256 of a file's bytes (hex)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        while chunk := handle.read(chunk_size):
            digest.update(chunk)
    return digest.hexdigest()
