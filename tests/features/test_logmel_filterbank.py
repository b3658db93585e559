"""The numpy mel filterbank, window and framing of features.logmel against librosa's definitions."""

import librosa
import numpy as np
import pytest

from features.logmel import LogMelConfig, fft_window, hz_to_mel, logmel, mel_to_hz

CONFIGS = [
    LogMelConfig(),
    LogMelConfig.vggish(),
    LogMelConfig(sr=16000, n_fft=1024, hop_length=256, n_mels=40, fmin=30.0, fmax=7000.0),
    LogMelConfig(n_fft=1024, win_length=700, window="hamming", htk=True, power=1.0, ref=2.0),
    LogMelConfig(n_fft=512, hop_length=128, n_mels=32, window="blackman"),
]


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.name}-{c.n_fft}-{c.window}-{c.htk}")
def test_filterbank_and_window_equal_librosa(config):
    expected = librosa.filters.mel(sr=config.sr, n_fft=config.n_fft, n_mels=config.n_mels, fmin=config.fmin,
                                   fmax=config.fmax, htk=config.htk, norm=config.norm)
    basis = config.mel_basis()
    assert basis.dtype == np.float32 and basis.shape == expected.shape
    np.testing.assert_allclose(basis, expected, rtol=1e-6, atol=1e-7 * expected.max())
    window = librosa.util.pad_center(
        librosa.filters.get_window(config.window, config.win_length or config.n_fft, fftbins=True), size=config.n_fft
    )
    np.testing.assert_allclose(fft_window(config), window, atol=1e-12)


@pytest.mark.parametrize("htk", [False, True])
def test_mel_scale_matches_librosa_and_inverts(htk):
    hz = np.array([0.0, 20.0, 440.0, 999.0, 1000.0, 1001.0, 8000.0, 11025.0])
    np.testing.assert_allclose(hz_to_mel(hz, htk=htk), librosa.hz_to_mel(hz, htk=htk), rtol=1e-12)
    np.testing.assert_allclose(mel_to_hz(hz_to_mel(hz, htk=htk), htk=htk), hz, atol=1e-9)


@pytest.mark.parametrize("config", CONFIGS, ids=lambda c: f"{c.name}-{c.n_fft}-{c.window}-{c.htk}")
def test_logmel_equals_librosa_pipeline_on_noisy_audio(config):
    rng = np.random.default_rng(3)
    y = (0.2 * rng.standard_normal(int(config.sr * 1.7))).astype(np.float32)
    y[: config.sr // 4] = 0.0  # a silent start exercises the floor
    stft = librosa.stft(y, n_fft=config.n_fft, hop_length=config.hop_length, win_length=config.win_length,
                        window=config.window, center=True, pad_mode="constant")
    mel = librosa.filters.mel(sr=config.sr, n_fft=config.n_fft, n_mels=config.n_mels, fmin=config.fmin,
                              fmax=config.fmax, htk=config.htk, norm=config.norm) @ (np.abs(stft) ** config.power)
    if config.scale == "log_offset":
        expected = np.log(mel + config.log_offset)
    else:
        expected = np.maximum(10 * np.log10(np.maximum(mel, config.amin) / config.ref), config.floor_db)
    out = logmel(y, config=config)
    assert out.shape == (config.grid.n_frames(len(y)), config.n_mels) and out.dtype == np.float32
    np.testing.assert_allclose(out, expected.T, atol=1e-3)
