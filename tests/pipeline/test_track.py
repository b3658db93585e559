import pytest

from pipeline.track import Event, deterministic_split, dominant_instrument, merge_events


def test_dominant_uses_union_of_intervals():
    events = [Event("a", 0, 2), Event("a", 1, 3), Event("b", 0, 2.5)]
    # a is active 0..3 (3 s, not 4 s summed), b 2.5 s
    assert dominant_instrument(events) == "a"
    assert [(e.onset, e.offset) for e in merge_events(events) if e.label == "a"] == [(0, 3)]


def test_dominant_of_nothing_is_none():
    assert dominant_instrument([]) is None


def test_event_rejects_reversed_times():
    with pytest.raises(ValueError, match="onset"):
        Event("a", 2.0, 1.0)


def test_split_is_deterministic_and_roughly_proportional():
    splits = [deterministic_split(f"song{i}") for i in range(2000)]
    assert splits == [deterministic_split(f"song{i}") for i in range(2000)]
    assert 0.75 < splits.count("train") / 2000 < 0.85
    assert splits.count("validation") > 100 and splits.count("test") > 100
