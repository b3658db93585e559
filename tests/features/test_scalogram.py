"""CWT scalograms: tone and impulse localisation, chunked = whole, fast = plain, torch = numpy."""

import numpy as np
import pytest
import pywt
import torch

from features.base import FeatureConfig, config_hash
from features.scalogram import ScalogramConfig, plan_cwt, scalogram, scalogram_image
from features.scalogram_torch import TorchScalogram

SR = 22050
HOP = 512


def tone(freq, seconds, amplitude=0.5, sr=SR):
    t = np.arange(int(seconds * sr)) / sr
    return (amplitude * np.cos(2 * np.pi * freq * t)).astype(np.float32)


def test_config_is_a_feature_config_on_the_logmel_grid():
    config = ScalogramConfig()
    assert isinstance(config, FeatureConfig)
    assert config.frame_shape() == (128,)
    assert config.grid.centered and config.grid.hop_length == 512 and config.grid.sr == 22050
    freqs = config.frequencies()
    assert freqs[0] == pytest.approx(32.0) and freqs[-1] == pytest.approx(0.45 * 22050)
    # widest wavelet: about 5.3 periods of 32 Hz each side
    assert 3000 < config.context_samples < 5000
    assert config_hash(config) != config_hash(ScalogramConfig(wavelet="cmor"))


def test_config_validation_messages():
    with pytest.raises(ValueError, match="fmin < fmax < sr/2"):
        ScalogramConfig(fmax=20000.0)
    with pytest.raises(ValueError, match="exactly one"):
        ScalogramConfig(voices_per_octave=12)
    with pytest.raises(ValueError, match="'morse' or 'cmor'"):
        ScalogramConfig(wavelet="haar")
    with pytest.raises(ValueError, match="beta > 0"):
        ScalogramConfig(beta=-1.0)


@pytest.mark.parametrize("n_samples", [0, 1, HOP - 1, HOP, 3 * HOP + 7])
def test_frame_count_follows_the_grid(n_samples):
    config = ScalogramConfig(n_scales=16)
    S = scalogram(np.zeros(n_samples, np.float32), config=config)
    assert S.shape == (config.grid.n_frames(n_samples), 16)
    assert S.dtype == np.float32
    assert np.all(S == pytest.approx(-100.0))  # silence sits on the fixed floor


def test_tone_peaks_at_nearest_scale_with_its_amplitude():
    config = ScalogramConfig()
    S = scalogram(tone(1000.0, 1.0, amplitude=0.5), config=config)
    middle = S[10:-10]
    nearest = int(np.argmin(np.abs(np.log(config.frequencies() / 1000.0))))
    assert np.all(np.argmax(middle, axis=1) == nearest)
    # L1 normalisation: |W| = amplitude at the centre frequency (nearest scale within 0.1 dB)
    np.testing.assert_allclose(middle[:, nearest], 20 * np.log10(0.5), atol=0.15)


def test_impulse_localises_in_time():
    config = ScalogramConfig(n_scales=32)
    y = np.zeros(SR * 2, np.float32)
    frame = 40
    y[frame * HOP] = 1.0
    S = scalogram(y, config=config)
    assert np.all(np.argmax(S, axis=0) == frame)
    # beyond the widest wavelet's support: the floor, except the top scales whose wavelets are
    # cut by Nyquist and ring with slowly decaying tails (still 40 dB down)
    far = frame + config.context_samples // HOP + 2
    assert np.all(S[far:, :-4] == pytest.approx(-100.0))
    assert np.all(S[far:, -4:] < S[frame, -4:] - 40)


def test_morse_cmor_and_pywt_agree_on_a_tone_frequency():
    y = tone(440.0, 0.5)
    morse = ScalogramConfig(wavelet="morse")
    cmor = ScalogramConfig(wavelet="cmor")
    freqs = morse.frequencies()
    peak_morse = freqs[np.argmax(scalogram(y, config=morse)[5:-5].mean(axis=0))]
    peak_cmor = freqs[np.argmax(scalogram(y, config=cmor)[5:-5].mean(axis=0))]
    # PyWavelets' own CWT with cmor1.5-1.0 on scales around the tone
    wavelet = cmor.wavelet_object().pywt_name
    around = freqs[(freqs > 300) & (freqs < 650)]
    scales = pywt.frequency2scale(wavelet, around / SR)
    coefs, _ = pywt.cwt(y, scales, wavelet)
    peak_pywt = around[np.argmax(np.abs(coefs[:, 2000:-2000]).mean(axis=1))]
    step = np.log(freqs[1] / freqs[0])
    for peak in (peak_morse, peak_cmor, peak_pywt):
        assert abs(np.log(peak / 440.0)) <= step / 2 + 1e-9


