"""Lost or damaged chunks are errors, never fill values or flipped values: every chunk is written,
every chunk carries a crc32c checksum, and readers, export and ``verify --deep`` name the chunk."""

import json
import os

import numpy as np
import pytest

import storage.writer
from features.logmel import LogMelConfig
from instrec.cli import main
from storage.export import export_split
from storage.schema import FeatureSetSpec, TrackMeta
from storage.store import StoreDataError, open_store
from storage.verify import verify_store


def _chunk(url, track_id, array, chunk="1/0"):
    reader = open_store(url).feature_set("logmel")
    return os.path.join(url, reader.record(track_id)["path"], array, "c." + chunk.replace("/", "."))


def _flip(path, offset=40):
    data = bytearray(open(path, "rb").read())
    data[min(offset, len(data) - 1)] ^= 0x10
    with open(path, "wb") as handle:
        handle.write(bytes(data))


def test_every_chunk_is_written_even_all_zero_and_every_array_has_a_checksum(tmp_path):
    url = str(tmp_path / "store")
    spec = FeatureSetSpec.from_config(LogMelConfig(n_mels=8), chunk_frames=16)
    with open_store(url, mode="a") as store:
        store.initialize(dataset="x", classes=["a", "b"])
        key = store.add_feature_set(spec)
        record = store.write_track(key, meta=TrackMeta(track_id="silent", split="train", duration=1.0, content_hash="0" * 64),
                                   features=np.zeros((40, 8), np.float32), labels=np.zeros((40, 2), np.uint8),
                                   label_mask=np.zeros((40, 2), bool), clip_labels=np.zeros(2, np.float32),
                                   clip_mask=np.zeros(2, bool))
        store.commit()
    group = os.path.join(url, record["path"])
    assert len([f for f in os.listdir(os.path.join(group, "features")) if f.startswith("c.")]) == 3  # ceil(40 / 16), all zero
    for name in sorted(os.listdir(group)):
        if os.path.isdir(os.path.join(group, name)):
            codecs = [c["name"] for c in json.load(open(os.path.join(group, name, "zarr.json")))["codecs"]]
            assert codecs[-1] == "crc32c", (name, codecs)


@pytest.mark.parametrize("array", ["features", "labels", "label_mask"])
def test_a_deleted_chunk_is_an_error_naming_store_track_and_array(small_store, array):
    url, _ = small_store
    chunk = "1/0" if array == "features" else "0/0"
    os.remove(_chunk(url, "song 1", array, chunk))
    reader = open_store(url).feature_set("logmel")
    read = reader.read_features if array == "features" else reader.read_labels
    with pytest.raises(StoreDataError, match=rf"{url}: array {array} of committed track 'song 1' has lost a chunk"
                                             r".*instrec store verify"):
        read("song 1", 600, 700)
    read("song 3", 600, 700)  # other tracks are unaffected


def test_a_deleted_chunk_stops_export(small_store, tmp_path):
    url, _ = small_store
    os.remove(_chunk(url, "song 1", "features", "0/0"))
    for to, path in (("numpy", None), ("parquet", tmp_path / "x.parquet")):
        with pytest.raises(StoreDataError, match="'song 1' has lost a chunk"):
            export_split(url, split="test", to=to, path=path)
    assert main(["store", "export", url, "--split", "test", "--out", str(tmp_path / "y.npz")]) == 2


@pytest.mark.parametrize("array", ["features", "labels"])
def test_a_flipped_byte_fails_decoding_and_verify_deep_names_the_chunk(small_store, array, capsys):
    url, _ = small_store
    chunk = "1/0" if array == "features" else "0/0"
    path = _chunk(url, "song 2", array, chunk)
    _flip(path)
    reader = open_store(url).feature_set("logmel")
    read = reader.read_features if array == "features" else reader.read_labels
    with pytest.raises(StoreDataError, match=rf"array {array} of track 'song 2' .*crc32c checksum mismatch.*--deep"):
        read("song 2")
    assert verify_store(url).ok  # shallow: every chunk is there
    report = verify_store(url, deep=True)
    relative = os.path.relpath(path, url)
    assert any(p.startswith("logmel-") and "song 2" in p and f"{relative}: chunk cannot be decoded" in p
               for p in report.problems), report.problems
    assert main(["store", "verify", "--deep", url]) == 1
    assert relative in capsys.readouterr().out


