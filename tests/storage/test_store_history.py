"""Snapshots: replaced data stays readable until expired; history; a damaged commit point is restored."""

import gzip
import json
import os

import numpy as np
import pytest

from instrec.cli import main
from storage.history import expire_snapshots, parse_duration, snapshot_log
from storage.layout import HISTORY, list_history, resolve
from storage.store import ManifestError, StoreDataError, StoreError, open_store
from storage.verify import verify_store


def _recommit(fill, url):
    """Re-extract every track (new content, new versions): what `reprocess-new-songs` does beside training."""
    return fill(url, seed=1)


def test_a_reader_of_an_old_snapshot_reads_its_data_after_a_re_extraction(small_store, fill):
    url, truth = small_store
    old = open_store(url)
    first, old_reader = old.snapshot_id, old.feature_set("logmel")
    old_path = old_reader.record("song 1")["path"]
    new_truth = _recommit(fill, url)
    latest = open_store(url)
    assert latest.snapshot_id != first and latest.feature_set("logmel").record("song 1")["path"] != old_path
    np.testing.assert_allclose(old_reader.read_features("song 1"), truth["song 1"][0], atol=0.05)
    np.testing.assert_array_equal(old_reader.read_labels("song 1")[0], truth["song 1"][1])
    np.testing.assert_allclose(latest.feature_set("logmel").read_features("song 1"), new_truth["song 1"][0], atol=0.05)
    # a run's recorded snapshot opens again, and stays on it
    pinned = open_store(url, snapshot=first)
    assert pinned.snapshot_id == first
    pinned.refresh()
    assert pinned.snapshot_id == first
    np.testing.assert_array_equal(pinned.feature_set("logmel").read_labels("song 2")[0], truth["song 2"][1])
    assert list_history(resolve(url)) == sorted([first, latest.snapshot_id])


def test_expire_deletes_replaced_data_and_a_pinned_reader_then_fails_loudly(small_store, fill):
    url, _ = small_store
    old = open_store(url)
    first, old_reader = old.snapshot_id, old.feature_set("logmel")
    old_paths = {e.track_id: old_reader.record(e.track_id)["path"] for e in old_reader.tracks()}
    _recommit(fill, url)
    kept = expire_snapshots(url, older_than_s=parse_duration("7d"))  # replaced a moment ago: kept
    assert kept.expired == [] and kept.deleted_versions == []
    report = expire_snapshots(url, older_than_s=0)
    assert report.expired == [first] and sorted(report.deleted_versions) == sorted(old_paths.values())
    assert not any(os.path.exists(os.path.join(url, p)) for p in old_paths.values())
    with pytest.raises(StoreDataError, match=f"snapshot {first} was expired .*store log"):
        old_reader.read_features("song 3", 0, 10)
    with pytest.raises(StoreError, match=f"snapshot '{first}' is not in the store"):
        open_store(url, snapshot=first)
    assert verify_store(url, deep=True).ok  # the latest snapshot is whole


def test_expire_measures_age_from_the_replacement(small_store, fill):
    url, _ = small_store
    first = open_store(url).snapshot_id
    _recommit(fill, url)
    replaced = open_store(url).manifest["committed_at"]
    assert expire_snapshots(url, older_than_s=3600, now=replaced + 3599).expired == []
    assert expire_snapshots(url, older_than_s=3600, now=replaced + 3601).expired == [first]