def reference_scalogram(y, config):
    """Whole-song linear CWT: one FFT of the zero-padded song, full rate, written out plainly."""
    pad = config.context_samples + config.hop_length
    length = 1 << int(np.ceil(np.log2(len(y) + 2 * pad)))
    x = np.zeros(length)
    x[pad : pad + len(y)] = y
    f = np.arange(length // 2 + 1) * config.sr / length
    response = config.wavelet_object().response(f[None, :] / config.frequencies()[:, None])
    W = np.fft.ifft(np.fft.rfft(x)[None, :] * response, n=length, axis=-1)
    n_frames = config.grid.n_frames(len(y))
    out = np.empty((n_frames, len(config.frequencies())))
    for i in range(n_frames):
        start = pad + i * config.hop_length - config.hop_length // 2
        out[i] = np.abs(W[:, start : start + config.hop_length]).mean(axis=1)
    return 20 * np.log10(np.maximum(out, config.amin))


def test_chunked_equals_whole_song():
    config = ScalogramConfig(n_scales=24)
    rng = np.random.default_rng(1)
    y = (0.1 * rng.standard_normal(SR * 3) + tone(300.0, 3)).astype(np.float32)
    whole = reference_scalogram(y, config)
    # small blocks: many block boundaries inside the song
    plan = plan_cwt(config, block_length=1 << 14, method="plain")
    assert plan.frames_per_block * HOP < len(y) / 2
    chunked = scalogram(y, config=config, method="plain", block_length=1 << 14)
    # everywhere, edges included; the top scales (cut by Nyquist, long faint tails) to 0.05 dB
    np.testing.assert_allclose(chunked[:, :-3], whole[:, :-3], atol=2e-3)
    np.testing.assert_allclose(chunked, whole, atol=5e-2)
    chunked_fast = scalogram(y, config=config, block_length=1 << 14)
    big_blocks = scalogram(y, config=config, block_length=1 << 18)
    np.testing.assert_allclose(chunked_fast[:, :-3], big_blocks[:, :-3], atol=2e-3)
    np.testing.assert_allclose(chunked_fast, big_blocks, atol=5e-2)


def test_multirate_matches_plain_transform():
    config = ScalogramConfig()
    rng = np.random.default_rng(0)
    t = np.arange(SR * 6) / SR
    gated = 0.5 * np.sin(2 * np.pi * 440 * t) * (t % 1 < 0.5)
    y = (0.1 * rng.standard_normal(len(t)) + gated + 0.3 * np.sin(2 * np.pi * 60 * t)).astype(np.float32)
    fast = scalogram(y, config=config)
    plain = scalogram(y, config=config, method="plain")
    error = np.abs(fast - plain)
    assert error.mean() < 0.1
    assert np.percentile(error, 99) < 0.5
    assert error.max() < 1.0
    assert np.corrcoef(fast.ravel(), plain.ravel())[0, 1] > 0.999
    assert len(plan_cwt(config).groups) > 2  # it did decimate


def test_single_thread_equals_thread_pool():
    config = ScalogramConfig(n_scales=40)
    y = np.random.default_rng(2).standard_normal(SR).astype(np.float32)
    np.testing.assert_array_equal(scalogram(y, config=config, workers=1), scalogram(y, config=config, workers=2))


@pytest.mark.parametrize("method", ["multirate", "plain"])
def test_torch_cpu_equals_numpy(method):
    config = ScalogramConfig(n_scales=48)
    y = np.random.default_rng(3).standard_normal((2, SR + 333)).astype(np.float32)
    module = TorchScalogram(config, method=method, block_length=1 << 15, blocks_per_batch=3)
    batch = module(torch.from_numpy(y)).numpy()
    expected = np.stack([scalogram(clip, config=config, method=method, block_length=1 << 15) for clip in y])
    assert batch.shape == expected.shape
    np.testing.assert_allclose(batch, expected, atol=1e-3)
    np.testing.assert_allclose(module(torch.from_numpy(y[1])).numpy(), expected[1], atol=1e-3)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_torch_cuda_equals_numpy():
    config = ScalogramConfig()
    y = np.random.default_rng(4).standard_normal((3, 5 * SR)).astype(np.float32)
    module = TorchScalogram(config).to("cuda")
    batch = module(torch.from_numpy(y).cuda()).cpu().numpy()
    expected = np.stack([scalogram(clip, config=config) for clip in y])
    np.testing.assert_allclose(batch, expected, atol=2e-2)


def test_scalogram_image():
    ramp = np.tile(np.arange(300, dtype=np.float32)[:, None], (1, 128))
    image = scalogram_image(ramp, shape=(128, 128))
    assert image.shape == (128, 128) and image.dtype == np.float32
    assert image.mean() == pytest.approx(ramp.mean(), rel=1e-6)  # area averaging keeps the mean
    assert np.all(np.diff(image[:, 0]) > 0)
    np.testing.assert_allclose(scalogram_image(np.full((50, 64), -3.0)), -3.0)  # upsampling too
    with pytest.raises(ValueError, match="non-empty"):
        scalogram_image(np.zeros((0, 128)))


def test_registry_builds_and_rebuilds_scalogram():
    from features.base import config_params
    from features.registry import build_config, config_from_params

    config = build_config("scalogram", n_scales=64, wavelet="cmor")
    assert config == ScalogramConfig(n_scales=64, wavelet="cmor")
    assert config_from_params(config_params(config)) == config
