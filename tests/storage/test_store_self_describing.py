"""The store read from outside instrec: xarray coordinates and attributes, no warnings, and the split export."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pytest
import xarray as xr

from features.logmel import LogMelConfig
from features.scalogram import ScalogramConfig
from storage.export import export_split
from storage.schema import FeatureSetSpec, StemMeta, TrackMeta
from storage.store import StoreError, open_store

from .conftest import CLASSES


def _track_path(url: str, track_id: str, *, level: str = "tracks") -> str:
    with open(f"{url}/manifest.json") as handle:
        (doc,) = json.load(handle)["feature_sets"].values()
    return doc[level][track_id]["path"]


def test_a_track_opened_with_xarray_has_coordinates_attributes_and_no_warning(small_store):
    url, truth = small_store
    path = _track_path(url, "song 1")
    config = LogMelConfig()
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a consolidated-metadata or "not recognized" warning fails the test
        ds = xr.open_zarr(url, group=path)
        direct = xr.open_zarr(f"{url}/{path}")
        tree = xr.open_datatree(url, engine="zarr")
    n = len(truth["song 1"][0])
    assert ds.sizes == {"time": n, "mel": 128, "class": 3}
    np.testing.assert_allclose(ds["time"].values, np.arange(n) * 512 / 22050)
    assert ds["time"].attrs["units"] == "s" and ds["mel"].attrs["units"] == "Hz"
    assert list(ds["class"].values) == CLASSES
    # mel centre frequencies as librosa defines them (the peaks of the Slaney triangles)
    import librosa

    np.testing.assert_allclose(ds["mel"].values, librosa.mel_frequencies(n_mels=130, fmax=11025)[1:-1], rtol=1e-6)
    np.testing.assert_allclose(ds["mel"].values, config.bin_frequencies())
    assert ds.attrs["sr"] == 22050 and ds.attrs["hop_length"] == 512 and ds.attrs["first_centre"] == 0.0
    assert ds.attrs["feature_params"]["n_mels"] == 128 and ds.attrs["feature_params"]["fmin"] == 0.0
    assert ds.attrs["track_id"] == "song 1" and ds.attrs["split"] == "test"
    assert np.array_equal(ds["labels"].sel(time=slice(1.0, 2.0)).values,
                          truth["song 1"][1][int(np.ceil(1.0 * 22050 / 512)): int(2.0 * 22050 / 512) + 1])
    assert direct.identical(ds)
    assert path in {node.path.lstrip("/") for node in tree.subtree}


def test_scalogram_tracks_carry_their_scale_frequencies(tmp_path, fill):
    config = ScalogramConfig(n_scales=32)
    url = str(tmp_path / "s")
    fill(url, n_tracks=1, n_frames=50, config=config)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(url, group=_track_path(url, "song 0"))
    np.testing.assert_allclose(ds["scale"].values, config.frequencies())
    assert ds["features"].dims == ("time", "scale") and ds["scale"].attrs["units"] == "Hz"


def test_stem_groups_have_coordinates_too(tmp_path):
    url = str(tmp_path / "s")
    spec = FeatureSetSpec.from_config(LogMelConfig(n_mels=16))
    meta = TrackMeta(track_id="song", split="train", duration=1.0, content_hash="a" * 64)
    with open_store(url, mode="a") as store:
        store.initialize(dataset="demo", classes=CLASSES, settings={"stems": True})
        store.add_feature_set(spec)
        stems = [StemMeta("S00", "bass", 33), StemMeta("S01", "drums", None)]
        group = store.version_writer.begin_stems(spec, meta, stems=stems, n_frames=20)
        for i in range(2):
            group.write_stem(i, activity=np.ones(20), blocks=[(0, np.zeros((20, 16)))])
        store.commit([group.record()])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(url, group=_track_path(url, "song", level="stems"))
    assert ds["features"].dims == ("stem", "time", "mel")
    assert list(ds["stem"].values) == ["S00", "S01"] and list(ds["label"].values) == ["bass", "drums"]
    assert "label" in ds.coords and ds.sizes["time"] == 20 and ds["mel"].size == 16
    assert ds.attrs["hop_s"] == pytest.approx(512 / 22050)


def test_a_replaced_track_opens_at_its_new_version(small_store, fill):
    url, _ = small_store
    old = _track_path(url, "song 0")
    fill(url, n_tracks=1, seed=5)  # the same ids with new content: song 0 replaced
    new = _track_path(url, "song 0")
    assert new != old
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        ds = xr.open_zarr(url, group=new)
    reader = open_store(url).feature_set("logmel")
    np.testing.assert_array_equal(ds["features"].values.astype(np.float32), reader.read_features("song 0"))
    with pytest.raises(KeyError):  # the retired version's files are gone, and it is no longer listed
        xr.open_zarr(url, group=old)


def test_export_a_split_to_xarray_numpy_and_parquet(small_store, tmp_path):
    url, truth = small_store
    reader = open_store(url).feature_set("logmel")
    test_ids = [e.track_id for e in reader.tracks("test")]
    ds = export_split(url, split="test")
    n = sum(len(truth[t][0]) for t in test_ids)
    assert ds.sizes == {"frame": n, "mel": 128, "class": 3} and ds.attrs["split"] == "test"
    first = truth[test_ids[0]]
    np.testing.assert_allclose(ds["features"].values[: len(first[0])], reader.read_features(test_ids[0]))
    assert np.array_equal(ds["labels"].values[len(first[0]):], truth[test_ids[1]][1])
    assert list(ds["track_id"].values[[0, -1]]) == test_ids
    assert ds["time"].values[len(first[0])] == 0.0  # time restarts with each track

    arrays = export_split(url, split="test", to="numpy", path=tmp_path / "test.npz")
    assert arrays["features"].shape == (n, 128) and list(arrays["classes"]) == CLASSES
    assert np.array_equal(np.load(tmp_path / "test.npz")["labels"], ds["labels"].values)

    import pyarrow.parquet as pq

    table = pq.read_table(export_split(url, split="test", to="parquet", path=tmp_path / "test.parquet"))
    assert table.num_rows == n and table.column_names == ["track_id", "split", "time", "features", "labels",
                                                          "label_mask"]
    frame = table.to_pandas()
    np.testing.assert_allclose(np.stack(frame["features"]), ds["features"].values)
    assert np.array_equal(np.stack(frame["labels"]), ds["labels"].values)
    meta = json.loads(table.schema.metadata[b"instrec"])
    assert meta["classes"] == CLASSES and len(meta["bins"]["mel"]) == 128 and meta["sr"] == 22050
    with pytest.raises(StoreError, match="no committed track in split 'dev'"):
        export_split(url, split="dev")
    with pytest.raises(StoreError, match="needs a file"):
        export_split(url, to="parquet")


def test_store_export_command(small_store, tmp_path, capsys):
    from instrec.cli import main

    url, _ = small_store
    assert main(["store", "export", url, "--split", "train", "--out", str(tmp_path / "train.parquet")]) == 0
    import pyarrow.parquet as pq

    assert set(pq.read_table(tmp_path / "train.parquet").column("split").to_pylist()) == {"train"}


def test_verify_rewrites_a_stale_root_listing(small_store):
    from storage.verify import verify_store

    url, _ = small_store
    with open(f"{url}/zarr.json") as handle:
        root = json.load(handle)
    root.pop("consolidated_metadata")  # as a store written before instrec consolidated its root
    with open(f"{url}/zarr.json", "w") as handle:
        json.dump(root, handle)
    report = verify_store(url)
    assert report.ok and any("does not list exactly the committed tracks" in n for n in report.notes)
    repaired = verify_store(url, repair=True)
    assert "rewrote the root zarr.json's consolidated metadata" in repaired.repaired
    assert not any("does not list" in n for n in verify_store(url).notes)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        xr.open_zarr(url, group=_track_path(url, "song 0"))
