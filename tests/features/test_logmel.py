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


def test_agrees_with_librosa_power_to_db_fixed_ref():
    config = LogMelConfig()
    y = tone(config.sr, 1.0)
    ref = librosa.power_to_db(
        librosa.feature.melspectrogram(y=y, sr=config.sr, n_fft=2048, hop_length=512, n_mels=128, pad_mode="constant"),
        ref=1.0, amin=1e-10, top_db=None,
    ).T
    np.testing.assert_allclose(logmel(y, config=config), np.maximum(ref, -100.0), atol=1e-3)


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
