"""Label construction shared by the strongly labelled readers: event cleanup, label fields.

By default an instrument is active exactly over the union of its note intervals.
:class:`EventOptions` turns on two optional cleanups, applied by :func:`clean_events` in
the same way for every dataset: closing short gaps between notes of one class
(``merge_gap_s``) and dropping events shorter than a minimum (``min_event_s``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

from pipeline.track import DatasetError, Event, clip_labels_from_events, dominant_instrument, merge_intervals


@dataclass(frozen=True)
class EventOptions:
    """Optional smoothing of activity intervals (both off by default).

    Parameters
    ----------
    merge_gap_s : float
        Gaps shorter than this between two events of the same class are closed (seconds).
    min_event_s : float
        Events shorter than this, after gap merging, are dropped (seconds).
    """

    merge_gap_s: float = 0.0
    min_event_s: float = 0.0

    def __post_init__(self) -> None:
        for name in ("merge_gap_s", "min_event_s"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or not value >= 0.0:
                raise DatasetError(f"{name} must be a number of seconds >= 0, got {value!r}")


def clean_events(
    events: Iterable[Event], *, options: EventOptions = EventOptions(), end: float | None = None
) -> tuple[Event, ...]:
    """Per class, the union of its intervals, optionally smoothed and cut at ``end``.

    Parameters
    ----------
    events : iterable of Event
        Raw intervals, possibly overlapping.
    options : EventOptions
        ``merge_gap_s`` closes short gaps, then events shorter than ``min_event_s`` go.
    end : float, optional
        Song length in seconds; events are clipped to ``[0, end]`` and dropped when empty.

    Returns
    -------
    tuple of Event
        Sorted by onset, then class.
    """
    by_class: dict[str, list[tuple[float, float]]] = {}
    for event in events:
        by_class.setdefault(event.label, []).append((event.onset, event.offset))
    cleaned: list[Event] = []
    for label, intervals in by_class.items():
        merged = merge_intervals(intervals)
        if options.merge_gap_s > 0.0:
            closed: list[tuple[float, float]] = []
            for onset, offset in merged:
                if closed and onset - closed[-1][1] < options.merge_gap_s:
                    closed[-1] = (closed[-1][0], max(offset, closed[-1][1]))
                else:
                    closed.append((onset, offset))
            merged = closed
        for onset, offset in merged:
            if end is not None:
                offset = min(offset, end)
            if offset <= onset or offset - onset < options.min_event_s:
                continue
            cleaned.append(Event(label, onset, offset))
    return tuple(sorted(cleaned, key=lambda e: (e.onset, e.label, e.offset)))


def strong_label_fields(events: tuple[Event, ...], classes: tuple[str, ...]) -> dict:
    """The label fields of a strongly labelled Track: events, clip labels, mask, dominant."""
    clip_labels, clip_mask = clip_labels_from_events(events, classes)
    return {
        "events": events,
        "clip_labels": clip_labels,
        "clip_mask": clip_mask,
        "dominant": dominant_instrument(events),
        "strong_labels": True,
    }