@pytest.mark.parametrize("damage", [b'{"schema_version": 1, "feat', b"[]", b"\xff\xfe garbage"])
def test_a_damaged_manifest_is_one_line_and_repair_restores_the_latest_snapshot(small_store, damage, capsys):
    url, truth = small_store
    latest = open_store(url).snapshot_id
    with open(os.path.join(url, "manifest.json"), "wb") as handle:
        handle.write(damage)
    with pytest.raises(ManifestError, match=r"manifest.json: the store's commit point is damaged .*verify --repair"):
        open_store(url)
    with pytest.raises(ManifestError, match="verify --repair"):
        open_store(url, mode="a")  # a writer refuses too, instead of starting a new store over it
    assert main(["store", "info", url]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1 and "manifest.json" in err and "--repair" in err
    assert main(["store", "verify", "--repair", url]) == 0
    assert f"restored manifest.json from snapshot {latest}" in capsys.readouterr().out
    store = open_store(url)
    assert store.snapshot_id == latest
    np.testing.assert_array_equal(store.feature_set("logmel").read_labels("song 0")[0], truth["song 0"][1])
    assert verify_store(url).ok


def test_a_missing_manifest_with_history_points_to_repair(small_store):
    url, _ = small_store
    os.remove(os.path.join(url, "manifest.json"))
    with pytest.raises(ManifestError, match="manifest.json is missing .*verify --repair"):
        open_store(url)
    assert verify_store(url, repair=True).repaired[0].startswith("restored manifest.json")
    assert len(open_store(url).feature_set("logmel").tracks()) == 4


def test_a_commit_killed_after_its_history_entry_is_cleaned_by_the_next_writer(small_store):
    url, _ = small_store
    loc = resolve(url)
    manifest = open_store(url).manifest
    orphan = {**manifest, "generation": manifest["generation"] + 1, "snapshot_id": f"{manifest['generation'] + 1:08d}-deadbeef"}
    with open(os.path.join(url, HISTORY, f"{orphan['snapshot_id']}.json.gz"), "wb") as handle:
        handle.write(gzip.compress(json.dumps(orphan).encode()))
    with open_store(url, mode="a") as store:
        store.collect_garbage()
    assert orphan["snapshot_id"] not in list_history(loc)


def test_store_log_and_expire_commands(small_store, fill, capsys):
    url, _ = small_store
    first = open_store(url).snapshot_id
    _recommit(fill, url)
    assert main(["store", "log", url]) == 0
    out = capsys.readouterr().out
    assert first in out and "(latest)" in out and "logmel-" in out
    assert main(["store", "log", "--json", url]) == 0
    entries = json.loads(capsys.readouterr().out)
    assert [e["generation"] for e in entries] == [1, 2] and entries[1]["latest"] and entries[0]["tracks"]
    assert main(["store", "expire", url, "--older-than", "0s"]) == 0
    assert "expired 1 snapshots, kept 1" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["store", "expire", url, "--older-than", "soon"])
    assert "not a duration" in capsys.readouterr().err


def test_durations():
    assert [parse_duration(t) for t in ("0s", "45", "30m", "12h", "7d", "2w")] == [0, 45, 1800, 43200, 604800, 1209600]
    for bad in ("", "-1d", "d", "7x", "inf"):
        with pytest.raises(ValueError, match="not a duration"):
            parse_duration(bad)


def test_expiry_killed_after_the_history_is_finished_by_the_next_expiry(small_store, fill):
    url, _ = small_store
    old = open_store(url)
    old_paths = sorted(old.feature_set("logmel").record(e.track_id)["path"] for e in old.feature_set("logmel").tracks())
    _recommit(fill, url)
    os.remove(os.path.join(url, HISTORY, f"{old.snapshot_id}.json.gz"))  # a kill -9 between the two steps
    report = verify_store(url)
    assert report.ok and sorted(report.garbage) == old_paths  # unreferenced: a note, never served
    assert sorted(expire_snapshots(url, older_than_s=3600).deleted_versions) == old_paths


