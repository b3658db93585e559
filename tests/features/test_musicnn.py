"""musicnn's input, networks and feature configuration (no checkpoint needed: random weights
stand in for the real ones, under the real sha256, where only the machinery is tested)."""

from __future__ import annotations

import pickle

import librosa
import numpy as np
import pytest
import torch

from features.base import config_hash, config_params
from features.musicnn import (
    BN_EPS,
    Musicnn,
    MusicnnConfig,
    MusicnnVGG,
    bn_relu_max,
    build_network,
    musicnn_log_mel,
    repeat_pad,
)
from features.musicnn_weights import CHECKPOINTS, MusicnnCheckpoint, MusicnnWeightsError
from features.registry import build_config, config_from_params
from pipeline.extraction.extract import iter_feature_blocks

SR = 16000


def tone(seconds: float, *, seed: int = 0, amplitude: float = 0.5) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(int(seconds * SR)) / SR
    y = amplitude * np.sin(2 * np.pi * 440 * t) * (1 + np.sin(2 * np.pi * 0.7 * t)) / 2
    return (y + 0.05 * rng.standard_normal(len(t))).astype(np.float32)


def random_checkpoint(model: str, *, seed: int = 0) -> MusicnnCheckpoint:
    """Seeded random weights and BN statistics, under the model's real sha256."""
    torch.manual_seed(seed)
    network = build_network(model)
    with torch.no_grad():
        for module in network.modules():
            if isinstance(module, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)):
                module.weight.normal_()  # some negative scales: the folded max must take the min
                module.bias.normal_()
                module.running_mean.normal_()
                module.running_var.uniform_(0.5, 2.0)
    state = {k: v for k, v in network.state_dict().items() if not k.endswith("num_batches_tracked")}
    return MusicnnCheckpoint(model=model, state_dict=state, sha256=CHECKPOINTS[model].data_sha256, source="<random>")


@pytest.fixture(scope="module")
def musicnn_weights():
    return random_checkpoint("MTT_musicnn")


