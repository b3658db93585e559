"""VGGish's own input frames as a feature set (vggish-input), and the per-process weights cache."""

import hashlib

import numpy as np
import pytest
import torch

from features.registry import build_config, config_from_params
from features.base import config_params
from features.vggish import VGGishInputConfig, random_vggish, vggish_examples, vggish_log_mel
from features.vggish_weights import CheckpointCache, VGGishCheckpoint, VGGishWeightsError
from pipeline.extraction.extract import iter_feature_blocks

SR = 16000


def _audio(seconds: float, seed: int = 0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    noise = 0.05 * np.random.default_rng(seed).standard_normal(t.size)
    return (0.3 * np.sin(2 * np.pi * 440 * t) + noise).astype(np.float32)


def test_frames_cut_into_examples_equal_vggish_examples():
    y = _audio(2.5)
    frames = VGGishInputConfig().compute(y)
    assert frames.shape == (len(y) // 160, 64)
    examples = vggish_examples(y)
    assert examples.shape == (2, 96, 64)
    np.testing.assert_array_equal(frames[: 2 * 96].reshape(2, 96, 64), examples)


def test_chunked_equals_whole_song():
    config = VGGishInputConfig()
    y = _audio(3.3, seed=1)
    whole = config.compute(y)
    blocks = list(iter_feature_blocks(config, y, block_frames=64))
    assert [start for start, _ in blocks] == list(range(0, len(whole), 64))
    np.testing.assert_allclose(np.concatenate([b for _, b in blocks]), whole, rtol=1e-5, atol=1e-5)


def test_grid_registry_and_params():
    config = build_config("vggish-input")
    assert config == VGGishInputConfig() and config_from_params(config_params(config)) == config
    assert config.grid.n_frames(16000) == 100 and config.grid.hop_s == pytest.approx(0.01)
    assert vggish_log_mel(np.zeros(100, np.float32)).shape == (0, 64)
    with pytest.raises(ValueError, match="16 kHz"):
        VGGishInputConfig(sr=22050)


def test_checkpoint_cache_is_content_addressed(tmp_path):
    made = [VGGishCheckpoint(state_dict={}, sha256=c * 64, source=f"{c}.pth") for c in "abc"]
    cache = CheckpointCache(maxsize=2)
    for checkpoint in made:
        cache.put(checkpoint)
    assert len(cache) == 2
    assert cache.load("b" * 64, tmp_path / "absent.pth") is made[1]  # hit by sha256: nothing is read
    with pytest.raises(VGGishWeightsError, match="absent.pth: cannot read"):
        cache.load("a" * 64, tmp_path / "absent.pth")  # evicted (least recently used): read again
    path = tmp_path / "w.pth"
    torch.save(random_vggish(seed=1).state_dict(), path)
    with pytest.raises(VGGishWeightsError, match="w.pth: sha256 .* is not the"):
        cache.load("a" * 64, path)
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    assert cache.load(sha, path).sha256 == sha and len(cache) == 2
