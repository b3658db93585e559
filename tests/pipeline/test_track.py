import pytest

from pipeline.track import Event, assign_splits, deterministic_split, dominant_instrument, merge_events


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


def _ids_hashing_to(split: str, n: int, ratios=(0.8, 0.1, 0.1)) -> list[str]:
    return [t for t in (f"song{i}" for i in range(1000)) if deterministic_split(t, ratios) == split][:n]


def test_small_corpus_gets_a_validation_and_a_test_track():
    ids = _ids_hashing_to("train", 3)
    assert {deterministic_split(t) for t in ids} == {"train"}  # the per-id hash alone: no validation, no test
    splits = assign_splits(ids)
    assert sorted(splits.values()) == ["test", "train", "validation"]
    assert splits == assign_splits(list(reversed(ids)))  # the order given does not matter
    # each split with a positive share gets one as soon as there are as many tracks as such splits
    held_out = assign_splits(_ids_hashing_to("test", 2, (0, 0.5, 0.5)), (0.0, 0.5, 0.5))
    assert sorted(held_out.values()) == ["test", "validation"]
    assert assign_splits(_ids_hashing_to("train", 2)) == {t: "train" for t in _ids_hashing_to("train", 2)}


def test_splits_of_a_bigger_corpus_are_the_per_id_splits_and_stay_as_songs_are_added():
    ids = [f"song{i}" for i in range(300)]
    for n in (40, 100, 300):
        assert assign_splits(ids[:n]) == {t: deterministic_split(t) for t in ids[:n]}
    assert assign_splits(ids, (0.5, 0.0, 0.5)) == {t: deterministic_split(t, (0.5, 0.0, 0.5)) for t in ids}
