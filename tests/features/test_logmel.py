import librosa
import numpy as np
import pytest

from features.base import config_hash
from features.logmel import LogMelConfig, logmel


def tone(sr, seconds, freq=440.0):
    t = np.arange(int(sr * seconds)) / sr
    return (0.5 * np.sin(2 * np.pi * freq * t)).astype(np.float32)


def test_shape_matches_grid():
    config = LogMelConfig()
    y = tone(config.sr, 1.3)
    S = logmel(y, config=config)
    assert S.shape == (config.grid.n_frames(len(y)), 128)
    assert S.dtype == np.float32


def librosa_logmel(y, sr):
    return librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=sr, n_fft=2048, hop_length=512, n_mels=128, pad_mode="constant"),
        ref=1.0, amin=1e-10, top_db=None,
    ).T


def test_float64_fft_agrees_with_librosa_everywhere():
    config = LogMelConfig(fft_dtype="float64")
    y = tone(config.sr, 1.0)
    ref = np.maximum(librosa_logmel(y, config.sr), -100.0)
    np.testing.assert_allclose(logmel(y, config=config), ref, atol=1e-3)


def test_float32_fft_agrees_with_librosa_within_storage_precision():
    config = LogMelConfig()
    assert config.fft_dtype == "float32"
    # a pure tone: exact where bands are within 60 dB of the peak; FFT round-off only moves
    # bands ~100 dB below it, by a fraction of a dB
    y = tone(config.sr, 1.0)
    ref = np.maximum(librosa_logmel(y, config.sr), -100.0)
    ours = logmel(y, config=config)
    loud = ref > ref.max() - 60
    np.testing.assert_allclose(ours[loud], ref[loud], atol=5e-3)
    assert np.abs(ours - ref).max() < 0.3
    # anything with a noise floor (every recording) agrees everywhere
    noisy = y + 1e-3 * np.random.default_rng(0).standard_normal(len(y)).astype(np.float32)
    np.testing.assert_allclose(logmel(noisy, config=config), np.maximum(librosa_logmel(noisy, config.sr), -100.0),
                               atol=1e-3)


def test_fft_dtype_is_part_of_the_feature_hash():
    assert config_hash(LogMelConfig()) != config_hash(LogMelConfig(fft_dtype="float64"))
    with pytest.raises(ValueError, match="fft_dtype"):
        LogMelConfig(fft_dtype="float16")


def test_no_per_song_normalisation():
    config = LogMelConfig()
    y = tone(config.sr, 1.0)
    # 6 dB quieter signal is 6 dB lower everywhere above the floor, not re-normalised to 0 dB
    diff = logmel(y, config=config) - logmel(y / 2, config=config)
    peak = logmel(y, config=config) > -60
    np.testing.assert_allclose(diff[peak], 10 * np.log10(4), atol=1e-2)


def test_vggish_preset_and_hash_changes_with_params():
    vg = LogMelConfig.vggish()
    assert (vg.sr, vg.hop_length, vg.n_mels) == (16000, 160, 64)
    assert config_hash(LogMelConfig()) != config_hash(LogMelConfig(n_mels=64))
    assert config_hash(LogMelConfig()) == config_hash(LogMelConfig())


def test_bad_parameters_fail_early():
    with pytest.raises(ValueError, match="fmax"):
        LogMelConfig(fmin=9000, fmax=8000)