def test_a_store_written_without_checksums_still_opens_and_reads(tmp_path, fill, monkeypatch):
    from zarr.codecs import BloscCodec

    def plain(): return [BloscCodec(cname="lz4", clevel=5, shuffle="shuffle")]

    monkeypatch.setattr(storage.writer, "frames_codec", plain)
    monkeypatch.setattr(storage.writer, "labels_codec", plain)
    monkeypatch.setattr(storage.writer, "small_codec", plain)
    url = str(tmp_path / "old")
    truth = fill(url, n_tracks=2)
    reader = open_store(url).feature_set("logmel")
    group = os.path.join(url, reader.record("song 0")["path"])
    assert "crc32c" not in open(os.path.join(group, "features", "zarr.json")).read()
    np.testing.assert_array_equal(reader.read_labels("song 0")[0], truth["song 0"][1])
    assert verify_store(url, deep=True).ok


def test_labels_other_than_0_1_are_an_error_not_a_target(tmp_path):
    """What a flipped byte in a store without checksums can decode to."""
    url = str(tmp_path / "store")
    spec = FeatureSetSpec.from_config(LogMelConfig(n_mels=8), chunk_frames=16)
    labels = np.zeros((40, 2), np.uint8)
    labels[33, 1] = 7
    with open_store(url, mode="a") as store:
        store.initialize(dataset="x", classes=["a", "b"])
        key = store.add_feature_set(spec)
        store.write_track(key, meta=TrackMeta(track_id="t", split="train", duration=1.0, content_hash="0" * 64),
                          features=np.zeros((40, 8), np.float32), labels=labels, label_mask=labels < 2,
                          clip_labels=np.zeros(2, np.float32), clip_mask=np.zeros(2, bool))
        store.commit()
    reader = open_store(url).feature_set("logmel")
    assert reader.read_labels("t", 0, 30)[0].max() == 0
    with pytest.raises(StoreDataError, match="labels of track 't' holds values other than 0/1 in frames 30:40"):
        reader.read_labels("t", 30, 40)


def test_stores_with_nested_chunk_keys_of_earlier_releases_read_and_verify(tmp_path, monkeypatch):
    """Earlier releases wrote ``features/c/1/0``; today's writer ``features/c.1.0``.  Both read the
    same values, and a lost chunk of the old layout is still an error, never zeros."""
    stores = {}
    for separator in ("/", "."):
        monkeypatch.setattr(storage.writer, "CHUNK_KEY_ENCODING", {"name": "default", "separator": separator})
        url = str(tmp_path / f"store{'-nested' if separator == '/' else ''}")
        spec = FeatureSetSpec.from_config(LogMelConfig(n_mels=8), chunk_frames=16)
        features = np.random.default_rng(0).standard_normal((40, 8)).astype(np.float32)
        with open_store(url, mode="a") as store:
            store.initialize(dataset="x", classes=["a", "b"])
            key = store.add_feature_set(spec)
            record = store.write_track(key, meta=TrackMeta(track_id="t", split="train", duration=1.0,
                                                           content_hash="0" * 64),
                                       features=features, labels=np.ones((40, 2), np.uint8),
                                       label_mask=np.ones((40, 2), bool), clip_labels=np.zeros(2, np.float32),
                                       clip_mask=np.zeros(2, bool))
            store.commit()
        stores[separator] = (url, record["path"])
        assert verify_store(url, deep=True).ok
    (old, old_path), (new, _) = stores["/"], stores["."]
    assert os.path.isfile(os.path.join(old, old_path, "features", "c", "1", "0"))
    old_reader, new_reader = open_store(old).feature_set("logmel"), open_store(new).feature_set("logmel")
    assert np.array_equal(old_reader.read_features("t", 0, 40), new_reader.read_features("t", 0, 40))
    os.remove(os.path.join(old, old_path, "features", "c", "1", "0"))
    with pytest.raises(StoreDataError, match="has lost a chunk"):
        open_store(old).feature_set("logmel").read_features("t", 0, 40)
    report = verify_store(old, deep=True)
    assert not report.ok and any("features has 1 of 3 chunks missing" in p for p in report.problems)
