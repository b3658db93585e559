"""Event cleanup shared by every reader (union, gap merging, minimum length, end cut)."""

from __future__ import annotations

import pytest

from pipeline.readers.labels import EventOptions, clean_events
from pipeline.track import DatasetError, Event


def spans(events, label="a"):
    return [(e.onset, e.offset) for e in events if e.label == label]


def test_default_is_the_exact_union():
    events = [Event("a", 0.0, 1.0), Event("a", 0.5, 1.5), Event("a", 1.5, 2.0), Event("a", 3.0, 3.1),
              Event("b", 0.2, 0.3)]
    cleaned = clean_events(events)
    assert spans(cleaned) == [(0.0, 2.0), (3.0, 3.1)]  # touching intervals join
    assert spans(cleaned, "b") == [(0.2, 0.3)]
    assert [e.label for e in cleaned] == ["a", "b", "a"]  # sorted by onset


def test_gap_merging_then_minimum_length():
    events = [Event("a", 0.0, 0.1), Event("a", 0.15, 0.2), Event("a", 1.0, 1.05), Event("a", 2.0, 3.0)]
    # gaps: 0.05 (closed with merge_gap_s=0.1), 0.8, 0.95 (kept)
    assert spans(clean_events(events, options=EventOptions(merge_gap_s=0.1))) == [
        (0.0, 0.2), (1.0, 1.05), (2.0, 3.0)]
    # then events shorter than 0.1 s go: (1.0, 1.05) only
    options = EventOptions(merge_gap_s=0.1, min_event_s=0.1)
    assert spans(clean_events(events, options=options)) == [(0.0, 0.2), (2.0, 3.0)]


def test_events_are_cut_at_the_end():
    events = [Event("a", 0.0, 5.0), Event("a", 6.0, 7.0), Event("b", 4.0, 4.5)]
    assert spans(clean_events(events, end=4.2)) == [(0.0, 4.2)]
    assert spans(clean_events(events, end=4.2), "b") == [(4.0, 4.2)]


def test_options_are_validated():
    with pytest.raises(DatasetError, match="min_event_s must be a number of seconds >= 0"):
        EventOptions(min_event_s=-1.0)
    with pytest.raises(DatasetError, match="merge_gap_s"):
        EventOptions(merge_gap_s=float("nan"))
