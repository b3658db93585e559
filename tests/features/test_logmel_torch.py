"""The torch log-mel equals the numpy one (both presets), batch by batch, on CPU and CUDA."""

import numpy as np
import pytest
import torch

from features.logmel import LogMelConfig, logmel
from features.logmel_torch import TorchLogMel


def clips(config: LogMelConfig, n: int = 3, seconds: float = 1.3) -> np.ndarray:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * config.sr)) / config.sr
    tones = [0.5 * np.sin(2 * np.pi * f * t) for f in (220.0, 1000.0, 3000.0)[:n]]
    return np.stack([tone + 0.01 * rng.standard_normal(len(t)) for tone in tones]).astype(np.float32)


@pytest.mark.parametrize("config", [LogMelConfig(), LogMelConfig.vggish(), LogMelConfig(n_mels=64, hop_length=256)],
                         ids=["logmel", "vggish", "64-mels"])
def test_torch_cpu_equals_numpy(config):
    y = clips(config)
    expected = np.stack([logmel(clip, config=config) for clip in y])
    batch = TorchLogMel(config)(torch.from_numpy(y)).numpy()
    assert batch.shape == expected.shape == (3, config.grid.n_frames(y.shape[1]), config.n_mels)
    np.testing.assert_allclose(batch, expected, atol=2e-3 if config.scale == "db" else 2e-4)
    np.testing.assert_allclose(TorchLogMel(config)(torch.from_numpy(y[1])).numpy(), batch[1], atol=1e-5)


def test_silence_sits_on_the_fixed_floor():
    out = TorchLogMel()(torch.zeros(2, 22050))
    assert torch.all(out == LogMelConfig().floor_db)


def test_rejects_a_batch_of_stereo_clips():
    with pytest.raises(ValueError, match="expected"):
        TorchLogMel()(torch.zeros(2, 2, 22050))


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torch_cuda_equals_numpy():
    config = LogMelConfig()
    y = clips(config)
    expected = np.stack([logmel(clip, config=config) for clip in y])
    batch = TorchLogMel(config).cuda()(torch.from_numpy(y).cuda()).cpu().numpy()
    np.testing.assert_allclose(batch, expected, atol=1e-2)
