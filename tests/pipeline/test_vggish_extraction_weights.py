"""`instrec extract --features logmel,scalogram,vggish`: three feature sets with aligned labels,
and VGGish weights handed to workers by reference and recorded by sha256."""

import hashlib
import pickle

import numpy as np
import pytest
import torch

from features.grid import frame_labels
from features.registry import config_from_params
from features.vggish import PROCESS_NETWORKS, VGGishConfig, random_vggish
from features.vggish_weights import PROCESS_CHECKPOINTS, VGGishWeightsError
from instrec.cli import build_parser, main
from pipeline.demo import generate_corpus
from pipeline.readers import read_dataset
from pipeline.track import InstrecError, Track
from pipeline.vggish_options import VGGishOptions, WeightsFile, build_feature_configs, vggish_config
from storage.store import open_store
from storage.verify import verify_store


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("slakh-demo")
    generate_corpus(root, layout="slakh", songs=3, seconds=5, seed=0, workers=1)
    return root


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    path = tmp_path_factory.mktemp("weights") / "vggish-copy.pth"
    torch.save(random_vggish(seed=3).state_dict(), path)
    return path


def test_extract_cli_has_the_vggish_options():
    argv = ["extract", "R", "--dataset", "slakh", "--store", "S", "--vggish-weights", "w.pth"]
    assert build_parser(argv).parse_known_args(argv)[1] == []


def test_extract_three_feature_sets_with_aligned_labels(tmp_path, corpus):
    url = str(tmp_path / "store")
    assert main(["extract", "--dataset", "slakh", str(corpus), "--store", url, "--workers", "0",
                 "--no-progress", "--features", "logmel,scalogram,vggish"]) == 0
    store = open_store(url)
    assert sorted(key.split("-")[0] for key in store.feature_sets()) == ["logmel", "scalogram", "vggish"]
    tracks = {t.track_id: t for t in read_dataset("slakh", corpus) if isinstance(t, Track)}
    assert len(tracks) == 3
    vggish = store.feature_set("vggish")
    assert vggish.params["weights"] == "random" and vggish.params["seed"] == 0
    assert vggish.hop_s == pytest.approx(0.96) and vggish.first_centre == pytest.approx(0.48)
    for key in store.feature_sets():
        reader = store.feature_set(key)
        assert [e.track_id for e in reader.tracks()] == sorted(tracks)
        for entry in reader.tracks():
            features = reader.read_features(entry.track_id)
            labels, mask = reader.read_labels(entry.track_id)
            assert features.shape == (entry.n_frames, *reader.frame_shape) and labels.shape[0] == entry.n_frames
            assert mask.all()  # slakh: strong labels
            track = tracks[entry.track_id]
            grid = config_from_params(reader.params).grid
            n_samples = int(reader.record(entry.track_id)["n_samples"])
            assert entry.n_frames == grid.n_frames(n_samples)
            expected = frame_labels(track.events, store.classes, grid, entry.n_frames)
            assert np.array_equal(labels, expected), key
            assert labels.any()
    assert store.feature_set("vggish").tracks()[0].n_frames == 5  # 5 s // 0.96 s
    assert verify_store(url, deep=True).ok


def test_checkpoint_travels_by_reference_and_its_sha256_is_recorded(tmp_path, checkpoint):
    options = VGGishOptions(weights=str(checkpoint))
    config = vggish_config(options)
    sha = hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert (config.weights, config.weights_sha256, config.final_relu) == ("official", sha, True)
    payload = pickle.dumps(config)
    assert len(payload) < 100_000  # not the 290 MB of tensors
    y = np.random.default_rng(0).standard_normal(16000 * 3).astype(np.float32) * 0.1
    expected = config.embed(y, device="cpu")
    PROCESS_CHECKPOINTS.clear()  # as in a fresh worker process
    PROCESS_NETWORKS.clear()
    worker_copy = pickle.loads(payload)
    np.testing.assert_allclose(worker_copy.embed(y, device="cpu"), expected, rtol=1e-5, atol=1e-6)
    assert len(PROCESS_CHECKPOINTS) == 1
    again = pickle.loads(payload)  # the next task in the same worker process: no second load or build
    assert again.model("cpu") is worker_copy.model("cpu")
    assert len(PROCESS_CHECKPOINTS) == 1
    random_out = VGGishConfig(seed=0).embed(y, device="cpu")
    assert not np.allclose(random_out, expected)


def test_changed_weights_file_is_caught_by_sha256(tmp_path):
    path = tmp_path / "w.pth"
    torch.save(random_vggish(seed=1).state_dict(), path)
    payload = pickle.dumps(vggish_config(VGGishOptions(weights=str(path))))
    torch.save(random_vggish(seed=2).state_dict(), path)
    PROCESS_CHECKPOINTS.clear()
    PROCESS_NETWORKS.clear()
    with pytest.raises(VGGishWeightsError, match="file changed during the run"):
        pickle.loads(payload).embed(np.zeros(16000, np.float32), device="cpu")


def test_pretrained_sidecar_sets_kind_and_final_relu(tmp_path, checkpoint):
    (tmp_path / "p.pth").write_bytes(checkpoint.read_bytes())
    (tmp_path / "p.pth.json").write_text('{"weights": "pretrained", "final_relu": false}')
    config = vggish_config(VGGishOptions(weights=str(tmp_path / "p.pth")))
    assert (config.weights, config.final_relu) == ("pretrained", False)
    assert vggish_config(VGGishOptions(weights=str(tmp_path / "p.pth"), kind="official")).weights == "official"


def test_bad_weights_options_are_named(tmp_path):
    with pytest.raises(InstrecError, match="need a checkpoint"):
        VGGishOptions(pca="pca.npz")
    with pytest.raises(InstrecError, match="does not include vggish"):
        build_feature_configs(["logmel"], vggish=VGGishOptions(weights=str(tmp_path / "x.pth")))
    with pytest.raises(InstrecError, match="x.pth: no such weights file"):
        vggish_config(VGGishOptions(weights=str(tmp_path / "x.pth")))
    with pytest.raises(InstrecError, match="unknown feature set 'mfcc'"):
        build_feature_configs(["mfcc"])
    assert WeightsFile(str(tmp_path / "x.pth")).exists() is False


def test_extract_cli_with_a_checkpoint_on_dask_workers(tmp_path, corpus, checkpoint):
    url = str(tmp_path / "store")
    assert main(["extract", "--dataset", "slakh", str(corpus), "--store", url, "--workers", "1", "--no-progress",
                 "--features", "vggish", "--vggish-weights", str(checkpoint)]) == 0
    reader = open_store(url).feature_set("vggish")
    assert reader.params["weights"] == "official"
    assert reader.params["weights_sha256"] == hashlib.sha256(checkpoint.read_bytes()).hexdigest()
    assert verify_store(url).ok
