import json
import os
import shutil

from instrec.cli import main
from storage.store import open_store
from storage.verify import verify_store


def _record(url, track_id="song 1"):
    manifest = json.loads(open(os.path.join(url, "manifest.json")).read())
    (key, doc), = manifest["feature_sets"].items()
    return manifest, key, doc["tracks"][track_id]


def test_clean_store_verifies(small_store, capsys):
    url, _ = small_store
    report = verify_store(url, deep=True)
    assert report.ok and report.tracks_checked == 4 and not report.garbage
    assert main(["store", "verify", url]) == 0
    assert "OK" in capsys.readouterr().out


def test_deleted_chunk_is_detected(small_store, capsys):
    url, _ = small_store
    _, _, record = _record(url)
    os.remove(os.path.join(url, record["path"], "features", "c.1.0"))
    report = verify_store(url)
    assert not report.ok
    assert any("song 1" in p and "features has 1 of 2 chunks missing" in p for p in report.problems)
    assert main(["store", "verify", url]) == 1
    out = capsys.readouterr().out
    assert "BROKEN" in out and "--repair" in out


def test_altered_manifest_is_detected(small_store):
    url, _ = small_store
    manifest, key, record = _record(url, "song 2")
    record["n_frames"] += 1
    manifest["feature_sets"][key]["params"]["n_mels"] = 64
    with open(os.path.join(url, "manifest.json"), "w") as handle:
        json.dump(manifest, handle)
    problems = verify_store(url).problems
    assert any("song 2" in p and "features has shape" in p for p in problems)
    assert any("config_hash does not match its params" in p for p in problems)


def test_uncommitted_versions_are_notes_and_repair_removes_them(small_store):
    url, _ = small_store
    _, key, record = _record(url, "song 3")
    garbage = os.path.join(url, os.path.dirname(record["path"]), "deadbeef0000-crashed")
    shutil.copytree(os.path.join(url, record["path"]), garbage)
    report = verify_store(url)
    assert report.ok and len(report.garbage) == 1 and "uncommitted" in report.notes[0]
    repaired = verify_store(url, repair=True)
    assert any("deleted uncommitted version" in line for line in repaired.repaired)
    assert not os.path.exists(garbage) and verify_store(url).garbage == []


def test_repair_uncommits_broken_tracks(small_store):
    url, _ = small_store
    _, _, record = _record(url, "song 0")
    shutil.rmtree(os.path.join(url, record["path"], "labels"))
    assert not verify_store(url).ok
    verify_store(url, repair=True)
    assert verify_store(url).ok
    ids = [e.track_id for e in open_store(url).feature_set("logmel").tracks()]
    assert ids == ["song 1", "song 2", "song 3"]


def test_missing_store_is_a_problem(tmp_path):
    report = verify_store(str(tmp_path / "missing"))
    assert not report.ok and "cannot open the store" in report.problems[0]


def test_verify_checks_the_snapshot_it_is_given(small_store, fill, capsys):
    url, _ = small_store
    store = open_store(url)
    first, reader = store.snapshot_id, store.feature_set("logmel")
    key, old_path = reader.key, reader.record("song 1")["path"]
    fill(url, seed=1)  # re-extracts every track: the latest refers to new versions only
    latest = open_store(url).snapshot_id
    os.remove(os.path.join(url, old_path, "features", "c.1.0"))  # data only the first snapshot reads

    assert verify_store(url).ok  # the latest is whole
    report = verify_store(url, snapshot=first)
    assert not report.ok and report.snapshot_id == first and report.tracks_checked == 4
    assert report.problems == [f"{key}/song 1 ({old_path}): features has 1 of 2 chunks missing"]
    assert f"checked snapshot {first}, not the latest ({latest})" in report.notes[0]

    assert main(["store", "verify", url, "--snapshot", first]) == 1
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"{url}: BROKEN (1 problems), 4 committed track versions checked"
    assert lines[1] == f"  problem: {key}/song 1 ({old_path}): features has 1 of 2 chunks missing"
    assert lines[2].startswith(f"  note: checked snapshot {first}") and "store log" in lines[-1]

    for name in (latest, "nightly"):  # the latest by its id, or by a tag: the root group is compared too
        if name == "nightly":
            assert main(["store", "tag", url, "nightly"]) == 0
        assert main(["store", "verify", url, "--snapshot", name]) == 0
        assert capsys.readouterr().out.splitlines()[-1] == f"{url}: OK, 4 committed track versions checked"


def test_an_unknown_snapshot_is_one_line_naming_the_store(small_store, capsys):
    url, _ = small_store
    for name, says in (("00000099-deadbeef", "snapshot '00000099-deadbeef' is not in the store"),
                       ("no-such-tag", "'no-such-tag' is neither a snapshot id")):
        assert main(["store", "verify", url, "--snapshot", name]) == 2
        err = capsys.readouterr().err
        assert len(err.strip().splitlines()) == 1
        assert err.startswith(f"instrec store verify: error: {url}: ") and says in err
        assert f"`instrec store log {url}`" in err
    latest = open_store(url).snapshot_id
    assert main(["store", "verify", url, "--snapshot", latest, "--repair"]) == 2
    assert "--repair works on the latest snapshot" in capsys.readouterr().err
