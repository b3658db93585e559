import json

import numpy as np
import pytest

from features.logmel import LogMelConfig
from storage.schema import FeatureSetSpec, TrackMeta
from storage.store import StoreError, open_store


def test_read_back_windows_labels_and_clip(small_store):
    url, truth = small_store
    store = open_store(url)
    assert store.classes == ["flute", "bass", "drums"] and store.dataset == "folder"
    reader = store.feature_set("logmel")
    assert reader.key.startswith("logmel-") and len(reader.key) == len("logmel-") + 8
    assert [e.track_id for e in reader.tracks()] == sorted(truth)
    assert [e.track_id for e in reader.tracks("test")] == ["song 1", "song 3"]
    features, labels, mask, clip, clip_mask = truth["song 2"]
    window = reader.read_features("song 2", 300, 750)
    assert window.dtype == np.float32 and window.shape == (450, 128)
    # float16 storage: dB values in [-100, 20] round to within 0.03 dB
    assert np.abs(window - features[300:750]).max() <= 0.032
    got_labels, got_mask = reader.read_labels("song 2", 300, 750)
    assert got_labels.dtype == np.uint8 and np.array_equal(got_labels, labels[300:750])
    assert got_mask.dtype == bool and got_mask.all()
    got_clip, got_clip_mask = reader.read_clip("song 2")
    assert np.array_equal(got_clip, clip) and np.array_equal(got_clip_mask, clip_mask)
    assert reader.read_features("song 0", 690, 10_000).shape == (10, 128)  # clipped at the end


def test_uncommitted_tracks_are_invisible(tmp_path):
    url = str(tmp_path / "s")
    with open_store(url, mode="a") as store:
        store.initialize(dataset="folder", classes=["a"])
        key = store.add_feature_set(FeatureSetSpec.from_config(LogMelConfig()))
        store.commit()  # nothing staged: no new snapshot
        meta = TrackMeta(track_id="t", split="train", duration=1.0, content_hash="f" * 64)
        record = store.version_writer.write_track(
            FeatureSetSpec.from_config(LogMelConfig()), meta, classes=["a"], features=np.zeros((44, 128)),
            labels=np.zeros((44, 1), np.uint8), label_mask=np.ones((44, 1), bool), clip_labels=np.zeros(1),
            clip_mask=np.ones(1, bool),
        )
        assert open_store(url).feature_sets() == [] or open_store(url).feature_set(key).tracks() == []
        store.commit([record])
    assert [e.track_id for e in open_store(url).feature_set(key).tracks()] == ["t"]


def test_changed_parameter_makes_a_new_feature_set(small_store, fill):
    url, _ = small_store
    fill(url, n_tracks=1, config=LogMelConfig(n_mels=64))
    store = open_store(url)
    assert len(store.feature_sets()) == 2
    with pytest.raises(StoreError, match="ambiguous"):
        store.feature_set("logmel")
    shapes = {store.feature_set(k).frame_shape for k in store.feature_sets()}
    assert shapes == {(128,), (64,)}
    small = [k for k in store.feature_sets() if store.feature_set(k).params["n_mels"] == 64][0]
    assert len(store.feature_set(small).tracks()) == 1


def test_feature_set_resolution_errors(small_store, tmp_path):
    url, _ = small_store
    from storage.store import open_store as reopen

    store = reopen(url)
    with pytest.raises(StoreError, match="not in the store"):
        store.feature_set("scalogram")
    with pytest.raises(StoreError, match="no feature store here"):
        open_store(str(tmp_path / "nowhere"))


def test_xarray_reads_named_dimensions(small_store):
    url, truth = small_store
    reader = open_store(url).feature_set("logmel")
    ds = reader.to_xarray("song 1")
    assert ds["features"].dims == ("time", "mel")
    assert ds["labels"].dims == ("time", "class")
    assert ds["clip_mask"].dims == ("class",)
    assert ds.attrs["track_id"] == "song 1"
    assert ds.sizes["time"] == truth["song 1"][0].shape[0]


def test_manifest_and_attributes_are_plain_json(small_store):
    url, _ = small_store
    manifest = json.loads(open(f"{url}/manifest.json").read())
    (key, doc), = manifest["feature_sets"].items()
    assert doc["params"]["n_mels"] == 128 and doc["config_hash"].startswith(key.split("-")[1])
    root = json.loads(open(f"{url}/zarr.json").read())
    assert root["attributes"]["classes"] == ["flute", "bass", "drums"]
    assert root["attributes"]["instrec_schema_version"] == manifest["schema_version"] == 1


def test_values_beyond_float16_are_refused(tmp_path):
    url = str(tmp_path / "s")
    with open_store(url, mode="a") as store:
        store.initialize(dataset="folder", classes=["a"])
        key = store.add_feature_set(FeatureSetSpec.from_config(LogMelConfig()))
        meta = TrackMeta(track_id="loud", split="train", duration=1.0, content_hash="e" * 64)
        with pytest.raises(ValueError, match="float16 range.*dtype='float32'"):
            store.write_track(key, meta=meta, features=np.full((4, 128), 1e6), labels=np.zeros((4, 1), np.uint8),
                              label_mask=np.ones((4, 1), bool), clip_labels=np.zeros(1), clip_mask=np.ones(1, bool))


def test_label_chunks_span_four_feature_chunks_and_read_back_across_them(tmp_path):
    url = str(tmp_path / "s")
    n = 5000
    labels = (np.arange(n)[:, None] % 7 == 0).astype(np.uint8)
    with open_store(url, mode="a") as store:
        store.initialize(dataset="folder", classes=["a"])
        spec = FeatureSetSpec.from_config(LogMelConfig())
        key = store.add_feature_set(spec)
        meta = TrackMeta(track_id="t", split="train", duration=116.0, content_hash="e" * 64)
        record = store.version_writer.write_track(
            spec, meta, classes=["a"], features=np.zeros((n, 128)), labels=labels,
            label_mask=np.ones((n, 1), bool), clip_labels=np.zeros(1), clip_mask=np.ones(1, bool))
        store.commit([record])
    chunks = {p.parent.name: json.loads(p.read_text())["chunk_grid"]["configuration"]["chunk_shape"]
              for p in tmp_path.rglob("zarr.json") if p.parent.name in ("features", "labels", "label_mask")}
    assert chunks == {"features": [512, 128], "labels": [2048, 1], "label_mask": [2048, 1]}
    got, mask = open_store(url).feature_set(key).read_labels("t", 2000, 4200)  # three label chunks
    assert np.array_equal(got, labels[2000:4200]) and mask.all()