def test_log_mel_is_librosas_melspectrogram_rounded_to_float16_then_log_compressed():
    y = tone(2.0)
    power = librosa.feature.melspectrogram(y=y, sr=SR, hop_length=256, n_fft=512, n_mels=96).T
    expected = np.log10(1 + 10000 * power.astype(np.float16).astype(np.float32))
    ours = musicnn_log_mel(y)
    assert ours.shape == expected.shape == (1 + len(y) // 256, 96) and ours.dtype == np.float32
    err = np.abs(ours - expected)
    assert err.max() < 5e-4 and err.mean() < 1e-5  # float16 rounding may flip one step
    loud = musicnn_log_mel(tone(1.0, amplitude=0.9))
    assert np.isfinite(loud).all() and loud.max() > np.log10(1 + 10000 * 6.55)  # no float16 overflow


def test_log_mel_frames_anywhere_with_zeros_outside_the_signal():
    y = tone(1.5)
    whole = musicnn_log_mel(y)
    np.testing.assert_array_equal(musicnn_log_mel(y, start=10, n_frames=50), whole[10:60])
    padded = np.concatenate([np.zeros(5 * 256, dtype=np.float32), y])
    np.testing.assert_array_equal(musicnn_log_mel(y, start=-5, n_frames=20), musicnn_log_mel(padded)[:20])
    assert musicnn_log_mel(np.zeros(0, dtype=np.float32), n_frames=0).shape == (0, 96)
    with pytest.raises(ValueError, match="mono"):
        musicnn_log_mel(np.zeros((2, 100), dtype=np.float32))


def test_repeat_pad_tiles_and_crops():
    frames = np.arange(3 * 96, dtype=np.float32).reshape(3, 96)
    padded = repeat_pad(frames)
    assert padded.shape == (187, 96)
    np.testing.assert_array_equal(padded[:3], frames)
    np.testing.assert_array_equal(padded[183:186], frames)
    np.testing.assert_array_equal(padded[186], frames[0])


def test_network_output_shapes():
    x = torch.randn(2, 187, 96)
    with torch.inference_mode():
        out = Musicnn().eval()(x)
        shorter = Musicnn().eval()(torch.randn(1, 100, 96))
        vgg = MusicnnVGG().eval()(x)
    shapes = {k: tuple(v.shape) for k, v in out.items()}
    assert shapes == {"timbral": (2, 187, 408), "temporal": (2, 187, 153), "cnn1": (2, 187, 64),
                      "cnn2": (2, 187, 64), "cnn3": (2, 187, 64), "mean_pool": (2, 753), "max_pool": (2, 753),
                      "penultimate": (2, 200), "logits": (2, 50), "taggram": (2, 50)}
    assert shorter["max_pool"].shape == (1, 753)  # musicnn itself takes any length
    assert {k: tuple(v.shape) for k, v in vgg.items()} == {
        "pool1": (2, 92, 48, 128), "pool2": (2, 46, 24, 128), "pool3": (2, 23, 12, 128), "pool4": (2, 11, 6, 128),
        "pool5": (2, 2, 1, 128), "pool5_flat": (2, 256), "logits": (2, 50), "taggram": (2, 50)}
    assert set(Musicnn()(x, up_to="pool")) == {"timbral", "temporal", "cnn1", "cnn2", "cnn3", "mean_pool", "max_pool"}


def test_folded_bn_relu_max_equals_the_composition():
    torch.manual_seed(1)
    bn = torch.nn.BatchNorm2d(6, eps=BN_EPS)
    with torch.no_grad():
        bn.weight.copy_(torch.tensor([1.5, -2.0, 0.0, 0.3, -0.1, 1.0]))
        bn.bias.normal_()
        bn.running_mean.normal_()
        bn.running_var.uniform_(0.5, 2.0)
    z = torch.randn(3, 6, 20, 17)
    with torch.no_grad():
        bn.eval()
        np.testing.assert_allclose(bn_relu_max(z, bn), bn(torch.relu(z)).amax(dim=3), atol=1e-6)
        bn.train()
        np.testing.assert_allclose(bn_relu_max(z, bn), bn(torch.relu(z)).amax(dim=3), atol=1e-6)


def test_config_validation_params_and_rebuild(musicnn_weights):
    config = MusicnnConfig(checkpoint=musicnn_weights)
    assert config.weights_sha256 == CHECKPOINTS["MTT_musicnn"].data_sha256
    assert config.frame_shape() == (753,) and config.has_weights()
    assert (config.grid.hop_length, config.grid.centered, config.grid.min_frames) == (187 * 256, False, 1)
    assert config.context_samples == 256 and config.patch_offset == 0
    dense = MusicnnConfig(hop_frames=62)
    assert dense.patch_offset == -62 and dense.context_samples == 63 * 256
    assert MusicnnConfig(layer="penultimate").frame_shape() == (200,)
    assert MusicnnConfig(model="MSD_vgg", layer="pool5").frame_shape() == (256,)
    assert MusicnnConfig(layer="taggram").labels[:3] == ("guitar", "classical", "slow")
    rebuilt = config_from_params(config_params(config))
    assert rebuilt == config and config_hash(rebuilt) == config_hash(config) and not rebuilt.has_weights()
    assert config_hash(MusicnnConfig(model="MSD_musicnn")) != config_hash(config)
    assert build_config("musicnn", hop_frames=62) == dense
    with pytest.raises(ValueError, match="MTT_vgg has no layer 'max_pool'; choose one of pool5, taggram"):
        MusicnnConfig(model="MTT_vgg")
    with pytest.raises(ValueError, match="unknown musicnn model 'MTT_big'"):
        MusicnnConfig(model="MTT_big")
    with pytest.raises(ValueError, match="hop_frames must be 1..187"):
        MusicnnConfig(hop_frames=200)
    with pytest.raises(MusicnnWeightsError, match="weights_sha256 abc is not musicnn 0.1.0's MTT_musicnn checkpoint"):
        MusicnnConfig(weights_sha256="abc")
    with pytest.raises(MusicnnWeightsError, match="a MTT_musicnn checkpoint .* given for model MSD_musicnn"):
        MusicnnConfig(model="MSD_musicnn", checkpoint=musicnn_weights)


def test_compute_without_weights_is_a_one_line_error():
    with pytest.raises(MusicnnWeightsError, match=r"has no weights loaded: build it with pipeline\.musicnn_options"):
        MusicnnConfig().compute(tone(4.0))


def test_patches_are_centred_on_the_store_grid(musicnn_weights):
    y = tone(7.0)
    log_mel = musicnn_log_mel(y, start=-62, n_frames=62 * 8 + 187)  # frame -62 onwards
    dense = MusicnnConfig(hop_frames=62, checkpoint=musicnn_weights)
    patches = dense.patches(y, 0, 3)
    for i in range(3):  # store frame i: samples [62*256 i, 62*256 (i+1)), patch centred on it
        np.testing.assert_array_equal(patches[i], log_mel[62 * i : 62 * i + 187])
    native = MusicnnConfig(checkpoint=musicnn_weights)
    whole = musicnn_log_mel(y)
    np.testing.assert_array_equal(native.patches(y, 0, 2), np.stack([whole[:187], whole[187:374]]))
    assert native.grid.n_frames(len(y)) == 2 and dense.grid.n_frames(len(y)) == 7


@pytest.mark.parametrize("hop_frames, seconds, block_frames", [(187, 9.5, 1), (62, 4.5, 3)])
def test_chunked_extraction_equals_whole_song(musicnn_weights, hop_frames, seconds, block_frames):
    config = MusicnnConfig(hop_frames=hop_frames, checkpoint=musicnn_weights)
    y = tone(seconds, seed=2)
    whole = config.compute(y)
    assert whole.shape == (config.grid.n_frames(len(y)), 753) and np.isfinite(whole).all()
    blocks = list(iter_feature_blocks(config, y, block_frames=block_frames))
    assert len(blocks) > 1
    chunked = np.concatenate([block for _, block in blocks])
    np.testing.assert_allclose(chunked, whole, rtol=1e-5, atol=1e-4)


def test_a_song_shorter_than_one_patch_is_repeat_padded(musicnn_weights):
    config = MusicnnConfig(layer="taggram", checkpoint=random_checkpoint("MTT_musicnn", seed=3))
    y = tone(1.2)
    out = config.compute(y)
    assert out.shape == (1, 50)  # FrameGrid(min_frames=1): one frame although 1.2 s < 2.99 s
    with torch.inference_mode():
        expected = config.network()(torch.from_numpy(repeat_pad(musicnn_log_mel(y))[None]))["taggram"].numpy()
    np.testing.assert_allclose(out, expected, atol=1e-6)
    assert "repeat-padded it as musicnn does" in config.track_notes(len(y))[0]
    assert config.track_notes(4 * SR) == () and config.track_notes(0) == ()
    dense = MusicnnConfig(hop_frames=62, checkpoint=musicnn_weights)
    rows = dense.compute(tone(2.5))
    assert rows.shape == (2, 753) and np.array_equal(rows[0], rows[1])  # one padded patch, held
    assert config.compute(np.zeros(0, dtype=np.float32)).shape == (0, 50)
    assert config_params(config)["pad_short"] == "repeat-pad"


def test_the_configuration_pickles_with_its_tensors_not_its_networks(musicnn_weights):
    config = MusicnnConfig(checkpoint=musicnn_weights)
    y = tone(3.5)
    before = config.compute(y)
    payload = pickle.dumps(config)
    assert 2_000_000 < len(payload) < 5_000_000  # the 3 MB of weights, not the 9.5 MB file or a module
    again = pickle.loads(payload)
    assert again == config and again.has_weights()
    np.testing.assert_allclose(again.compute(y), before, atol=1e-6)