def test_expire_waits_for_no_writer_and_damaged_entries_are_listed_then_expired(small_store, fill, capsys):
    from storage.locking import StoreLockedError

    url, _ = small_store
    first = open_store(url).snapshot_id
    _recommit(fill, url)
    with open(os.path.join(url, HISTORY, f"{first}.json.gz"), "wb") as handle:
        handle.write(b"\x1f\x8b truncated")
    assert main(["store", "log", "--json", url]) == 0
    assert json.loads(capsys.readouterr().out)[0] == {
        "snapshot_id": first, "generation": 1, "committed_at": None, "tracks": {}, "run_id": None,
        "latest": False, "damaged": True, "tags": []}
    with pytest.raises(StoreError, match=f"snapshot {first} is damaged"):
        open_store(url, snapshot=first)
    with open_store(url, mode="a"):
        with pytest.raises(StoreLockedError):
            expire_snapshots(url, older_than_s=0)
    assert expire_snapshots(url, older_than_s=3600).expired == [first]


def test_a_tagged_snapshot_survives_expiry_and_opens_by_its_name(small_store, fill, capsys):
    url, truth = small_store
    first = open_store(url).snapshot_id
    assert main(["store", "tag", url, "paper-2026"]) == 0
    assert f"tag paper-2026 -> snapshot {first}" in capsys.readouterr().out
    _recommit(fill, url)
    assert expire_snapshots(url, older_than_s=0).expired == []
    tagged = open_store(url, snapshot="paper-2026")
    assert tagged.snapshot_id == first
    np.testing.assert_array_equal(tagged.feature_set("logmel").read_labels("song 1")[0], truth["song 1"][1])
    assert main(["store", "log", url]) == 0
    assert "[paper-2026]" in capsys.readouterr().out
    with pytest.raises(StoreError, match="neither a snapshot id .* nor a tag .*paper-2026"):
        open_store(url, snapshot="paper")
    assert main(["store", "tag", url, "bad/name"]) == 2
    assert main(["store", "tag", url, "paper-2026", "--delete"]) == 0
    assert expire_snapshots(url, older_than_s=0).expired == [first]


def test_rollback_makes_an_older_snapshot_the_latest_again(small_store, fill, capsys):
    url, truth = small_store
    first = open_store(url).snapshot_id
    _recommit(fill, url)
    assert main(["store", "rollback", url, first]) == 0
    latest = open_store(url)
    assert latest.manifest["generation"] == 3 and f"snapshot {latest.snapshot_id} holds the tracks of {first}" in \
        capsys.readouterr().out
    np.testing.assert_array_equal(latest.feature_set("logmel").read_labels("song 3")[0], truth["song 3"][1])
    assert verify_store(url, deep=True).ok
    report = expire_snapshots(url, older_than_s=0)  # the re-extraction's versions go, the rolled-back ones stay
    assert len(report.expired) == 2 and len(report.deleted_versions) == 4
    np.testing.assert_array_equal(open_store(url).feature_set("logmel").read_labels("song 0")[0], truth["song 0"][1])


def test_a_store_from_before_history_opens_logs_and_starts_its_history_at_the_next_commit(small_store, fill):
    import shutil

    url, truth = small_store
    shutil.rmtree(os.path.join(url, HISTORY))  # as the previous release wrote it: no history, indented manifest
    manifest = open_store(url).manifest
    for key in ("parent", "run_id"):
        manifest.pop(key)
    with open(os.path.join(url, "manifest.json"), "w") as handle:
        json.dump(manifest, handle, indent=1, sort_keys=True)
    old = open_store(url)
    assert [e.snapshot_id for e in snapshot_log(old.location, old.manifest)] == [old.snapshot_id]
    assert open_store(url, snapshot=old.snapshot_id).snapshot_id == old.snapshot_id
    _recommit(fill, url)
    np.testing.assert_array_equal(old.feature_set("logmel").read_labels("song 1")[0], truth["song 1"][1])
    assert list_history(resolve(url)) == [old.snapshot_id, open_store(url).snapshot_id]  # both kept from now on
    assert verify_store(url, deep=True).ok
    assert expire_snapshots(url, older_than_s=3600).expired == []
    assert len(expire_snapshots(url, older_than_s=0).deleted_versions) == 4  # the pre-history snapshot's versions
